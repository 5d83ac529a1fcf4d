"""The console script imports only what a command uses (issue 15 point 4): ``qnodeos --help`` and
``qnodeos drivers`` load no simulation, numerics, plotting, web or database library, and an application
run loads no plotting, web or database library. Each check runs in a fresh interpreter (``sys.modules``
of this test process holds everything the suite imported)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import netqasm
import pytest

TELEPORT = Path(netqasm.__file__).parent / "examples" / "apps" / "teleport"
#: Never needed to print help or list drivers.
HEAVY = ("numpy", "scipy", "netqasm", "matplotlib", "fastapi", "starlette", "uvicorn", "sqlalchemy", "pydantic",
         "zmq", "pyvisa", "serial", "yaml", "msgpack", "PIL", "pytest")
#: Never needed to run an application (plotting, the job service, lab instruments).
NOT_FOR_RUNS = ("matplotlib", "fastapi", "starlette", "uvicorn", "sqlalchemy", "pydantic", "pyvisa", "serial", "PIL",
                "pytest", "rich")


def loaded_after(argv: list[str], watch: tuple[str, ...]) -> tuple[int, list[str]]:
    """Exit code of ``qnodeos ARGV`` run in a fresh interpreter, and which of ``watch`` it imported."""
    code = ("import contextlib, io, json, sys\nfrom qnodeos.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
            f"    code = main({argv!r})\n"
            f"print(json.dumps([code, sorted(m for m in {watch!r} if m in sys.modules)]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    code_, modules = json.loads(done.stdout.splitlines()[-1])
    return code_, modules


#: What only ``qnodeos drivers`` needs: the plugin machinery (entry points, pluggy) and the table.
PLUGINS = ("pluggy", "importlib.metadata", "qnodeos.hal.registry", "rich")


@pytest.mark.parametrize("argv", [["--help"], ["drivers"], ["drivers", "--json"], ["run", "--help"]],
                         ids=lambda argv: " ".join(argv))
def test_help_and_drivers_import_no_heavy_library(argv):
    code, modules = loaded_after(argv, HEAVY + PLUGINS)
    assert code == 0
    if argv[0] == "drivers":  # it lists the installed plugins: their machinery, and nothing heavy
        assert set(modules) <= set(PLUGINS) and "qnodeos.hal.registry" in modules
    else:
        assert modules == []


def test_an_application_run_imports_no_plotting_web_or_database_library():
    code, modules = loaded_after(["run", str(TELEPORT), "--mode", "threads", "--seed", "1", "--json", "--no-logs"],
                                 NOT_FOR_RUNS + ("netqasm",))
    assert code == 0
    assert modules == ["netqasm"]  # the SDK it runs, and none of the others


def test_the_hal_package_loads_its_parts_on_first_use():
    code = ("import sys\nimport qnodeos.hal.errors\nassert 'pluggy' not in sys.modules\n"
            "assert 'qnodeos.hal.instructions' not in sys.modules\n"
            "from qnodeos.hal import Axis, Rotate, hookimpl\nassert 'pluggy' in sys.modules\n"
            "import qnodeos.hal as hal\nassert hal.Rotate is Rotate and 'Axis' in dir(hal)\n"
            "try:\n    hal.NoSuchThing\nexcept AttributeError as exc:\n    assert 'NoSuchThing' in str(exc)\n"
            "else:\n    raise SystemExit('an unknown name did not raise')\nprint('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr

"""`qnodeos drivers`: the console script in a subprocess, and ``main()`` in-process for speed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from qnodeos.cli import COMMANDS, main
from qnodeos.hal import DriverInfo, hookimpl

pytestmark = pytest.mark.usefixtures("plugin_packages")

GOOD = {"mock-nv", "mock-trapped-ion", "example-ideal"}
BROKEN = {"broken-import", "broken-hook", "broken-raises", "broken-type", "broken-duplicate"}


def _script() -> Path:
    """The installed ``qnodeos`` console script of the interpreter running the tests."""
    name = "qnodeos.exe" if os.name == "nt" else "qnodeos"
    path = Path(sysconfig.get_path("scripts")) / name
    if not path.exists():
        path = Path(sys.executable).parent / name
    assert path.exists(), f"console script not installed at {path}"
    return path


def run_script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("QNODEOS_DRIVERS_")}
    environ.update(env)
    return subprocess.run([str(_script()), *args], capture_output=True, text=True, env=environ, timeout=60)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QNODEOS_DRIVERS_ALLOW", raising=False)
    monkeypatch.delenv("QNODEOS_DRIVERS_BLOCK", raising=False)


def test_drivers_is_a_registered_command() -> None:
    assert "drivers" in COMMANDS


# -- console script (subprocess) ---------------------------------------------------------------------

def test_script_json_lists_drivers_and_problems() -> None:
    proc = run_script("drivers", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    rows = {row["name"]: row for row in report["drivers"]}
    assert GOOD <= set(rows)
    assert all(rows[n]["status"] == "loaded" for n in GOOD)
    assert rows["example-ideal"]["origin"] == "qnodeos-example-driver 0.1.0 (entry point example-ideal)"
    assert rows["mock-nv"]["platform"] == "nv"
    problems = {p["name"] for p in report["problems"]}
    assert BROKEN <= problems and not GOOD & problems
    assert all(p["message"] and p["kind"] for p in report["problems"])


def test_script_table_shows_drivers_blocked_and_problems() -> None:
    proc = run_script("drivers", QNODEOS_DRIVERS_BLOCK="mock-trapped-ion")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for name in GOOD | BROKEN:
        assert name in out
    assert "qnodeos-example-driver 0.1.0 (entry point example-ideal)" in out
    [row] = [line for line in out.splitlines() if "mock-trapped-ion" in line and "│" in line]
    assert "blocked" in row
    problems = out[out.index("problems"):]
    assert "broken-raises [hook-error]" in problems and "RuntimeError" in problems
    assert "broken-import [import]" in problems and "qnodeos_nonexistent_vendor_sdk" in problems
    assert "Traceback" not in proc.stderr


def test_script_describe_unknown_driver_is_a_one_line_error() -> None:
    proc = run_script("drivers", "--describe", "no-such-driver")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "no-such-driver" in lines[0] and "error" in lines[0]


# -- in-process main() -------------------------------------------------------------------------------

def test_main_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drivers", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert GOOD <= {r["name"] for r in report["drivers"] if r["status"] == "loaded"}
    kinds = {p["name"]: p["kind"] for p in report["problems"]}
    assert kinds.items() >= {"broken-import": "import", "broken-hook": "validation", "broken-raises": "hook-error",
                             "broken-type": "bad-return", "broken-duplicate": "duplicate"}.items()


def test_main_json_reports_blocked_with_reason(monkeypatch, capsys) -> None:
    monkeypatch.setenv("QNODEOS_DRIVERS_ALLOW", "example-*")
    assert main(["drivers", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["drivers"]}
    assert rows["example-ideal"]["status"] == "loaded"
    assert rows["mock-nv"]["status"] == "blocked"
    assert "QNODEOS_DRIVERS_ALLOW" in rows["mock-nv"]["reason"]


def test_main_exits_1_when_no_driver_loads(monkeypatch, capsys) -> None:
    monkeypatch.setenv("QNODEOS_DRIVERS_BLOCK", "*")
    assert main(["drivers"]) == 1
    captured = capsys.readouterr()
    assert "no driver loaded" in captured.err
    assert "blocked" in captured.out


def test_main_describe_example_driver(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drivers", "--describe", "example-ideal"]) == 0
    caps = json.loads(capsys.readouterr().out)  # strict JSON: no Infinity
    assert (caps["name"], caps["platform"], caps["tick_ns"]) == ("example-ideal", "generic", 1000)
    assert len(caps["qubits"]) == 2 and caps["qubits"][0]["t1_ns"] == "inf"
    assert {op["name"] for op in caps["operations"]} == {"init", "rotate", "measure"}


def test_main_describe_output_round_trips_through_capabilities(capsys) -> None:
    from qnodeos.hal import Capabilities
    from qnodeos.hal.registry import DriverRegistry

    assert main(["drivers", "--describe", "example-ideal"]) == 0
    caps = Capabilities.from_dict(json.loads(capsys.readouterr().out))
    assert caps == DriverRegistry.load(environ={}).create("example-ideal").capabilities


@pytest.mark.parametrize("name, words", [
    ("no-such-driver", ["unknown driver 'no-such-driver'", "example-ideal"]),
    ("broken-raises", ["broken-raises", "licence server"]),
])
def test_main_describe_unknown(capsys, name: str, words: list[str]) -> None:
    assert main(["drivers", "--describe", name]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("qnodeos drivers: error: ")
    for word in words:
        assert word in err


def test_main_describe_blocked(monkeypatch, capsys) -> None:
    monkeypatch.setenv("QNODEOS_DRIVERS_BLOCK", "example-*")
    assert main(["drivers", "--describe", "example-ideal"]) == 2
    assert "blocked" in capsys.readouterr().err


def test_main_describe_creation_failure_is_reported(monkeypatch, capsys) -> None:
    from qnodeos.hal.registry import DriverRegistry

    real_load = DriverRegistry.load

    def load_with_failing_driver(*args, **kwargs):
        registry = real_load(*args, **kwargs)
        registry.register(_FailingPlugin(), name="failing-plugin")
        return registry

    monkeypatch.setattr(DriverRegistry, "load", load_with_failing_driver)
    assert main(["drivers", "--describe", "failing"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "'failing'" in err and "could not be created" in err and "OSError: no such device" in err


def test_main_usage_errors_exit_2(capsys) -> None:
    assert main([]) == 2
    assert main(["no-such-command"]) == 2
    assert "usage" in capsys.readouterr().err
    assert main(["--version"]) == 0


class _FailingPlugin:
    """Provides a driver whose factory fails like real hardware that is not plugged in."""

    @hookimpl
    def qnodeos_drivers(self) -> list[DriverInfo]:
        def create(**config):
            raise OSError("no such device /dev/qdev0")

        return [DriverInfo("failing", "0", "generic", create)]

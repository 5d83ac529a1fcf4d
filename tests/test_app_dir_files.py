"""Application directories (issue 10 items 10 and 11): every file is checked before anything runs and a
problem is one line naming the file and the field (no traceback, no role that silently vanishes);
application code that fails to import, exits or lacks ``main`` is one line naming the file in both
modes; ``sys.exit`` in ``main`` is that role's error; the runner never unloads a library that happens
to live inside the application directory (its own virtualenv)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import qnodeos.apps.runner
from qnodeos.apps.app_files import AppDirError
from qnodeos.apps.runner import run_app_dir
from qnodeos.cli import main

MAIN = "def main(app_config=None, x=1):\n    return {'x': x}\n"


def make_app(root: Path, files: dict[str, str | bytes]) -> Path:
    """An application directory with roles alice and bob, plus ``files`` (name -> content)."""
    root.mkdir(exist_ok=True)
    for name, content in {"app_alice.py": MAIN, "app_bob.py": MAIN, **files}.items():
        path = root / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return root


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def nothing_runs(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a run started although the directory is malformed")

    monkeypatch.setattr(qnodeos.apps.runner, "run_app_dir", refuse)


BAD_FILES = [
    ({"alice.yaml": "- 1\n- 2\n"}, "alice.yaml: expected a mapping of input names to values, got a list"),
    ({"alice.yaml": "just words\n"}, "alice.yaml: expected a mapping of input names to values, got a string"),
    ({"alice.yaml": "bad-name: 1\n"}, "alice.yaml: input 'bad-name' is not a parameter name of main()"),
    ({"alice.yaml": "7: 1\n"}, "alice.yaml: input 7 is not a parameter name of main()"),
    ({"alice.yaml": "x: [1, 2\ny: 3\n"}, "alice.yaml: invalid YAML (line 2, column 2): expected ',' or ']'"),
    ({"alice.yaml": b"x: \xff\xfe\n"}, "alice.yaml: not UTF-8 text"),
    ({"roles.yaml": "- alice\n- bob\n"}, "roles.yaml: expected a mapping of roles to node names, got a list"),
    ({"roles.yaml": "alice: n1\nmallory: n2\n"}, "roles.yaml: 'mallory' is not a role of this directory"),
    ({"roles.yaml": "alice: 5\n"}, "roles.yaml: alice: the node name must be a string, got a number (5)"),
    ({"roles.yaml": "alice: ../n1\n"}, "roles.yaml: alice: node name '../n1' would leave the key directory"),
    ({"roles.yaml": "alice: {node: n1\n"}, "roles.yaml: invalid YAML (line 2, column 1)"),
    ({"network.yaml": "- node\n"}, "network.yaml: expected a mapping of network settings, got a list"),
    ({"network.yaml": "nodes: [\n"}, "network.yaml: invalid YAML"),
    ({"app_bob.py": "def main(app_config=None) return 1\n"}, "app_bob.py: syntax error on line 1: expected ':'"),
    ({"app_bob.py": b"x = 1\x00\n"}, "app_bob.py: not Python source"),
]


@pytest.mark.parametrize("mode", ["threads", "processes"])
@pytest.mark.parametrize("files, message", BAD_FILES, ids=[m.split(":")[0] + ":" + m.split(":")[-1][:25]
                                                            for _, m in BAD_FILES])
def test_a_malformed_file_is_one_line_naming_it_before_anything_runs(tmp_path, capsys, nothing_runs, files, message,
                                                                      mode):
    app = make_app(tmp_path / "app", files)
    assert main(["run", str(app), "--mode", mode, "--no-logs"]) == 2
    captured = capsys.readouterr()
    assert one_error_line(captured.err).startswith(f"qnodeos run: error: {message}"), captured.err
    assert captured.out == ""


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_the_python_api_refuses_the_same_files_in_both_modes(tmp_path, mode):
    app = make_app(tmp_path / "app", {"alice.yaml": "- 1\n"})
    with pytest.raises(AppDirError, match="alice.yaml: expected a mapping"):
        run_app_dir(app, "nv", mode=mode, timeout_s=30)
    assert not (app / "log").exists()


#: netqasm's network.yaml format: one node, no links (read and honoured, see tests/test_app_network_file.py)
NETWORK_YAML = ("nodes:\n  - name: n1\n    gate_fidelity: 1.0\n    qubits:\n"
                + "".join(f"      - {{id: {i}, t1: 0, t2: 0}}\n" for i in range(5)) + "links: []\n")


def test_well_formed_files_are_used(tmp_path, capsys):
    app = make_app(tmp_path / "app", {"alice.yaml": "x: 5\n", "roles.yaml": "alice: n1\nbob: n1\n",
                                      "network.yaml": NETWORK_YAML})
    run = run_app_dir(app, "nv", mode="threads", timeout_s=30)
    assert run.ok and run.results == {"alice": {"x": 5}, "bob": {"x": 1}}
    assert set(run.stats) == {"n1"}


IMPORT_FAILURES = [
    ("import no_such_module_here\n" + MAIN,
     "app_bob.py: importing it failed: ModuleNotFoundError: No module named 'no_such_module_here'"),
    ("x = 1\n", "app_bob.py has no main() function"),
    ("main = 3\n", "app_bob.py has no main() function"),
    ("import sys\nsys.exit(3)\n" + MAIN, "app_bob.py: importing it called sys.exit(3)"),
    ("raise RuntimeError('broken at import')\n" + MAIN, "app_bob.py: importing it failed: RuntimeError: broken at import"),
    ("from helper import thing\n" + MAIN, "app_bob.py: importing it failed: syntax error in helper.py on line 1"),
]


@pytest.mark.parametrize("mode", ["threads", "processes"])
@pytest.mark.parametrize("source, message", IMPORT_FAILURES, ids=[m.split(": ")[-1][:30] for _, m in IMPORT_FAILURES])
def test_application_code_that_does_not_import_is_one_line_naming_the_file(tmp_path, capsys, mode, source, message):
    app = make_app(tmp_path / "app", {"app_bob.py": source, "helper.py": "thing = (\n"})
    assert main(["run", str(app), "--mode", mode, "--no-logs"]) == 2
    captured = capsys.readouterr()
    assert one_error_line(captured.err).startswith(f"qnodeos run: error: {message}"), captured.err


def test_debug_shows_where_an_import_failed(tmp_path):
    app = make_app(tmp_path / "app", {"app_bob.py": "import no_such_module_here\n" + MAIN})
    proc = subprocess.run([sys.executable, "-m", "qnodeos.cli", "run", str(app), "--mode", "threads", "--no-logs",
                           "--debug"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr and 'app_bob.py", line 1' in proc.stderr, proc.stderr


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_sys_exit_in_main_is_that_roles_error(tmp_path, capsys, mode):
    app = make_app(tmp_path / "app", {"app_bob.py": "import sys\n\ndef main(app_config=None):\n    sys.exit(4)\n"})
    assert main(["run", str(app), "--mode", mode, "--no-logs", "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["results"] == {"alice": {"x": 1}, "bob": None}
    assert result["errors"] == {"bob": "main() called sys.exit(4)"}


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="needs the tests to run in a virtualenv")
def test_an_application_directory_holding_its_own_virtualenv_runs(tmp_path):
    """The interpreter runs from ``APP_DIR/venv`` (a link to this virtualenv: numpy is then loaded from
    under the application directory), as when a lab keeps its environment next to its application."""
    app = make_app(tmp_path / "app", {"app_bob.py": "import numpy as np\n\ndef main(app_config=None):\n"
                                                    "    return {'sum': int(np.arange(4).sum())}\n"})
    (app / "venv").symlink_to(sys.prefix, target_is_directory=True)
    python = app / "venv" / "bin" / Path(sys.executable).name
    check = subprocess.run([str(python), "-c", "import numpy; print(numpy.__file__)"], capture_output=True, text=True)
    assert check.stdout.startswith(str(app)), check  # numpy really lives under the application directory
    proc = subprocess.run([str(python), "-m", "qnodeos.cli", "run", str(app), "--mode", "threads", "--no-logs",
                           "--json"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": ""})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["results"]["bob"] == {"sum": 6}


@pytest.mark.parametrize("where", ["missing-dir/t.json", "."])
def test_trace_path_of_an_application_run_is_checked_before_the_run(tmp_path, capsys, nothing_runs, where):
    app = make_app(tmp_path / "app", {})
    assert main(["run", str(app), "--trace", str(tmp_path / where), "--no-logs"]) == 2
    captured = capsys.readouterr()
    assert "--trace" in one_error_line(captured.err) and captured.out == ""

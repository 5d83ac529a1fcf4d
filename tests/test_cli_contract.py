"""`qnodeos run` never ignores what it is told (issue 12 point 1; issue 10 items 10 and 11, CLI part):
options of the other kind of run are refused by name, unknown roles and inputs before anything
starts, time-outs are options, --json is one JSON document on stdout, the CLI and the Python API share
their defaults, --log-level/--debug, and bad values or output paths are one-line errors before a run."""
from __future__ import annotations

import inspect
import json
import subprocess
import sys
import time
from pathlib import Path

import netqasm
import pytest

import qnodeos.apps.runner
import qnodeos.node
from qnodeos.apps import defaults
from qnodeos.apps.runner import run_app_dir as REAL_RUN_APP_DIR
from qnodeos.cli import main

from os_helpers import X_MEASURE

TELEPORT = Path(netqasm.__file__).parent / "examples" / "apps" / "teleport"
OWN_APPS = Path(__file__).parent / "apps"


@pytest.fixture
def program(tmp_path) -> Path:
    path = tmp_path / "x.nqasm"
    path.write_text(X_MEASURE)
    return path


@pytest.fixture
def nothing_runs(monkeypatch):
    """Fail the test if a network or a node is started."""
    def refuse(*args, **kwargs):
        raise AssertionError("a run started although the command line was wrong")

    monkeypatch.setattr(qnodeos.apps.runner, "run_app_dir", refuse)
    monkeypatch.setattr(qnodeos.node.Node, "__init__", refuse)


@pytest.fixture
def solo_app(tmp_path) -> Path:
    """One role that prints and returns, or raises when told to."""
    app = tmp_path / "solo"
    app.mkdir()
    (app / "app_solo.py").write_text(
        "def main(app_config=None, fail=False, *, word='hello'):\n"
        "    print('application says', word)\n"
        "    if fail:\n"
        "        raise RuntimeError('solo fails on purpose')\n"
        "    return {'word': word}\n")
    return app


def cli(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qnodeos.cli", *argv], capture_output=True, text=True,
                          timeout=timeout)


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and "Traceback" not in err, err
    return lines[-1]


# ---- options of the other kind of run ------------------------------------------------------------
@pytest.mark.parametrize("extra, named", [
    (["--driver", "mock-nv"], "--driver"),
    (["--config", "/nonexistent"], "--config"),
    (["--processes", "5"], "--processes"),
    (["--flavour", "nv"], "--flavour"),
    (["--host-delay-us", "3"], "--host-delay-us"),
    (["--trace-rows", "3"], "--trace-rows"),
    (["--max-instructions", "3"], "--max-instructions"),
])
def test_program_options_are_refused_for_an_application_directory(capsys, nothing_runs, extra, named):
    assert main(["run", str(TELEPORT), *extra]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert named in line and "application directory" in line


def test_every_wrong_option_is_named_at_once(capsys, nothing_runs):
    assert main(["run", str(TELEPORT), "--driver", "X", "--trace-rows", "3", "--config", "/nonexistent",
                 "--processes", "5"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert all(flag in line for flag in ("--driver", "--trace-rows", "--config", "--processes"))


def test_an_application_run_writes_every_nodes_timeline(tmp_path, capsys):
    """``--trace`` on an application directory: one file with each node's timeline (attempts, gates,
    waits) that `qnodeos trace export` reads."""
    out = tmp_path / "run.json"
    assert main(["run", str(TELEPORT), "--mode", "threads", "--seed", "1", "--trace", str(out), "--json",
                 "--no-logs"]) == 0
    data = json.loads(out.read_text())
    assert set(data["nodes"]) == {"sender", "receiver"}
    for node, trace in data["nodes"].items():
        kinds = {e["instruction"].split()[0] for e in trace["entries"]}
        assert {"attempts", "wait:"} <= kinds, (node, kinds)
    assert main(["trace", "export", str(out), "-o", str(tmp_path / "run.perfetto.json")]) == 0
    events = json.loads((tmp_path / "run.perfetto.json").read_text())["traceEvents"]
    names = {e["args"]["name"] for e in events if e.get("name") == "process_name"}
    assert names == {"sender", "receiver"}


@pytest.mark.parametrize("extra, named", [
    (["--platform", "trapped_ion"], "--platform"),
    (["--input", "a.b=1"], "--input"),
    (["--mode", "threads"], "--mode"),
    (["--timeout", "5"], "--timeout"),
    (["--request-timeout", "5"], "--request-timeout"),
    (["--recv-timeout", "5"], "--recv-timeout"),
    (["--app-output", "out.txt"], "--app-output"),
])
def test_application_options_are_refused_for_program_files(program, capsys, nothing_runs, extra, named):
    assert main(["run", str(program), *extra]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert named in line and "program files" in line


def test_driver_seed_and_preset_override_the_config_file(program, tmp_path, capsys):
    """--driver/--seed/--preset replace the node file's values (none is silently ignored); what the
    command line leaves alone (the name, trace_rows) still comes from the file."""
    config = tmp_path / "node.toml"
    config.write_text('[node]\nname = "bob"\ndriver = "mock-trapped-ion"\nseed = 1\ntrace_rows = 2\n'
                      '[driver]\npreset = "realistic"\n')
    trace = tmp_path / "trace.json"
    assert main(["run", str(program), "--config", str(config), "--driver", "mock-nv", "--preset", "ideal",
                 "--seed", "5", "--trace", str(trace), "--json"]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["stats"]["platform"] == "nv" and doc["stats"]["node"] == "bob"
    (result,) = doc["results"]
    assert result["state"] == "done" and list(result["registers"].values()) == [1]  # ideal: X then 1
    meta = json.loads(trace.read_text())["meta"]["trace"]
    assert meta["max_rows"] == 2 and meta["dropped"] == meta["recorded"] - 2 > 0
    assert "latest 2 of" in out.err


@pytest.mark.parametrize("preset", ["humphreys-2018", "pompili-2021", "qnodeos-nv-2025"])
def test_presets_named_after_experiments_are_accepted(program, capsys, preset):
    assert main(["run", str(program), "--preset", preset, "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert result["state"] == "done"


def test_an_unknown_preset_is_refused_with_the_platforms_presets(program, capsys, solo_app):
    assert main(["run", str(program), "--preset", "delft-2099"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "preset='delft-2099' is unknown" in line and "humphreys-2018" in line and "pompili-2021" in line
    assert main(["run", str(solo_app), "--platform", "trapped_ion", "--preset", "humphreys-2018"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "preset='humphreys-2018' is unknown" in line and "stephenson-2020" in line


# ---- inputs ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("item, message", [
    ("carol.theta=1", "no role 'carol' (roles: receiver, sender)"),
    ("sender.thta=1", "takes no input 'thta' (its inputs: phi, theta)"),
    ("sender=1", "expected ROLE.NAME=VALUE"),
])
def test_unknown_roles_and_inputs_are_refused_before_anything_starts(capsys, nothing_runs, item, message):
    start = time.monotonic()
    assert main(["run", str(TELEPORT), "--input", item]) == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert time.monotonic() - start < 5  # no peer time-out was waited for


def test_inputs_reach_the_application_also_keyword_only_ones(solo_app, capsys):
    assert main(["run", str(solo_app), "--mode", "threads", "--input", "solo.word='bonjour'", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"] == {"solo": {"word": "bonjour"}}


# ---- time-outs -------------------------------------------------------------------------------------
def test_time_outs_are_options(capsys):
    start = time.monotonic()
    code = main(["run", str(OWN_APPS / "fault_silent_peer"), "--mode", "threads", "--preset", "ideal",
                 "--recv-timeout", "0.5", "--request-timeout", "1", "--timeout", "20", "--json"])
    elapsed = time.monotonic() - start
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["errors"]["alice"].startswith("TimeoutError"), out
    assert elapsed < 0.5 + 10, f"took {elapsed:.1f} s: the receive time-out was not applied"


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0"])
def test_time_outs_must_be_positive_finite(capsys, nothing_runs, value):
    assert main(["run", str(TELEPORT), "--timeout", value]) == 2
    assert "--timeout" in one_error_line(capsys.readouterr().err)


# ---- --json ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", defaults.MODES)
def test_json_is_one_document_on_stdout_in_both_modes(solo_app, mode):
    proc = cli("run", str(solo_app), "--mode", mode, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["results"] == {"solo": {"word": "hello"}}  # nothing else on stdout
    assert "application says hello" in proc.stderr


@pytest.mark.parametrize("mode", defaults.MODES)
def test_app_output_goes_to_the_file_named(solo_app, tmp_path, mode, capfd):
    out_file = tmp_path / "apps.txt"
    assert main(["run", str(solo_app), "--mode", mode, "--app-output", str(out_file), "--json"]) == 0
    captured = capfd.readouterr()
    assert json.loads(captured.out)["results"] == {"solo": {"word": "hello"}}
    assert "application says hello" in out_file.read_text()
    assert "application says" not in captured.out + captured.err


def test_json_output_is_strict_json(tmp_path):
    app = tmp_path / "odd"
    app.mkdir()
    (app / "app_odd.py").write_text("import numpy as np\n\ndef main(app_config=None):\n"
                                    "    return {'nan': float('nan'), 'arr': np.arange(2), 'z': 1j}\n")
    proc = cli("run", str(app), "--mode", "threads", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    assert result["results"]["odd"] == {"nan": "nan", "arr": [0, 1], "z": {"re": 0.0, "im": 1.0}}


# ---- shared defaults -------------------------------------------------------------------------------
def test_cli_and_python_api_share_their_defaults(solo_app, monkeypatch):
    calls = []
    monkeypatch.setattr(qnodeos.apps.runner, "run_app_dir",
                        lambda *args, **kwargs: calls.append((args, kwargs)) or qnodeos.apps.runner.AppRun({}, {}))
    assert main(["run", str(solo_app)]) == 0
    (args, kwargs), = calls
    params = inspect.signature(REAL_RUN_APP_DIR).parameters
    assert args[1] == params["platform"].default == defaults.PLATFORM
    for name in ("preset", "mode", "timeout_s", "request_timeout_s", "recv_timeout_s"):
        assert kwargs[name] == params[name].default, name
    assert (params["preset"].default, params["mode"].default) == (defaults.PRESET, defaults.MODE)


# ---- logging and tracebacks ------------------------------------------------------------------------
def test_debug_shows_a_failing_role_traceback_and_default_runs_do_not(solo_app):
    plain = cli("run", str(solo_app), "--mode", "threads", "--input", "solo.fail=True")
    assert plain.returncode == 1 and "solo fails on purpose" in plain.stdout
    assert "Traceback" not in plain.stderr
    for argv in (["--debug", "run"], ["run", "--log-level", "debug"]):
        debug = cli(*argv, str(solo_app), "--mode", "threads", "--input", "solo.fail=True")
        assert debug.returncode == 1
        assert "Traceback" in debug.stderr and "RuntimeError: solo fails on purpose" in debug.stderr, debug.stderr


def test_debug_shows_the_traceback_of_a_user_error(program):
    proc = cli("run", str(program), "--driver", "no-such-driver", "--debug")
    assert proc.returncode == 2 and "Traceback" in proc.stderr and "no-such-driver" in proc.stderr.splitlines()[-1]


# ---- values and output paths checked before a run --------------------------------------------------
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "abc"])
def test_host_delay_must_be_a_finite_number(program, capsys, nothing_runs, value):
    assert main(["run", str(program), "--host-delay-us", value]) == 2
    assert "--host-delay-us" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("where", ["missing-dir/t.json", "."])
def test_trace_path_is_checked_before_the_run(program, tmp_path, capsys, nothing_runs, where):
    assert main(["run", str(program), "--trace", str(tmp_path / where)]) == 2
    captured = capsys.readouterr()
    assert "--trace" in one_error_line(captured.err) and captured.out == ""


def test_app_output_path_is_checked_before_the_run(capsys, nothing_runs, tmp_path):
    assert main(["run", str(TELEPORT), "--app-output", str(tmp_path / "no" / "such.txt")]) == 2
    assert "--app-output" in one_error_line(capsys.readouterr().err)


def test_a_directory_runs_alone(program, capsys, nothing_runs):
    assert main(["run", str(TELEPORT), str(program)]) == 2
    assert "runs alone" in one_error_line(capsys.readouterr().err)

"""Where netqasm users look: ``log/<timestamp>/`` with results, per-role logs and instruction logs, a
``LAST`` link, and applications that take their simulation branch on mock networks."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import netqasm
import pytest
import yaml

from qnodeos.apps.runner import run_app_dir
from qnodeos.cli import main

NETQASM_TELEPORT = Path(netqasm.__file__).parent / "examples" / "apps" / "teleport"
FAULTS = Path(__file__).parent / "apps"


@pytest.fixture
def teleport(tmp_path: Path) -> Path:
    """A copy of netqasm's own teleport example (unchanged)."""
    return Path(shutil.copytree(NETQASM_TELEPORT, tmp_path / "teleport", ignore=shutil.ignore_patterns("__pycache__", "log")))


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_a_run_writes_netqasms_log_layout(teleport, tmp_path, mode):
    logs = tmp_path / "logs"
    run = run_app_dir(teleport, "trapped_ion", seed=3, preset="ideal", mode=mode, log_dir=logs)
    assert run.ok, run.errors
    assert run.log_dir is not None and run.log_dir.parent == logs
    names = {p.name for p in run.log_dir.iterdir()}
    assert {"results.yaml", "stats.yaml", "sender.log", "receiver.log", "timeline.json",
            "sender_instrs.yaml", "receiver_instrs.yaml"} <= names, names
    assert "errors.yaml" not in names
    results = yaml.unsafe_load((run.log_dir / "results.yaml").read_text())
    assert set(results) == {"app_sender", "app_receiver"}  # netqasm's naming
    assert results["app_sender"] == run.results["sender"]
    assert "teleported state" in (run.log_dir / "receiver.log").read_text()  # what the role printed
    instrs = yaml.safe_load((run.log_dir / "receiver_instrs.yaml").read_text())
    assert instrs and all({"SIT", "END", "INS", "APP"} <= set(e) for e in instrs)
    assert (logs / "LAST").resolve() == run.log_dir.resolve()
    assert set(json.loads((run.log_dir / "timeline.json").read_text())["nodes"]) == {"sender", "receiver"}
    assert run.traces == {}  # kept for the log, not returned unless asked for


def test_last_follows_the_latest_run_and_failures_are_logged(tmp_path):
    logs = tmp_path / "logs"
    first = run_app_dir(FAULTS / "fault_peer_raises", "trapped_ion", seed=1, preset="ideal", mode="threads",
                        log_dir=logs, overrides={"bob": {"when": "before_recv"}})
    assert not first.ok
    errors = yaml.safe_load((first.log_dir / "errors.yaml").read_text())
    assert "RuntimeError" in errors["app_bob"]
    assert "Traceback" in (first.log_dir / "bob.log").read_text()
    second = run_app_dir(FAULTS / "fault_peer_raises", "trapped_ion", seed=1, preset="ideal", mode="threads",
                         log_dir=logs, overrides={"bob": {"when": "before_recv"}})
    assert second.log_dir != first.log_dir
    assert (logs / "LAST").resolve() == second.log_dir.resolve()


def test_netqasms_teleport_takes_its_simulation_branch_on_a_mock_network(teleport):
    """netqasm's receiver reports the teleported state and its fidelity only when it believes it runs in
    a simulator; on mock hardware it does, and an ideal ion link teleports perfectly."""
    run = run_app_dir(teleport, "trapped_ion", seed=5, preset="ideal", mode="threads",
                      overrides={"sender": {"phi": 0.7, "theta": 1.9}})
    assert run.ok, run.errors
    receiver = run.results["receiver"]
    assert {"original_state", "received_state", "fidelity"} <= set(receiver), receiver
    assert receiver["fidelity"] == pytest.approx(1.0, abs=1e-6)


def test_cli_writes_logs_next_to_the_application_by_default(teleport, capsys):
    assert main(["run", str(teleport), "--platform", "trapped_ion", "--mode", "threads", "--seed", "1",
                 "--preset", "ideal", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)  # still exactly one JSON document
    assert set(out["results"]) == {"sender", "receiver"}
    last = teleport / "log" / "LAST"
    assert (last / "results.yaml").is_file()
    assert main(["run", str(teleport), "--platform", "trapped_ion", "--mode", "threads", "--no-logs",
                 "--preset", "ideal"]) == 0
    assert len([p for p in (teleport / "log").iterdir() if p.name != "LAST"]) == 1


def test_an_unwritable_log_directory_is_refused_before_the_run(teleport, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["run", str(teleport), "--mode", "threads", "--log-dir", str(blocker / "logs")]) == 2
    err = capsys.readouterr().err
    assert "log directory" in err and "--log-dir" in err

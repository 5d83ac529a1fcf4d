"""Repeated runs on warm nodes (issue 15 point 3): ``repeat_app_dir`` and ``qnodeos run APP_DIR --num N``
run an application N times on a network started once; every run's results and errors are kept, the
statistics over them agree with numpy, a seeded series repeats exactly, and the results file holds it all."""
from __future__ import annotations

import json
from pathlib import Path

import netqasm
import numpy as np
import pytest

from qnodeos.apps.repeat import RESULTS_FILE, RUNS_FILE, repeat_app_dir
from qnodeos.apps.runner import run_app_dir
from qnodeos.cli import main
from qnodeos.errors import QNodeOSError

TELEPORT = Path(netqasm.__file__).parent / "examples" / "apps" / "teleport"
COIN = Path(__file__).parent / "apps" / "coin_fails_on_heads"


def test_teleport_on_ideal_ions_every_run_faithful_and_statistics_match_numpy(tmp_path, capsys):
    series = repeat_app_dir(TELEPORT, 12, "trapped_ion", seed=3, preset="ideal", mode="threads",
                            overrides={"sender": {"theta": 1.2, "phi": 0.4}}, log_dir=tmp_path)
    assert series.ok and len(series.runs) == 12 and [r.index for r in series.runs] == list(range(12))
    fidelities = np.array([r.results["receiver"]["fidelity"] for r in series.runs])
    assert np.all(fidelities > 0.99)
    stats = series.statistics
    assert (stats["runs"], stats["ok_runs"], stats["failed_runs"]) == (12, 12, 0)
    fid = stats["quantities"]["receiver.fidelity"]
    assert fid["mean"] == pytest.approx(np.mean(fidelities), abs=1e-15)
    assert fid["std_error"] == pytest.approx(np.std(fidelities, ddof=1) / np.sqrt(12), abs=1e-12)  # all ≈ 1
    for key in ("m1", "m2"):
        outcomes = np.array([r.results["sender"][key] for r in series.runs])
        values, counts = np.unique(outcomes, return_counts=True)
        entry = stats["quantities"][f"sender.{key}"]
        assert entry["histogram"] == {str(v): int(c) for v, c in zip(values, counts)}
        assert entry["mean"] == pytest.approx(outcomes.mean())
        assert entry["std_error"] == pytest.approx(outcomes.std(ddof=1) / np.sqrt(12))
    # the receiver's corrections follow the sender's outcomes, run by run
    for run in series.runs:
        assert run.results["receiver"]["correction1"] == ("Z" if run.results["sender"]["m1"] else "None")
        assert run.results["receiver"]["correction2"] == ("X" if run.results["sender"]["m2"] else "None")
    # the results file and the per-run lines hold the same runs and statistics
    document = json.loads((series.log_dir / RESULTS_FILE).read_text())
    assert series.results_file == series.log_dir / RESULTS_FILE and (tmp_path / "LAST").resolve() == series.log_dir
    assert [r["results"]["receiver"]["fidelity"] for r in document["runs"]] == fidelities.tolist()
    assert document["statistics"] == json.loads(json.dumps(stats))
    lines = (series.log_dir / RUNS_FILE).read_text().splitlines()
    assert [json.loads(line)["index"] for line in lines] == list(range(12))
    assert (series.log_dir / "receiver.log").read_text().count("=== run ") == 12


@pytest.mark.parametrize("mode", ["processes", "threads"])
def test_seeded_series_repeats_exactly_and_its_first_run_is_the_single_run(mode):
    kwargs = dict(seed=11, preset="realistic", mode=mode, app_output="/dev/null")
    first = repeat_app_dir(TELEPORT, 20, "nv", **kwargs)
    second = repeat_app_dir(TELEPORT, 20, "nv", **kwargs)
    assert first.ok and second.ok
    assert [r.results for r in first.runs] == [r.results for r in second.runs]
    fidelities = [r.results["receiver"]["fidelity"] for r in first.runs]
    assert len(set(fidelities)) > 1  # realistic noise: the runs differ from each other ...
    assert first.statistics == second.statistics  # ... but not between the two series
    entry = first.statistics["quantities"]["receiver.fidelity"]
    assert entry["mean"] == pytest.approx(np.mean(fidelities), rel=1e-12)
    assert entry["std_error"] == pytest.approx(np.std(fidelities, ddof=1) / np.sqrt(20), rel=1e-9)
    single = run_app_dir(TELEPORT, "nv", **kwargs)
    assert single.results == first.runs[0].results


def test_failed_runs_are_recorded_per_run_and_left_out_of_the_statistics(tmp_path):
    series = repeat_app_dir(COIN, 24, "nv", seed=5, preset="ideal", mode="processes", log_dir=tmp_path,
                            app_output=str(tmp_path / "out.txt"))
    failed = [r for r in series.runs if not r.ok]
    good = [r for r in series.runs if r.ok]
    assert len(series.runs) == 24 and failed and good and not series.ok and series.stopped is None
    assert all("heads: this run fails on purpose" in r.errors["alice"] for r in failed)
    assert all(r.results["alice"] == {"m": 0} for r in good)
    stats = series.statistics
    assert (stats["ok_runs"], stats["failed_runs"]) == (len(good), len(failed))
    assert stats["quantities"]["alice.m"] == {"n": len(good), "mean": 0.0, "std_error": 0.0 if len(good) > 1 else None,
                                              "histogram": {"0": len(good)}}
    lines = [json.loads(line) for line in (series.log_dir / RUNS_FILE).read_text().splitlines()]
    assert [line["ok"] for line in lines] == [r.ok for r in series.runs]
    assert (series.log_dir / "alice.log").read_text().count("RuntimeError: heads") == len(failed)


def test_cli_num_json_is_one_document_with_every_run_and_no_progress_bar(tmp_path, capsys):
    argv = ["run", str(TELEPORT), "--num", "20", "--seed", "2", "--mode", "threads", "--platform", "trapped_ion",
            "--preset", "ideal", "--json", "--log-dir", str(tmp_path)]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert len(document["runs"]) == 20 and all(r["ok"] for r in document["runs"])
    assert all(r["results"]["receiver"]["fidelity"] > 0.99 for r in document["runs"])
    assert document["statistics"]["runs"] == 20 and "━" not in err and "%" not in err
    assert json.loads(Path(document["results_file"]).read_text())["runs"] == document["runs"]
    assert main(argv) == 0  # the same seed: the same 20 outcomes
    again = json.loads(capsys.readouterr().out)
    assert [r["results"] for r in again["runs"]] == [r["results"] for r in document["runs"]]


def test_cli_and_api_refuse_what_a_series_cannot_do(tmp_path, capsys):
    assert main(["run", str(TELEPORT), "--num", "0"]) == 2
    assert "--num" in capsys.readouterr().err
    assert main(["run", str(TELEPORT), "--num", "2", "--trace", str(tmp_path / "t.json")]) == 2
    assert "--trace does not apply with --num" in capsys.readouterr().err
    program = tmp_path / "x.nqasm"
    program.write_text("# NETQASM 1.0\n# APPID 0\n")
    assert main(["run", str(program), "--num", "2"]) == 2
    assert "--num does not apply to program files" in capsys.readouterr().err
    with pytest.raises(QNodeOSError, match="number of runs"):
        repeat_app_dir(TELEPORT, 0)
    from qnodeos.apps.runner import repeat_app_dir as from_the_runner

    assert from_the_runner is repeat_app_dir


def test_a_role_stuck_past_the_time_out_ends_the_series_with_the_reason(tmp_path):
    # a deadline of 2 s: node processes must start within it on a loaded 2-core machine (0.5 s did not, once)
    series = repeat_app_dir(Path(__file__).parent / "apps" / "sleepy_role", 3, "nv", seed=1, mode="processes",
                            timeout_s=2.0, overrides={"alice": {"seconds": 30.0}}, app_output=str(tmp_path / "out.txt"))
    assert len(series.runs) == 1 and not series.ok
    assert series.runs[0].errors["alice"].startswith("did not finish within the run's deadline (2 s); its "
                                                     "thread was blocked outside Python code"), series.runs[0].errors
    assert series.stopped == "run 0: role(s) alice did not finish within the run time-out of 2 s; 2 run(s) not made"


def test_the_progress_bar_shows_on_a_terminal(tmp_path):
    """stderr on a pseudo-terminal: the bar counts the runs; stdout (a pipe) gets the statistics table."""
    import os
    import pty
    import subprocess
    import sys
    import threading

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "qnodeos.cli", "run", str(TELEPORT), "--num", "4", "--mode",
                             "threads", "--seed", "1", "--no-logs", "--app-output", str(tmp_path / "out.txt")],
                            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, text=True)
    os.close(slave)
    seen: list[bytes] = []

    def drain() -> None:  # keep reading, or the child blocks on a full terminal buffer
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed its end
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    out, _ = proc.communicate(timeout=120)
    reader.join(timeout=10)
    os.close(master)
    terminal = b"".join(seen).decode(errors="replace")
    assert proc.returncode == 0
    assert "4/4" in terminal and "teleport" in terminal
    assert "receiver.fidelity" in out and "4 of 4 runs without errors" in out

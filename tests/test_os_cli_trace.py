"""`qnodeos run` and `qnodeos trace plot`, and the trace JSON they exchange."""
from __future__ import annotations

import json
import subprocess
import sys

from qnodeos.cli import main
from qnodeos.programs import encode_subroutine, load_subroutine
from qnodeos.trace import load_trace

from os_helpers import BELL, X_MEASURE, make_node


def test_trace_has_one_entry_per_executed_instruction_with_physical_ops():
    node = make_node("nv")
    pid = node.submit(BELL)
    node.run()
    data = json.loads(node.trace.to_json())
    entries = data["entries"]
    assert len(entries) == len(load_subroutine(BELL).instructions)
    cnot = next(e for e in entries if e["instruction"].startswith("cnot"))
    assert "controlled_rotate" in cnot["physical"] and cnot["end_ns"] > cnot["start_ns"]
    sets = [e for e in entries if e["instruction"].startswith("set")]
    assert all(e["physical"] == [] and e["end_ns"] == e["start_ns"] for e in sets)
    starts = [e["start_ns"] for e in entries]
    assert starts == sorted(starts) and all(e["pid"] == pid for e in entries)
    assert 0 < data["meta"]["utilisation"] <= 1
    assert data["meta"]["busy_ticks"] <= data["meta"]["total_ticks"]


def test_cli_run_text_and_binary_with_trace_and_plot(tmp_path, capsys):
    text = tmp_path / "x.nqasm"
    text.write_text(X_MEASURE)
    binary = tmp_path / "bell.bin"
    binary.write_bytes(encode_subroutine(load_subroutine(BELL)))
    trace = tmp_path / "trace.json"

    assert main(["run", str(text), "--driver", "mock-trapped-ion", "--preset", "ideal", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["results"][0]["registers"] == {"M0": 1} and out["stats"]["platform"] == "trapped_ion"

    assert main(["run", str(binary), "--driver", "mock-nv", "--preset", "ideal", "--seed", "4",
                 "--processes", "3", "--trace", str(trace), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["state"] for r in out["results"]] == ["done"] * 3
    assert all(r["arrays"]["0"] in ([0, 0], [1, 1]) for r in out["results"])
    assert len(load_trace(trace)["entries"]) == 3 * len(load_subroutine(BELL).instructions)

    png = tmp_path / "timeline.png"
    assert main(["trace", "plot", str(trace), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_cli_reports_bad_input_in_one_line(tmp_path):
    bad = tmp_path / "bad.nqasm"
    bad.write_text("# NETQASM 1.0\n# APPID 0\nfrobnicate Q0\n")
    proc = subprocess.run([sys.executable, "-m", "qnodeos.cli", "run", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "frobnicate" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "qnodeos.cli", "run", str(bad), "--driver", "no-such-driver"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "no-such-driver" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "qnodeos.cli", "trace", "plot", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "cannot read trace" in proc.stderr


def test_node_from_config_file(tmp_path):
    from qnodeos.node import Node

    cfg = tmp_path / "node.toml"
    cfg.write_text('[node]\nname = "alice"\ndriver = "mock-trapped-ion"\nseed = 3\n\n[driver]\npreset = "ideal"\n')
    node = Node.from_config(cfg)
    assert node.name == "alice" and node.capabilities.platform.value == "trapped_ion"
    pid = node.submit(X_MEASURE)
    node.run()
    assert node.result(pid).registers == {"M0": 1}
    cfg.write_text('[node]\nnmae = "typo"\n')
    try:
        Node.from_config(cfg)
    except Exception as exc:
        assert "nmae" in str(exc)
    else:
        raise AssertionError("unknown key accepted")

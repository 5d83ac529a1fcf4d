"""Traces people can explore (issue 12 point 6) and bounded in memory (issue 10 item 5): the ring
buffer, the PNG's legend, bar widths and time units, the Perfetto export, and one-line errors for
malformed trace files (issue 10 item 11)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import netqasm

import pytest

from qnodeos.cli import main
from qnodeos.trace import DEFAULT_MAX_ROWS, Trace, check_trace
from qnodeos.trace_events import trace_events

from os_helpers import BELL, HEADER, X_MEASURE, make_node

LOOP = HEADER + "set Q0 0\nqalloc Q0\ninit Q0\nLOOP:\nh Q0\njmp LOOP\n"


def entry(pid, start_ns, end_ns, instruction="x Q0", physical=("rotate",), subroutine=1, process=None):
    return {"pid": pid, "process": process or f"p{pid}", "subroutine": subroutine, "line": 0,
            "instruction": instruction, "physical": list(physical), "start_ns": start_ns, "end_ns": end_ns}


# ---- bounded recording -------------------------------------------------------------------------
def test_an_endless_loop_keeps_only_the_latest_rows():
    node = make_node("ion", max_instructions=5_000, trace_rows=100)
    pid = node.submit(LOOP)
    node.run()
    assert "budget" in node.result(pid).error
    assert len(node.trace) == 100 and node.trace.recorded == 5_000 and node.trace.dropped == 4_900
    entries = node.trace.entries()
    assert entries[-1].start_ns == max(e.start_ns for e in entries)  # the latest ones are kept
    meta = node.trace.to_dict()["meta"]["trace"]
    assert meta == {"max_rows": 100, "recorded": 5_000, "dropped": 4_900}


def test_every_node_trace_is_bounded_by_default():
    assert make_node("nv").trace.max_rows == DEFAULT_MAX_ROWS
    with pytest.raises(ValueError, match="at least one row"):
        Trace(max_rows=0)


def test_cli_records_no_trace_unless_asked_and_bounds_it_when_asked(tmp_path, capsys, monkeypatch):
    import qnodeos.node

    nodes = []
    real_init = qnodeos.node.Node.__init__

    def spy(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        nodes.append(self)

    monkeypatch.setattr(qnodeos.node.Node, "__init__", spy)
    loop = tmp_path / "loop.nqasm"
    loop.write_text(LOOP)
    assert main(["run", str(loop), "--driver", "mock-trapped-ion", "--max-instructions", "3000", "--json"]) == 1
    assert len(nodes[-1].trace) == 0 and not nodes[-1].trace.enabled
    capsys.readouterr()
    trace = tmp_path / "t.json"
    assert main(["run", str(loop), "--driver", "mock-trapped-ion", "--max-instructions", "3000",
                 "--trace", str(trace), "--trace-rows", "50", "--json"]) == 1
    out = capsys.readouterr()
    assert "exceeded its budget of 3000" in json.loads(out.out)["results"][0]["error"]
    data = json.loads(trace.read_text())
    assert len(data["entries"]) == 50 and data["meta"]["trace"]["dropped"] == 2950
    assert "latest 50 of 3000" in out.err


# ---- the PNG -----------------------------------------------------------------------------------
@pytest.fixture
def long_and_short():
    """A one-second gate next to a 10 µs one, on two processes, ending at 200,000 µs."""
    return {"meta": {"utilisation": 0.5}, "entries": [
        entry(1, 0, 190_000_000, "rot_x Q0 1 1"), entry(2, 190_000_000, 190_010_000, "x Q0"),
        entry(2, 190_010_000, 200_000_000, "meas Q0 M0", ("measure",))]}


def _figure(data):
    from qnodeos.trace_plot import draw_timeline  # matplotlib comes with the test extra (via plot)

    fig = draw_timeline(data)
    fig.canvas.draw()
    return fig


def test_png_time_axis_picks_its_unit_by_range(long_and_short):
    import matplotlib.pyplot as plt

    from qnodeos.trace_plot import time_unit

    fig = _figure(long_and_short)
    try:
        assert fig.axes[0].get_xlabel() == "device time (ms)"
    finally:
        plt.close(fig)
    assert [time_unit(ns)[0] for ns in (500, 84_000, 200_000_000, 3e10)] == ["ns", "µs", "ms", "s"]


def test_png_short_gates_stay_visible(long_and_short):
    import matplotlib.pyplot as plt

    from qnodeos.trace_plot import MIN_BAR_PX

    fig = _figure(long_and_short)
    try:
        ax = fig.axes[0]
        short = next(c for c in ax.collections if c.get_gid() == "bars-x")
        corners = ax.transData.transform(short.get_paths()[0].vertices)
        assert corners[:, 0].max() - corners[:, 0].min() >= MIN_BAR_PX - 1e-6
        following = next(c for c in ax.collections if c.get_gid() == "bars-meas")
        assert short.get_zorder() > following.get_zorder()  # not covered by the next instruction
    finally:
        plt.close(fig)


def test_png_legend_sits_beside_the_lanes(long_and_short):
    import matplotlib.pyplot as plt

    fig = _figure(long_and_short)
    try:
        ax = fig.axes[0]
        legend, lanes = ax.get_legend().get_window_extent(), ax.get_window_extent()
        assert not legend.overlaps(lanes), (legend, lanes)
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["rot_x", "x", "meas"]
    finally:
        plt.close(fig)


def test_plot_without_matplotlib_says_which_extra_to_install(tmp_path, capsys, monkeypatch):
    trace = tmp_path / "t.json"
    trace.write_text(json.dumps({"meta": {}, "entries": [entry(1, 0, 10)]}))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    for command in (["trace", "plot", str(trace)], ["validate", "--plot", str(tmp_path / "alpha.png")]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "pip install 'qnodeos[plot]'" in err and "Traceback" not in err


@pytest.mark.parametrize("data, field", [
    ({"entries": [{"pid": 1}]}, "'process'"),
    ({"entries": [entry(1, 10, 5)]}, "ends (5) before it starts (10)"),
    ({"entries": [dict(entry(1, 0, 5), physical="rotate")]}, "'physical'"),
    ({"entries": [dict(entry(1, 0, 5), start_ns=True)]}, "'start_ns'"),
    ({"entries": ["x"]}, "entry 0 is not an object"),
    ({"entries": {}}, "no 'entries' list"),
    ({"meta": [], "entries": []}, "'meta'"),
])
def test_malformed_trace_files_give_one_line_errors(tmp_path, capsys, data, field):
    trace = tmp_path / "t.json"
    trace.write_text(json.dumps(data))
    for command in (["trace", "plot", str(trace)], ["trace", "export", str(trace)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert field in err and err.count("\n") == 1, err


# ---- Perfetto ----------------------------------------------------------------------------------
def test_perfetto_export_has_node_groups_process_lanes_and_nested_slices():
    node = make_node("nv")
    pids = [node.submit([X_MEASURE, BELL], name=f"app{i}", host_delay_ns=50_000) for i in range(2)]
    node.run()
    doc = trace_events({"alice": node.trace.to_dict(), "bob": node.trace.to_dict()})
    json.dumps(doc, allow_nan=False)  # strict JSON
    events = doc["traceEvents"]
    names = {(e["pid"], e.get("tid"), e["args"]["name"]) for e in events if e["name"] in ("process_name", "thread_name")}
    assert names == {(1, None, "alice"), (2, None, "bob"),
                     *((n, pid, f"app{i} (pid {pid})") for n in (1, 2) for i, pid in enumerate(pids))}
    slices = [e for e in events if e["ph"] == "X" and e["pid"] == 1]
    instructions = [e for e in slices if e["cat"] != "subroutine"]
    assert len(instructions) == len(node.trace)
    for sub in (e for e in slices if e["cat"] == "subroutine"):
        inside = [e for e in instructions if e["tid"] == sub["tid"] and e["args"]["subroutine"] == int(sub["name"].split()[1])]
        assert inside and all(sub["ts"] <= e["ts"] and e["ts"] + e["dur"] <= sub["ts"] + sub["dur"] + 1e-9 for e in inside)
    cnot = next(e for e in instructions if e["name"].startswith("cnot"))
    assert cnot["cat"] == "quantum" and "controlled_rotate" in cnot["args"]["physical"]
    first = min(node.trace.entries(), key=lambda e: e.start_ns)
    assert any(e["ts"] == first.start_ns / 1000 for e in instructions)  # µs, exact
    assert {e["cat"] for e in instructions if e["name"].startswith("set")} == {"classical"}


def test_cli_export_names_nodes_from_their_traces(tmp_path, capsys):
    traces = []
    for name in ("alice", "bob"):
        data = {"meta": {"node": name}, "entries": [entry(1, 0, 10_000)]}
        path = tmp_path / f"{name}-trace.json"
        path.write_text(json.dumps(data))
        traces.append(str(path))
    out = tmp_path / "run.perfetto.json"
    assert main(["trace", "export", *traces, "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert [e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "process_name"] == ["alice", "bob"]
    check_trace({"entries": []})  # an empty trace is a trace


def test_png_of_a_network_run_has_a_lane_per_node_and_process_and_starts_where_its_rows_do(tmp_path, capsys):
    """`qnodeos run APP_DIR --trace` then `qnodeos trace plot`: each node's processes (the application
    and the network process with its attempts) get their own lane, labelled by node; a run cut from a
    long-running node's trace (``from_ns``) is drawn from where it begins, not from time 0."""
    import matplotlib.pyplot as plt


    teleport = Path(netqasm.__file__).parent / "examples" / "apps" / "teleport"
    out = tmp_path / "run.json"
    assert main(["run", str(teleport), "--mode", "threads", "--seed", "1", "--trace", str(out), "--json",
                 "--no-logs"]) == 0
    capsys.readouterr()
    data = json.loads(out.read_text())
    fig = _figure(data)
    try:
        labels = {t.get_text() for t in fig.axes[0].get_yticklabels()}
        assert labels == {"sender: sender", "sender: network", "receiver: receiver", "receiver: network"}
        assert fig.axes[0].get_xlim()[0] == 0
    finally:
        plt.close(fig)
    first = min(e["start_ns"] for t in data["nodes"].values() for e in t["entries"] if e["start_ns"] > 0)
    for trace in data["nodes"].values():
        trace.setdefault("meta", {})["trace"] = {"from_ns": first}
    fig = _figure(data)
    try:
        unit_ns = {"ns": 1, "µs": 1e3, "ms": 1e6, "s": 1e9}[fig.axes[0].get_xlabel().split("(")[1].rstrip(")")]
        assert fig.axes[0].get_xlim()[0] == pytest.approx(first / unit_ns)
    finally:
        plt.close(fig)
    assert main(["trace", "plot", str(out), "-o", str(tmp_path / "run.png")]) == 0
    assert (tmp_path / "run.png").read_bytes().startswith(b"\x89PNG")

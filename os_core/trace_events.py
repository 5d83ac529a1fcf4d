"""Traces in the Chrome / Perfetto trace-event JSON format, to zoom through in https://ui.perfetto.dev
(or chrome://tracing).

The exporter takes several traces at once, one per node (node name -> trace data as
:meth:`qnodeos.trace.Trace.to_dict` gives), so a network run's per-node traces go into one file: each
node is a trace "process" and each of its OS processes a "thread" lane. On a lane, every subroutine is
a slice spanning its first to its last instruction — gaps inside it are the time the process waited
(for the device, entanglement, a qubit or its host) — with one nested slice per NetQASM instruction,
named after it and carrying the physical operations it became. Device time is in ns; the format counts
in µs (fractions allowed), so nothing is rounded away.

>>> data = {"meta": {}, "entries": [{"pid": 1, "process": "app", "subroutine": 1, "line": 0,
...          "instruction": "init Q0", "physical": ["init"], "start_ns": 0, "end_ns": 10000}]}
>>> doc = trace_events({"alice": data})
>>> [e["name"] for e in doc["traceEvents"] if e["ph"] == "X"]
['subroutine 1', 'init Q0']
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from .trace import check_trace

#: Categories of instruction slices (Perfetto can filter on them).
CLASSICAL, QUANTUM, ENTANGLEMENT = "classical", "quantum", "entanglement"


def _category(physical: list[str]) -> str:
    if any(op.startswith("entangle") for op in physical):
        return ENTANGLEMENT
    return QUANTUM if physical else CLASSICAL


def _us(ns: int) -> float:
    return ns / 1000.0


def trace_events(traces: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One trace-event document (JSON object format) for ``traces``: node name -> trace data."""
    events: list[dict[str, Any]] = []
    other: dict[str, Any] = {}
    for node_index, (node, data) in enumerate(traces.items(), start=1):
        check_trace(data, f"trace of node {node!r}")
        events.append({"ph": "M", "pid": node_index, "name": "process_name", "args": {"name": node}})
        events.append({"ph": "M", "pid": node_index, "name": "process_sort_index",
                       "args": {"sort_index": node_index}})
        other[node] = dict(data.get("meta", {}))
        lanes: dict[int, str] = {}
        subroutines: dict[tuple[int, int], list[int]] = {}  # (pid, subroutine) -> [start, end]
        for e in data["entries"]:
            pid = e["pid"]
            lanes.setdefault(pid, e["process"])
            span = subroutines.setdefault((pid, e["subroutine"]), [e["start_ns"], e["end_ns"]])
            span[0], span[1] = min(span[0], e["start_ns"]), max(span[1], e["end_ns"])
            events.append({"ph": "X", "pid": node_index, "tid": pid, "name": e["instruction"],
                           "cat": _category(e["physical"]), "ts": _us(e["start_ns"]),
                           "dur": _us(e["end_ns"] - e["start_ns"]),
                           "args": {"line": e["line"], "subroutine": e["subroutine"], "physical": e["physical"]}})
        for (pid, sub), (start, end) in subroutines.items():
            events.append({"ph": "X", "pid": node_index, "tid": pid, "name": f"subroutine {sub}",
                           "cat": "subroutine", "ts": _us(start), "dur": _us(end - start),
                           "args": {"process": lanes[pid], "pid": pid}})
        for pid, name in lanes.items():
            events.append({"ph": "M", "pid": node_index, "tid": pid, "name": "thread_name",
                           "args": {"name": f"{name} (pid {pid})"}})
            events.append({"ph": "M", "pid": node_index, "tid": pid, "name": "thread_sort_index",
                           "args": {"sort_index": pid}})
    # Enclosing slices first where they start together, so viewers nest instructions inside subroutines.
    events.sort(key=lambda ev: (ev["ph"] != "M", ev.get("ts", 0.0), -ev.get("dur", 0.0)))
    return {"traceEvents": events, "displayTimeUnit": "ns", "otherData": {"qnodeos": other}}


def write_trace_events(traces: Mapping[str, Mapping[str, Any]], path: str | Path) -> Path:
    """Write :func:`trace_events` of ``traces`` to ``path`` (open it in ui.perfetto.dev)."""
    path = Path(path)
    path.write_text(json.dumps(trace_events(traces), allow_nan=False))
    return path

"""The per-instruction timeline: which process ran which NetQASM instruction, as which physical
operations, from when to when in device time — exportable as JSON, drawable as a Gantt chart
(:mod:`qnodeos.trace_plot`) and explorable in Perfetto (:mod:`qnodeos.trace_events`).

A trace is a ring buffer: it keeps the latest ``max_rows`` instructions (an endless loop costs bounded
memory) and counts the ones it let go, which the exported JSON states in ``meta["trace"]``.
"""
from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from qnodeos.hal import instruction_name

from .trace_rows import DEFAULT_MAX_ROWS  # noqa: F401  (re-exported: qnodeos.trace.DEFAULT_MAX_ROWS)


@dataclass(frozen=True)
class TraceEntry:
    """One NetQASM instruction as run: by whom, where in the program, as which physical operations, when.

    Attributes:
        pid: the process that ran it; ``process`` is that process's name.
        subroutine: which of the process's subroutines (0 first); ``line``: the instruction's index in it.
        instruction: the NetQASM instruction as text.
        physical: the names of the device instructions it became (empty for classical ones).
        start_ns: device time it started; ``end_ns``: device time it ended.
    """

    pid: int
    process: str
    subroutine: int
    line: int
    instruction: str
    physical: tuple[str, ...]
    start_ns: int
    end_ns: int

    def to_dict(self) -> dict[str, Any]:
        """The entry as plain data (a row of the trace JSON)."""
        return {"pid": self.pid, "process": self.process, "subroutine": self.subroutine, "line": self.line,
                "instruction": self.instruction, "physical": list(self.physical),
                "start_ns": self.start_ns, "end_ns": self.end_ns}


class Trace:
    """Cheap to record (a tuple append per instruction); converted to entries only when read.

    ``enabled=False`` records nothing. ``max_rows`` bounds the memory: the oldest rows go first.
    """

    def __init__(self, enabled: bool = True, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        _check_rows(max_rows)
        self.enabled = enabled
        self._recording = enabled  # like ``record``: decided when the trace is made
        self._rows: deque[tuple] = deque(maxlen=max_rows)
        self.recorded = 0  # rows ever recorded (kept or let go)
        self.process_names: dict[int, str] = {}
        self.meta: dict[str, Any] = {}
        if not enabled:
            self.record = self._skip  # type: ignore[method-assign]

    @property
    def max_rows(self) -> int:
        """How many of the latest rows the trace keeps."""
        return self._rows.maxlen or 0

    @property
    def dropped(self) -> int:
        """Rows recorded and let go to stay within ``max_rows``."""
        return self.recorded - len(self._rows)

    def bound(self, max_rows: int) -> None:
        """Keep only the latest ``max_rows`` rows from now on (for long-running nodes)."""
        _check_rows(max_rows)
        if self._rows.maxlen != max_rows:
            self._rows = deque(self._rows, maxlen=max_rows)

    def record(self, pid: int, subroutine: int, line: int, instr: Any, start: int, end: int,
               physical: tuple) -> None:
        """Note that process ``pid`` ran ``instr`` (``line`` of its ``subroutine``) from device time
        ``start`` to ``end`` as the device instructions ``physical`` (the executor calls this)."""
        self.recorded += 1
        self._rows.append((pid, subroutine, line, instr, start, end, physical))

    def _skip(self, *args: Any, **kwargs: Any) -> None:
        pass

    def sink(self) -> Callable[[tuple], None] | None:
        """For a hot loop: the append of one row tuple ``(pid, subroutine, line, instr, start, end,
        physical)``, or None when disabled; the caller adds what it appended to :attr:`recorded`."""
        return self._rows.append if self._recording else None

    def __len__(self) -> int:
        return len(self._rows)

    def entries(self) -> list[TraceEntry]:
        """The rows kept, oldest first, as :class:`TraceEntry` objects."""
        return [TraceEntry(pid, self.process_names.get(pid, str(pid)), sub, line, str(instr).strip(),
                           tuple(instruction_name(p) for p in phys), start, end)
                for pid, sub, line, instr, start, end, phys in self._rows]

    def to_dict(self) -> dict[str, Any]:
        """The trace as plain data: ``meta`` (the node's counters and how many rows were kept or
        dropped) and ``entries``; what ``qnodeos trace plot`` and ``export`` read."""
        meta = dict(self.meta)
        meta["trace"] = {"max_rows": self.max_rows, "recorded": self.recorded, "dropped": self.dropped}
        return {"meta": meta, "entries": [e.to_dict() for e in self.entries()]}

    def to_json(self, path: str | Path | None = None) -> str:
        """:meth:`to_dict` as JSON text, also written to ``path`` when one is given."""
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            Path(path).write_text(text)
        return text


def _check_rows(max_rows: int) -> None:
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise ValueError(f"a trace keeps at least one row: max_rows={max_rows!r}")


#: Fields of a trace entry and the JSON types they must have.
_ENTRY_FIELDS: dict[str, tuple[type, ...]] = {
    "pid": (int,), "process": (str,), "subroutine": (int,), "line": (int,), "instruction": (str,),
    "physical": (list,), "start_ns": (int,), "end_ns": (int,),
}


def network_trace(traces: Mapping[str, Mapping[str, Any]], meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The timelines of a network run (``traces``: node -> its trace), as one document with ``meta``
    added to its meta data (what ``qnodeos run APP_DIR --trace`` writes)."""
    return {"meta": {"nodes": list(traces), **(meta or {})}, "nodes": {n: dict(t) for n, t in traces.items()}}


def node_traces(data: Mapping[str, Any]) -> dict[str, Any]:
    """Node name -> trace of the network trace ``data``; a single node's trace under its ``meta``
    node name."""
    if "nodes" in data:
        return dict(data["nodes"])
    name = data.get("meta", {}).get("node")
    return {name if isinstance(name, str) and name else "node": data}


def load_trace(path: str | Path) -> dict[str, Any]:
    """Read the trace JSON at ``path``, written by :meth:`Trace.to_json` (one node) or a network trace
    (see :func:`network_trace`); ``ValueError`` names the first bad field."""
    data = json.loads(Path(path).read_text())
    if isinstance(data, dict) and "nodes" in data:
        if not isinstance(data["nodes"], Mapping) or not data["nodes"]:
            raise ValueError(f"{path}: 'nodes' must map node names to their traces")
        for node, trace in data["nodes"].items():
            check_trace(trace, f"{path} (node {node!r})")
        return data
    check_trace(data, str(path))
    return data


def check_trace(data: Any, where: str = "trace") -> None:
    """Raise ``ValueError`` (naming ``where``, the entry and the field) unless ``data`` has the shape
    :meth:`Trace.to_dict` gives."""
    if not isinstance(data, Mapping) or not isinstance(data.get("entries"), list):
        raise ValueError(f"{where}: not a qnodeos trace (no 'entries' list)")
    if not isinstance(data.get("meta", {}), Mapping):
        raise ValueError(f"{where}: 'meta' must be an object")
    for i, entry in enumerate(data["entries"]):
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: entry {i} is not an object")
        for name, types in _ENTRY_FIELDS.items():
            value = entry.get(name)
            if not isinstance(value, types) or isinstance(value, bool):
                raise ValueError(f"{where}: entry {i} field {name!r} = {value!r} is not a {types[0].__name__}")
        if not all(isinstance(p, str) for p in entry["physical"]):
            raise ValueError(f"{where}: entry {i} field 'physical' must list operation names")
        if entry["end_ns"] < entry["start_ns"]:
            raise ValueError(f"{where}: entry {i} ends ({entry['end_ns']}) before it starts ({entry['start_ns']})")


def plot_trace(data: dict[str, Any], out: str | Path, title: str | None = None) -> Path:
    """Draw the timeline of ``data`` into a PNG at ``out``, headed ``title`` (see
    :func:`qnodeos.trace_plot.plot_trace`; needs the ``plot`` extra)."""
    from .trace_plot import plot_trace as plot

    return plot(data, out, title)

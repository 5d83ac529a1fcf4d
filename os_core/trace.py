"""The per-instruction timeline: which process ran which NetQASM instruction, as which physical
operations, from when to when in device time — exportable as JSON and drawable as a Gantt chart."""
from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qnodeos.hal import instruction_name


@dataclass(frozen=True)
class TraceEntry:
    pid: int
    process: str
    subroutine: int
    line: int
    instruction: str
    physical: tuple[str, ...]
    start_ns: int
    end_ns: int

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "process": self.process, "subroutine": self.subroutine, "line": self.line,
                "instruction": self.instruction, "physical": list(self.physical),
                "start_ns": self.start_ns, "end_ns": self.end_ns}


class Trace:
    """Cheap to record (a tuple append per instruction); converted to entries only when read."""

    def __init__(self, enabled: bool = True, max_rows: int | None = None) -> None:
        self.enabled = enabled
        # A long-running node keeps only the latest ``max_rows`` instructions.
        self._rows: list[tuple] | deque = [] if max_rows is None else deque(maxlen=max_rows)
        self.process_names: dict[int, str] = {}
        self.meta: dict[str, Any] = {}
        if not enabled:
            self.record = self._skip  # type: ignore[method-assign]

    def bound(self, max_rows: int) -> None:
        """Keep only the latest ``max_rows`` rows from now on (for long-running nodes)."""
        if not isinstance(self._rows, deque) or self._rows.maxlen != max_rows:
            self._rows = deque(self._rows, maxlen=max_rows)

    def record(self, pid: int, subroutine: int, line: int, instr: Any, start: int, end: int,
               physical: tuple) -> None:
        self._rows.append((pid, subroutine, line, instr, start, end, physical))

    def _skip(self, *args: Any) -> None:
        pass

    def __len__(self) -> int:
        return len(self._rows)

    def entries(self) -> list[TraceEntry]:
        return [TraceEntry(pid, self.process_names.get(pid, str(pid)), sub, line, str(instr).strip(),
                           tuple(instruction_name(p) for p in phys), start, end)
                for pid, sub, line, instr, start, end, phys in self._rows]

    def to_dict(self) -> dict[str, Any]:
        return {"meta": self.meta, "entries": [e.to_dict() for e in self.entries()]}

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            Path(path).write_text(text)
        return text


def load_trace(path: str | Path) -> dict[str, Any]:
    """Read a trace JSON written by :meth:`Trace.to_json` (checks its shape)."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or "entries" not in data:
        raise ValueError(f"{path}: not a qnodeos trace (no 'entries')")
    return data


def plot_trace(data: dict[str, Any], out: str | Path, title: str | None = None) -> Path:
    """Draw a Gantt chart of the device-busy instructions per process into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = [e for e in data["entries"] if e["end_ns"] > e["start_ns"]]
    lanes = sorted({(e["pid"], e["process"]) for e in data["entries"]})
    lane_of = {pid: i for i, (pid, _) in enumerate(lanes)}
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.6 * max(1, len(lanes))))
    colours: dict[str, Any] = {}
    cmap = plt.get_cmap("tab10")
    for e in entries:
        kind = e["instruction"].split()[0] if e["instruction"] else "?"
        colour = colours.setdefault(kind, cmap(len(colours) % 10))
        ax.broken_barh([(e["start_ns"] / 1e3, (e["end_ns"] - e["start_ns"]) / 1e3)],
                       (lane_of[e["pid"]] - 0.4, 0.8), facecolors=colour)
    ax.set_yticks(range(len(lanes)), [f"{name} (pid {pid})" for pid, name in lanes])
    ax.set_xlabel("device time (µs)")
    util = data.get("meta", {}).get("utilisation")
    ax.set_title(title or ("qnodeos timeline" + (f" — utilisation {util:.1%}" if util is not None else "")))
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
    if handles:
        ax.legend(handles, list(colours), loc="upper right", fontsize="small", ncol=min(6, len(handles)))
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out

"""A trace as a static Gantt chart (PNG): one lane per process, one bar per device-busy instruction.

Needs matplotlib, which the ``plot`` extra installs (``pip install 'qnodeos[plot]'``). For zooming
through long runs, export the trace for Perfetto instead (:mod:`qnodeos.trace_events`).

Readability rules: the legend sits beside the lanes, never on them; a bar is at least
:data:`MIN_BAR_PX` pixels wide however short the instruction (and drawn over its neighbours); the time axis uses the unit (ns, µs, ms,
s) in which the run's end is a number below 10,000.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import QNodeOSError

#: Narrowest bar drawn, in pixels: a 10 µs gate in a one-second run stays visible.
MIN_BAR_PX = 2.0
DPI = 110
WIDTH_IN = 10.0
#: Lanes taller than this in total are squeezed (a run of 1,000 processes still gives a readable PNG).
MAX_HEIGHT_IN = 20.0
_UNITS = ((1e4, "ns", 1.0), (1e7, "µs", 1e3), (1e10, "ms", 1e6))


class PlotUnavailable(QNodeOSError):
    """matplotlib is not installed (it comes with the ``plot`` extra)."""


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise PlotUnavailable("drawing a timeline needs matplotlib: pip install 'qnodeos[plot]' "
                              "(or export it for Perfetto with `qnodeos trace export`)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def time_unit(end_ns: float) -> tuple[str, float]:
    """(unit name, ns per unit) in which ``end_ns`` is below 10,000."""
    for limit, name, scale in _UNITS:
        if end_ns < limit:
            return name, scale
    return "s", 1e9


def _flatten(data: dict[str, Any]) -> tuple[list[dict[str, Any]], list[tuple[Any, str]]]:
    """Entries with a lane key each, and the lanes (key, label) in order: one lane per process, grouped
    by node for a network trace."""
    from .trace import node_traces

    traces = node_traces(data)
    several = len(traces) > 1 or "nodes" in data
    entries, lanes = [], []
    for node, trace in traces.items():
        for e in trace["entries"]:
            key = (node, e["pid"]) if several else e["pid"]
            entries.append({**e, "lane": key})
        for pid, name in sorted({(e["pid"], e["process"]) for e in trace["entries"]}):
            lanes.append(((node, pid) if several else pid, f"{node}: {name}" if several else f"{name} (pid {pid})"))
    return entries, lanes


def _first_ns(data: dict[str, Any]) -> int:
    """Where the time axis starts: 0, or where every node's trace says its rows begin (a run on
    long-running nodes, see :func:`qnodeos.serve.trace.served_trace`)."""
    from .trace import node_traces

    starts = [t.get("meta", {}).get("trace", {}).get("from_ns") for t in node_traces(data).values()]
    return min(starts) if starts and all(isinstance(s, int) for s in starts) else 0


def draw_timeline(data: dict[str, Any], title: str | None = None) -> Any:
    """The Gantt chart of the trace ``data`` (as :meth:`qnodeos.trace.Trace.to_dict` gives, or a
    network trace of several nodes, see :func:`qnodeos.trace.network_trace`) as a matplotlib figure,
    headed ``title`` (default: "qnodeos timeline" with the utilisation). Waits are hatched."""
    plt = _pyplot()
    entries, lanes = _flatten(data)
    lane_of = {key: i for i, (key, _) in enumerate(lanes)}
    end_ns = max((e["end_ns"] for e in entries), default=0)
    unit, scale = time_unit(end_ns)
    cmap = plt.get_cmap("tab20")
    kinds: dict[str, Any] = {}
    bars: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for e in entries:
        if e["end_ns"] <= e["start_ns"]:
            continue  # classical: the device was not busy
        words = e["instruction"].split()
        kind = ("wait" if words and words[0] == "wait:" else words[0]) if words else "?"
        kinds.setdefault(kind, (0.85, 0.85, 0.85, 1.0) if kind == "wait" else cmap(len(kinds) % 20))
        bars.setdefault((kind, lane_of[e["lane"]]), []).append(
            (e["start_ns"] / scale, (e["end_ns"] - e["start_ns"]) / scale))

    lane_in = max(0.12, min(0.5, (MAX_HEIGHT_IN - 1.5) / max(1, len(lanes))))
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 1.5 + lane_in * max(1, len(lanes))), dpi=DPI)
    x_min = _first_ns(data) / scale
    x_max = max(end_ns / scale, 1e-9) * 1.01
    x_max = x_min + max(x_max - x_min, 1e-9)
    ax.set_xlim(x_min, x_max)
    step = max(1, len(lanes) // 40)  # at most ~40 lane labels
    ax.set_yticks(range(0, len(lanes), step), [label for _, label in lanes[::step]],
                  fontsize="small" if len(lanes) > 10 else None)
    ax.set_ylim(len(lanes) - 0.4, -0.6)  # first process on top
    ax.set_xlabel(f"device time ({unit})")
    meta = data.get("meta", {})
    util = meta.get("utilisation")
    subtitle = f" — utilisation {util:.1%}" if isinstance(util, (int, float)) else ""
    kept = meta.get("trace", {})
    if isinstance(kept, dict) and kept.get("dropped"):
        subtitle += f" (latest {len(entries)} of {kept.get('recorded')} instructions)"
    ax.set_title(title or f"qnodeos timeline{subtitle}")
    if kinds:
        handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in kinds.values()]
        ax.legend(handles, list(kinds), loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
                  fontsize="small", title="instruction", frameon=False)
    fig.tight_layout()
    # Bars last, once the layout fixed the axes' width: the minimum width is in pixels of that.
    axes_px = ax.get_position().width * fig.get_figwidth() * fig.dpi
    min_width = (x_max - x_min) * MIN_BAR_PX / axes_px
    for (kind, lane), spans in bars.items():
        # Widened bars go on top, so the next instruction's bar does not cover them again.
        for widened in (False, True):
            group = [(start, max(width, min_width)) for start, width in spans if (width < min_width) == widened]
            if group:
                wait = kind == "wait"
                ax.broken_barh(group, (lane - (0.25 if wait else 0.4), 0.5 if wait else 0.8), facecolors=kinds[kind],
                               gid=f"bars-{kind}", zorder=1.5 if wait else (2.5 if widened else 2.0),
                               hatch="///" if wait else None, edgecolor="0.6" if wait else None, linewidth=0)
    return fig


def plot_trace(data: dict[str, Any], out: str | Path, title: str | None = None) -> Path:
    """Draw the timeline of the trace ``data`` (see :func:`draw_timeline`, which ``title`` goes to)
    into a PNG at ``out`` and return its path (what ``qnodeos trace plot`` does)."""
    plt = _pyplot()
    fig = draw_timeline(data, title)
    out = Path(out)
    try:
        fig.savefig(out, dpi=DPI, bbox_inches="tight")
    finally:
        plt.close(fig)
    return out

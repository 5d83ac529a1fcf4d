"""Small server-rendered SVG plots of a job's results (no plotting library needed): a bar chart of
outcome counts, or a histogram of a numeric quantity with its mean ± standard error marked.

Each SVG carries a ``<title>`` and ``role="img"`` with a text alternative, so a screen reader announces
what the picture shows; all text is escaped. A run's timeline is drawn as a PNG by the renderer of
``qnodeos trace plot`` (matplotlib, the ``plot`` extra).
"""
from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

WIDTH, HEIGHT = 420, 220
LEFT, RIGHT, TOP, BOTTOM = 46, 12, 28, 42


def _frame(title: str, description: str, body: list[str]) -> str:
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label={quoteattr(description)} font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(description)}</desc>",
        '<rect width="100%" height="100%" fill="#fff"/>',
        f'<text x="{LEFT}" y="16" font-size="12" font-weight="bold" fill="#111">{escape(title)}</text>',
        *body, "</svg>"])


def _axes(ymax: int) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    out = [f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#333"/>',
           f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" stroke="#333"/>']
    for tick in sorted({0, ymax // 2, ymax}):
        y = HEIGHT - BOTTOM - plot_h * tick / max(ymax, 1)
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#333">{tick}</text>')
    out.append(f'<text x="12" y="{TOP + plot_h / 2:.0f}" transform="rotate(-90 12 {TOP + plot_h / 2:.0f})" '
               'text-anchor="middle" fill="#333">runs</text>')
    return out


def _bars(labels: Sequence[str], counts: Sequence[int]) -> list[str]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    ymax = max(counts) if counts else 1
    slot = plot_w / max(len(counts), 1)
    out = _axes(ymax)
    for i, (label, count) in enumerate(zip(labels, counts)):
        h = plot_h * count / ymax
        x = LEFT + i * slot + slot * 0.15
        out.append(f'<rect x="{x:.1f}" y="{HEIGHT - BOTTOM - h:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                   f'fill="#2b6cb0"><title>{escape(label)}: {count}</title></rect>')
        if len(counts) <= 12:
            out.append(f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" '
                       f'fill="#111">{escape(label[:12])}</text>')
    return out


def histogram_svg(title: str, histogram: Mapping[str, int]) -> str:
    """Bars of outcome counts (labels in the given order)."""
    labels, counts = list(histogram), [int(c) for c in histogram.values()]
    description = f"{title}: " + ", ".join(f"{label} in {count} runs" for label, count in zip(labels, counts))
    return _frame(title, description, _bars(labels, counts))


def numeric_svg(title: str, values: Sequence[float], mean: float, std_error: float | None, bins: int = 12) -> str:
    """A histogram of ``values`` with the mean (line) and ± one standard error (band)."""
    lo, hi = min(values), max(values)
    if hi - lo <= 1e-9 * max(1.0, abs(lo), abs(hi)):  # one value (up to rounding): one bar in the middle
        lo, hi = lo - 0.5, hi + 0.5
    counts = [0] * bins
    for v in values:
        counts[min(int((v - lo) / (hi - lo) * bins), bins - 1)] += 1
    plot_w = WIDTH - LEFT - RIGHT
    body = _bars([""] * bins, counts)

    def x_of(v: float) -> float:
        return LEFT + plot_w * (v - lo) / (hi - lo)

    err = "" if std_error is None else f" ± {std_error:.4g}"
    if std_error is not None and math.isfinite(std_error):
        a, b = x_of(max(lo, mean - std_error)), x_of(min(hi, mean + std_error))
        body.append(f'<rect x="{a:.1f}" y="{TOP}" width="{max(b - a, 1):.1f}" height="{HEIGHT - TOP - BOTTOM}" '
                    'fill="#e53e3e" fill-opacity="0.2"/>')
    body.append(f'<line x1="{x_of(mean):.1f}" y1="{TOP}" x2="{x_of(mean):.1f}" y2="{HEIGHT - BOTTOM}" '
                'stroke="#c53030" stroke-width="2"/>')
    body.append(f'<text x="{LEFT}" y="{HEIGHT - BOTTOM + 14}" fill="#111">{lo:.4g}</text>')
    body.append(f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - BOTTOM + 14}" text-anchor="end" fill="#111">{hi:.4g}</text>')
    body.append(f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 8}" text-anchor="middle" fill="#111">'
                f'mean {mean:.4g}{escape(err)} (n = {len(values)})</text>')
    description = f"{title}: {len(values)} runs between {lo:.4g} and {hi:.4g}, mean {mean:.4g}{err}"
    return _frame(title, description, body)


_TIMELINE_LOCK = threading.Lock()  # pyplot keeps global state: one drawing at a time


def timeline_png(source: Path) -> Path:
    """The PNG drawing of a run's ``timeline.json`` (drawn once, next to it, with ``qnodeos trace
    plot``'s renderer). Raises ValueError when the file holds no timeline (the nodes could not be read)."""
    out = source.with_name("timeline.png")
    with _TIMELINE_LOCK:
        if out.exists() and out.stat().st_mtime >= source.stat().st_mtime:
            return out
        data = json.loads(source.read_text(encoding="utf-8"))
        if "error" in data:
            raise ValueError(data["error"])
        from ..trace_plot import plot_trace

        partial = out.with_name("timeline.part.png")  # renamed when complete: no reader sees half a file
        plot_trace(data, partial, title="the run's timeline")
        partial.replace(out)
    return out

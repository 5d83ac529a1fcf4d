"""Run the rows of :mod:`.rows` and present them: a table for people, a JSON form for scripts."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, TextIO

from qnodeos.drivers.config import IonConfig, NVConfig

from .figures import SIGMAS, Measured, Published, agrees
from .measure import Context
from .rows import Pending, Row, pending_for, rows_for

PLATFORMS: dict[str, type[NVConfig] | type[IonConfig]] = {"nv": NVConfig, "trapped_ion": IonConfig}
#: Keys that only size the register; a preset setting nothing else validates as its base.
_SIZE_KEYS = {"ions", "carbons"}


@dataclass(frozen=True)
class RowResult:
    """One row of ``qnodeos validate``: the published figure (``row``), what the mocks gave
    (``measured``), whether the two ``agree``, and how many ``seconds`` the measurement took."""

    row: Row
    measured: Measured
    agree: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The row as plain data (``qnodeos validate --json``)."""
        p = self.row.published
        return {
            "platform": self.row.platform, "preset": self.row.preset, "figure": self.row.figure,
            "unit": p.unit, "paper": {"value": p.value, "error": p.error, "tolerance": p.tolerance,
                                      "tolerance_why": p.tolerance_why, "source": p.source, "status": p.status,
                                      "reported": p.reported},
            "mock": {"value": self.measured.value, "error": self.measured.error, "method": self.measured.method},
            "basis": self.row.basis, "agree": self.agree, "seconds": round(self.seconds, 3),
        }


def resolve(preset: str) -> set[tuple[str, str]]:
    """(platform, preset) pairs whose rows ``preset`` selects: a preset that only renames (or resizes)
    another validates as that one (``realistic`` -> the QNodeOS presets)."""
    found: set[tuple[str, str]] = set()
    for platform, cls in PLATFORMS.items():
        if preset not in cls.presets():
            continue
        name = preset
        tables = cls._tables()
        while set(tables[name]) - {"base", "description"} <= _SIZE_KEYS and "base" in tables[name]:
            name = tables[name]["base"]
        found.add((platform, name))
    return found


def validate(presets: list[str] | None = None, ctx: Context | None = None) -> tuple[list[RowResult], list[Pending]]:
    """Measure every row of ``presets`` (all rows for None) and judge agreement: what ``qnodeos
    validate`` does. ``ctx``: the seed and sample sizes (default: seed 1, default sizes). Returns the
    rows measured and those still pending (needing what the mocks cannot give yet)."""
    ctx = ctx or Context()
    selected: set[tuple[str, str]] | None = None
    if presets:
        selected = set()
        for name in presets:
            selected |= resolve(name)
    results = []
    for row in rows_for(selected):
        start = time.perf_counter()
        measured = row.measure(row.platform, row.preset, ctx)
        results.append(RowResult(row, measured, agrees(row.published, measured), time.perf_counter() - start))
    return results, pending_for(selected)


def presets_with_rows() -> list[str]:
    return list(dict.fromkeys(r.preset for r in rows_for(None)))


# -- presentation -------------------------------------------------------------------------------------
def _fmt(value: float, error: float | None, unit: str) -> str:
    """``value ± error unit`` with two significant digits of the error (4 of the value without one)."""
    u = f" {unit}" if unit else ""
    if not error:
        return f"{value:.3e}{u}" if 0 < abs(value) < 1e-3 else f"{value:.4g}{u}"
    if abs(value) < 1e-3:
        return f"{value:.3e} ± {error:.1e}{u}"
    digits = max(0, 1 - math.floor(math.log10(error)))
    return f"{value:.{digits}f} ± {error:.{digits}f}{u}"


def paper_text(p: Published) -> str:
    if p.error is not None:
        return _fmt(p.value, p.error, p.unit)
    return f"{_fmt(p.value, None, p.unit)} (tol. ±{p.tolerance:g})"


def mock_text(m: Measured, unit: str) -> str:
    return _fmt(m.value, m.error, unit) if m.error else f"{_fmt(m.value, None, unit)} (exact)"


def print_table(results: list[RowResult], pending: list[Pending], file: TextIO | None = None) -> None:
    """The table (one line per figure) and, under it, each row's source and how it was measured."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=file, width=max(Console(file=file).width, 120))
    table = Table(title="qnodeos validate: published figures vs the mock devices", title_justify="left")
    for name in ("#", "preset", "figure", "paper", "mock", "basis", "agree"):
        table.add_column(name, overflow="fold", no_wrap=name not in ("figure",))
    for i, r in enumerate(results, 1):
        p = r.row.published
        verdict = Text("yes", style="green") if r.agree else Text("NO", style="bold red")
        table.add_row(str(i), r.row.preset, r.row.figure, paper_text(p), mock_text(r.measured, p.unit),
                      r.row.basis, verdict)
    console.print(table)
    for i, r in enumerate(results, 1):
        p = r.row.published
        note = f"{i}. paper: {p.source} [{p.status}]" + (f"; {p.reported}" if p.reported else "")
        if p.tolerance_why:
            note += f"; tolerance: {p.tolerance_why}"
        console.print(note + f". mock: {r.measured.method}.", highlight=False, markup=False)
    console.print(f"agree = within {SIGMAS:g} combined standard deviations, or within the stated tolerance "
                  f"(+{SIGMAS:g} sigma of the mock) where the paper gives no error bar. basis: predicted = no "
                  "parameter was chosen for this figure; fitted = a parameter was chosen so that it comes out; "
                  "configured = the figure is a preset value, measured back through the devices.", highlight=False, markup=False)
    if pending:
        console.print("pending (need the network timeline or more nodes):", highlight=False)
        for waiting in pending:
            console.print(f"  {waiting.preset}: {waiting.figure} = {paper_text(waiting.published)} "
                          f"[{waiting.published.status}]; needs {waiting.needs}", highlight=False, markup=False)


def to_json(results: list[RowResult], pending: list[Pending], ctx: Context) -> dict[str, Any]:
    return {
        "settings": {"seed": ctx.seed, "samples": ctx.samples, "sigmas": SIGMAS},
        "rows": [r.to_dict() for r in results],
        "pending": [{"platform": p.platform, "preset": p.preset, "figure": p.figure, "paper": p.published.value,
                     "unit": p.published.unit, "source": p.published.source, "needs": p.needs} for p in pending],
        "all_agree": all(r.agree for r in results),
    }

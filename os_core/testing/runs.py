"""Run an application directory many times on mock hardware and collect what each role returned."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..apps.runner import run_app_dir


@dataclass
class AppRuns:
    """Per-role results of several runs (``results[role][i]`` is run i's return value; None where the
    role raised), with the errors of each run."""

    results: dict[str, list[Any]] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)
    stats: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(self.errors)

    def values(self, role: str, key: str) -> list[Any]:
        """``results[role][i][key]`` of every run (a role returning a dict, as netqasm apps do)."""
        return [r[key] for r in self.results[role]]


def run_app(app_dir: str | Path, runs: int = 1, *, platform: str = "nv", preset: str = "realistic",
            seed: int | None = 0, mode: str = "threads", inputs: dict[str, dict[str, Any]] | None = None,
            **kwargs: Any) -> AppRuns:
    """Run ``app_dir`` ``runs`` times (seeds ``seed``, ``seed + 1``, …; fresh nodes each time) and return
    every role's results. ``kwargs`` go to :func:`qnodeos.apps.runner.run_app_dir` (timing, device_config,
    timeouts …)."""
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ValueError(f"runs={runs!r} must be a positive integer")
    out = AppRuns()
    for i in range(runs):
        run = run_app_dir(app_dir, platform, seed=None if seed is None else seed + i, preset=preset, mode=mode,
                          overrides=inputs, **kwargs)
        for role, value in run.results.items():
            out.results.setdefault(role, []).append(value)
        out.errors.append(dict(run.errors))
        out.stats.append(run.stats)
    return out

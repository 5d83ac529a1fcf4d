"""The NV heralded-pair fidelity against alpha: each NV preset's model curve and the papers' points."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from qnodeos.drivers.mock_nv import MockNVDevice

from .rows import ROWS

#: Presets drawn, and where a paper's fidelity point sits on the alpha axis (the preset's alpha,
#: which was fitted to that point: no paper here publishes the alpha of its figure).
CURVE_PRESETS = ("qnodeos-nv-2025", "humphreys-2018", "pompili-2021")


def fidelity_curve(preset: str, alphas: np.ndarray) -> np.ndarray:
    """Fidelity of the heralded state at each alpha (density matrix of the preset's link model)."""
    return np.array([MockNVDevice.from_config(preset=preset, alpha=float(a)).link_params().fidelity for a in alphas])


def plot_alpha_curve(path: str | Path) -> Path:
    """Write the PNG; returns its path. matplotlib is imported here only."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    alphas = np.linspace(0.01, 0.5, 60)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for preset, style in zip(CURVE_PRESETS, ("-", "--", "-.")):  # the presets share their optics: curves overlap
        line, = ax.plot(alphas, fidelity_curve(preset, alphas), style, label=f"mock: {preset}")
        alpha = MockNVDevice.from_config(preset=preset).config.alpha
        for row in ROWS:
            if row.preset == preset and row.figure.endswith("fidelity") and row.platform == "nv":
                p = row.published
                err = p.error if p.error is not None else p.tolerance
                ax.errorbar([alpha], [p.value], yerr=None if err is None else [err], fmt="o", mfc="none",
                            color=line.get_color(),
                            capsize=3, label=f"{row.figure} [{p.status}] at the preset's fitted alpha")
    ax.plot(alphas, 1 - alphas, ":", color="grey", label="1 - alpha (perfect optics)")
    ax.set_xlabel("bright-state population alpha")
    ax.set_ylabel("heralded-pair fidelity")
    ax.set_ylim(0.4, 1.0)
    ax.set_title("NV single-click link: fidelity vs alpha")
    ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out

"""The network demos: teleportation and entanglement-based QKD through the OS, nodes as processes.

Teleportation uses a small SDK application of ours whose receiver reports the state it ends up with
(possible on mock hardware), so each run gives a fidelity. QKD is netqasm's own bundled BB84 example
(entanglement-based, BBM92), run unchanged: it reports the raw key, the QBER and the sifting counts.
"""
from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import netqasm
import numpy as np

from qnodeos.apps.runner import run_app_dir

TELEPORT_APP = Path(__file__).parent / "apps" / "teleport"
APP_LOG = os.path.join(tempfile.gettempdir(), "qnodeos-demo-apps.log")  # what the applications print
BB84_APP = Path(netqasm.__file__).parent / "examples" / "apps" / "bb84"


@dataclass
class TeleportReport:
    platform: str
    runs: int
    mean_fidelity: float
    min_fidelity: float
    wall_s_per_run: float


@dataclass
class QkdReport:
    platform: str
    pairs: int
    sifted: int
    qber: float
    device_time_s: float
    wall_s: float

    @property
    def key_rate_hz(self) -> float:
        return self.sifted / self.device_time_s if self.device_time_s else float("nan")


def _target(theta: float, phi: float) -> np.ndarray:
    return np.array([math.cos(theta / 2), np.exp(1j * phi) * math.sin(theta / 2)])


def run_teleport(platform: str, runs: int, seed: int = 1, preset: str = "realistic", mode: str = "processes",
                 progress: Callable[[int], None] | None = None) -> TeleportReport:
    rng = np.random.default_rng(seed)
    fidelities = []
    start = time.perf_counter()
    for k in range(runs):
        theta, phi = float(rng.uniform(0, math.pi)), float(rng.uniform(0, 2 * math.pi))
        run = run_app_dir(TELEPORT_APP, platform, seed=seed + k, preset=preset, mode=mode,
                          overrides={"sender": {"theta": theta, "phi": phi}}, app_output=APP_LOG)
        if not run.ok:
            raise RuntimeError(f"teleport run {k} on {platform}: {run.errors}")
        rho = np.array(run.results["receiver"]["state"])
        psi = _target(theta, phi)
        fidelities.append(float(np.real(psi.conj() @ rho @ psi)))
        if progress:
            progress(k + 1)
    return TeleportReport(platform, runs, float(np.mean(fidelities)), float(np.min(fidelities)),
                          (time.perf_counter() - start) / runs)


def run_qkd(platform: str, pairs: int, seed: int = 1, preset: str = "realistic",
            mode: str = "processes") -> QkdReport:
    start = time.perf_counter()
    run = run_app_dir(BB84_APP, platform, seed=seed, preset=preset, mode=mode,
                      overrides={"alice": {"num_bits": pairs}, "bob": {"num_bits": pairs}}, app_output=APP_LOG)
    if not run.ok:
        raise RuntimeError(f"QKD on {platform}: {run.errors}")
    alice = run.results["alice"]
    device_s = max(s["elapsed_ns"] for s in run.stats.values()) / 1e9
    return QkdReport(platform, pairs, int(alice["same_basis_count"]), float(alice["qber"]), device_s,
                     time.perf_counter() - start)

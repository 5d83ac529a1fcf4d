"""Physics of a heralded entanglement link: success probability per attempt and the delivered state.

What the heralding station (:mod:`qnodeos.drivers.heralding`) samples from. Kept apart from the
station's timing and bookkeeping so that the link model can grow (schemes, loss, noise sources)
without touching how attempts are scheduled and resolved.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qnodeos.hal.errors import ConfigError
from qnodeos.hal.responses import BellState

SCHEMES = ("single-click", "double-click")

_KET = {
    BellState.PHI_PLUS: np.array([1, 0, 0, 1]) / math.sqrt(2),
    BellState.PHI_MINUS: np.array([1, 0, 0, -1]) / math.sqrt(2),
    BellState.PSI_PLUS: np.array([0, 1, 1, 0]) / math.sqrt(2),
    BellState.PSI_MINUS: np.array([0, 1, -1, 0]) / math.sqrt(2),
}
_PARTNER = {BellState.PSI_PLUS: BellState.PSI_MINUS, BellState.PSI_MINUS: BellState.PSI_PLUS,
            BellState.PHI_PLUS: BellState.PHI_MINUS, BellState.PHI_MINUS: BellState.PHI_PLUS}


def bell_projector(bell: BellState) -> np.ndarray:
    """|B><B| for a Bell state (first qubit most significant)."""
    ket = _KET[bell].astype(np.complex128)
    return np.outer(ket, ket.conj())


@dataclass(frozen=True)
class LinkParams:
    """Physics of one heralded link.

    ``scheme``: ``"single-click"`` (NV; Humphreys et al. 2018, Hermans et al. 2022) or
    ``"double-click"`` (trapped ions; Barrett & Kok 2005). ``alpha`` is the bright-state population
    (single-click only), ``detection_efficiency`` eta = 1 - photon loss, ``dark_count_probability``
    per detector per window, ``visibility`` of the two-photon interference.
    """

    scheme: str
    detection_efficiency: float
    dark_count_probability: float
    visibility: float
    attempt_duration_ns: int
    alpha: float = 0.5
    sync_timeout_s: float = 2.0

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ConfigError(f"heralding link: scheme={self.scheme!r} is unknown (choose one of {SCHEMES})")
        for name in ("detection_efficiency", "dark_count_probability", "visibility"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"heralding link: {name}={v!r} is out of range [0, 1]")
        if not 0.0 < self.alpha <= 0.5:
            raise ConfigError(f"heralding link: alpha={self.alpha!r} is out of range (0, 0.5]")
        if self.attempt_duration_ns < 1:
            raise ConfigError(f"heralding link: attempt_duration_ns={self.attempt_duration_ns!r} must be >= 1")
        if not self.sync_timeout_s > 0:
            raise ConfigError(f"heralding link: sync_timeout_s={self.sync_timeout_s!r} must be > 0")

    # -- herald probabilities (per attempt) --------------------------------------------------------
    def _photon_herald_probability(self) -> float:
        eta = self.detection_efficiency
        if self.scheme == "single-click":
            # one photon from either node (each bright with probability alpha) reaches a detector
            return min(1.0, 2.0 * self.alpha * eta)
        return eta * eta / 2.0  # one photon detected in each of the two rounds, in the right pattern

    def _dark_herald_probability(self) -> float:
        pd = self.dark_count_probability
        if self.scheme == "single-click":
            return 2.0 * pd  # a dark count in either of the two detectors
        # approximately: a real click in one round and a dark count in the other
        return 2.0 * self.detection_efficiency * pd

    @property
    def success_probability(self) -> float:
        """Probability that one attempt is heralded (true photon heralds plus dark-count heralds)."""
        return min(1.0, self._photon_herald_probability() + self._dark_herald_probability())

    # -- delivered states ---------------------------------------------------------------------------
    def heralded_state(self, bell: BellState) -> np.ndarray:
        """The two-qubit state delivered with a herald of ``bell`` (swap-symmetric, so either node
        may take its own qubit first).

        Single-click: each spin is sqrt(1-alpha)|0> + sqrt(alpha)|1>, with |1> the *bright* state
        that scatters a photon. One click leaves (1-alpha)[(1+V)/2 |B><B| + (1-V)/2 |B'><B'|]
        + alpha|11><11| (both bright, one photon lost), B = the Psi of the detector that clicked.
        Double-click: (1+V)/2 |B><B| + (1-V)/2 |B'><B'|. A dark-count herald delivers a state with
        no coherence; it is mixed in with its relative weight.
        """
        v = self.visibility
        true = (1 + v) / 2 * bell_projector(bell) + (1 - v) / 2 * bell_projector(_PARTNER[bell])
        if self.scheme == "single-click":
            a = self.alpha
            bright = np.zeros((4, 4), dtype=np.complex128)
            bright[3, 3] = 1.0
            true = (1 - a) * true + a * bright
            spin = np.diag([1 - a, a]).astype(np.complex128)
            dark = np.kron(spin, spin)
        else:
            dark = np.diag([0.0, 0.5, 0.5, 0.0]).astype(np.complex128)
        p_true, p_dark = self._photon_herald_probability(), self._dark_herald_probability()
        if p_true + p_dark == 0.0:
            return true
        return (p_true * true + p_dark * dark) / (p_true + p_dark)

    @property
    def fidelity(self) -> float:
        """Fidelity of the delivered state to the heralded Bell state (same for Psi+ and Psi-)."""
        rho = self.heralded_state(BellState.PSI_PLUS)
        return float(np.real(np.trace(bell_projector(BellState.PSI_PLUS) @ rho)))

    def unheralded_state(self) -> np.ndarray:
        """The communication qubit after attempts that all failed: emitted, photon lost, no
        coherence left (single-click: bright with probability alpha; double-click: fully mixed)."""
        a = self.alpha if self.scheme == "single-click" else 0.5
        return np.diag([1 - a, a]).astype(np.complex128)

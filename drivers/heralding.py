"""The heralding station between two mock devices: rendezvous, attempt sampling, delivered state.

In a real link both QDevices emit photons in agreed time slots and a midpoint station (beam
splitter, detectors, a time tagger) tells both whether an attempt was heralded. Here the station is
an object both devices hold. A device executing ``EntangleAttempt`` blocks in :meth:`attempt` until
the peer's matching attempt arrives (wall-clock timeout, then ``ENT_SYNC_FAILURE``). The second
arrival resolves the pair for both: it aligns the window, draws the number of attempts to the first
herald *once* from the station's own seeded generator (so the result does not depend on which thread
came first) and writes the heralded two-qubit state into the shared state space.

The station touches only the shared state space; each device applies its own bookkeeping (clock,
idle noise, carbon dephasing) in its own thread, which keeps the locking order simple:
device lock -> station condition -> state-space lock, never the other way round.
"""
from __future__ import annotations

import itertools
import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from qnodeos.hal.errors import ConfigError
from qnodeos.hal.instructions import EntangleAttempt
from qnodeos.hal.responses import BellState, Status

if TYPE_CHECKING:
    from .mock_device import MockDevice

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


@dataclass(frozen=True)
class LinkResult:
    """What the station tells one side; the device turns it into a :class:`Response`."""

    status: Status
    start_ns: int
    end_ns: int
    attempts: int = 0
    pair_id: int | None = None
    bell_state: BellState | None = None
    message: str = ""


@dataclass
class _Request:
    device: "MockDevice"
    instr: EntangleAttempt
    handle: int
    ready_ns: int
    result: LinkResult | None = field(default=None)


class HeraldingStation:
    """The midpoint station of the link between ``dev_a`` and ``dev_b`` (see module docstring).

    ``params`` defaults to ``dev_a.link_params()``; ``seed`` seeds the station's own generator.
    """

    def __init__(self, dev_a: "MockDevice", dev_b: "MockDevice", params: LinkParams | None = None,
                 seed: int | None = None, *, sync_timeout_s: float | None = None) -> None:
        if dev_a is dev_b or dev_a.node == dev_b.node:
            raise ConfigError(f"heralding station: both ends are node {dev_a.node!r}; link two different nodes")
        if dev_a.state_space is not dev_b.state_space:
            raise ConfigError(
                f"heralding station: nodes {dev_a.node!r} and {dev_b.node!r} do not share one SharedStateSpace "
                "(create both devices with the same state_space=...)")
        self.params = params if params is not None else dev_a.link_params()
        self.sync_timeout_s = self.params.sync_timeout_s if sync_timeout_s is None else float(sync_timeout_s)
        if not self.sync_timeout_s > 0:
            raise ConfigError(f"heralding station: sync_timeout_s={self.sync_timeout_s!r} must be > 0")
        self._devices = (dev_a, dev_b)
        self._space = dev_a.state_space
        self._rng = np.random.default_rng(seed)
        self._pair_ids = itertools.count()
        self._cond = threading.Condition()
        self._pending: dict[int, _Request | None] = {0: None, 1: None}
        dev_a.attach_link(dev_b.node, self)
        dev_b.attach_link(dev_a.node, self)

    @property
    def nodes(self) -> tuple[str, str]:
        return (self._devices[0].node, self._devices[1].node)

    def _side(self, device: "MockDevice") -> int:
        for i, d in enumerate(self._devices):
            if d is device:
                return i
        raise ConfigError(f"heralding station {self.nodes}: device of node {device.node!r} is not on this link")

    # -- the rendezvous ------------------------------------------------------------------------------
    def attempt(self, device: "MockDevice", instr: EntangleAttempt, handle: int, ready_ns: int) -> LinkResult:
        """Wait for the peer's matching attempt (wall clock), then return this side's result.

        ``handle`` is the state-space qubit of ``device``'s communication qubit and ``ready_ns`` the
        first tick boundary at which the device could start.
        """
        side = self._side(device)
        mine = _Request(device, instr, handle, ready_ns)
        with self._cond:
            if self._pending[side] is not None:
                return self._sync_failure(mine, f"node {device.node!r} is already attempting on this link")
            theirs = self._pending[1 - side]
            if theirs is not None:
                self._pending[1 - side] = None
                mine_result, theirs.result = self._resolve(mine, theirs)
                self._cond.notify_all()
                return mine_result
            self._pending[side] = mine
            self._cond.wait_for(lambda: mine.result is not None, timeout=self.sync_timeout_s)
            if mine.result is None:
                self._pending[side] = None
                peer = self._devices[1 - side].node
                return self._sync_failure(
                    mine, f"peer {peer!r} did not attempt within {self.sync_timeout_s:g} s (wall clock) of "
                          f"{device.node!r}'s attempt")
            return mine.result

    def _sync_failure(self, req: _Request, why: str) -> LinkResult:
        start = req.ready_ns if req.instr.window_start_ns is None else max(req.ready_ns, req.instr.window_start_ns)
        return LinkResult(Status.ENT_SYNC_FAILURE, start, start + self.params.attempt_duration_ns,
                          message=f"{req.instr!r}: {why}")

    def _resolve(self, a: _Request, b: _Request) -> tuple[LinkResult, LinkResult]:
        """Both sides are here: align the window, sample once, deliver the state."""
        if a.instr.tag != b.instr.tag:
            why = f"the two nodes attempt for different purposes: {a.instr.tag!r} and {b.instr.tag!r}"
            return self._sync_failure(a, why), self._sync_failure(b, why)
        wa, wb = a.instr.window_start_ns, b.instr.window_start_ns
        if wa != wb:
            why = f"windows differ: {a.device.node!r} asked for {wa}, {b.device.node!r} for {wb}"
            return self._sync_failure(a, why), self._sync_failure(b, why)
        ready = max(a.ready_ns, b.ready_ns)
        if wa is None:
            tick = math.lcm(a.device.capabilities.tick_ns, b.device.capabilities.tick_ns)
            start = -(-ready // tick) * tick
        elif wa < ready:
            late = a if a.ready_ns > wa else b
            why = f"window start {wa} ns has already passed on {late.device.node!r} (ready at {late.ready_ns} ns)"
            return self._sync_failure(a, why), self._sync_failure(b, why)
        else:
            start = wa
        max_attempts = min(a.instr.max_attempts, b.instr.max_attempts)
        p = self.params.success_probability
        k = int(self._rng.geometric(p)) if p > 0 else max_attempts + 1
        dur = self.params.attempt_duration_ns
        if k > max_attempts:
            lost = self.params.unheralded_state()
            self._space.set_state([a.handle], lost)
            self._space.set_state([b.handle], lost)
            end = start + max_attempts * dur
            msg = f"no herald in {max_attempts} attempt(s)"
            res = LinkResult(Status.ENT_FAILURE, start, end, attempts=max_attempts, message=msg)
            return res, res
        bell = BellState.PSI_PLUS if self._rng.integers(2) == 0 else BellState.PSI_MINUS
        # the delivered state is swap-symmetric, so it is "own qubit first" for both nodes
        self._space.set_state([a.handle, b.handle], self.params.heralded_state(bell))
        pair_id = next(self._pair_ids)
        end = start + k * dur
        res = LinkResult(Status.ENTANGLED, start, end, attempts=k, pair_id=pair_id, bell_state=bell,
                         message=f"pair {pair_id} heralded as {bell.value} after {k} attempt(s)")
        return res, res

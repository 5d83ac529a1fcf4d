"""Physics of a heralded entanglement link: success probability per attempt, the delivered state,
and the link's timing (attempt rate, batch overheads, fibre delays).

What the heralding station (:mod:`qnodeos.drivers.heralding`) samples from. Kept apart from the
station's timing and bookkeeping so that the link model can grow without touching how attempts are
scheduled and resolved.

The model (each term a field of :class:`LinkParams`; qubit order: the node whose configuration
built the parameters first, its peer second):

* **Single click** (NV; Humphreys et al., Nature 558, 268 (2018); Hermans et al., arXiv 2208.07449).
  Each spin starts in sqrt(1-alpha)|0> + sqrt(alpha)|1>; the bright state |1> emits a photon. The
  photons meet on a beam splitter in front of two non-photon-number-resolving detectors; an attempt
  is heralded when exactly one detector clicks. Per detector, with eta_A, eta_B the probabilities
  that a node's photon reaches the station and is detected, p the dark-count probability and
  q = 1 - p:

  ===========  ====================================================================
  |00>         (1-alpha)^2 q p                      (a dark count alone)
  |01>         alpha(1-alpha) q (eta_B/2 + (1-eta_B) p)
  |10>         alpha(1-alpha) q (eta_A/2 + (1-eta_A) p)
  |11>         alpha^2 q (c11 + (1-eta_A)(1-eta_B) p),
               c11 = (eta_A + eta_B)/2 - eta_A eta_B (3 - V)/4  (two photons, bunching)
  coherence    +- alpha(1-alpha) q sqrt(eta_A eta_B V)/2 (1-p2e)^2 exp(-sigma^2/2)
  ===========  ====================================================================

  The coherence carries sqrt(V) (one photon interferes with the *amplitude* of the other node's
  photon), the double-excitation factor (1-p2e)^2 (a second excitation in either node reveals which
  spin was bright: a Z error) and the interferometer phase uncertainty sigma (a Gaussian phase,
  averaged). The herald probability is twice the sum of the populations (two detectors) and
  reduces to alpha (eta_A + eta_B) + 2p to first order; the fidelity to the heralded Bell state is
  (1-alpha)(1 + sqrt(V)(1-p2e)^2 exp(-sigma^2/2))/2 without dark counts and with eta_A = eta_B.
* **Double click** (Barrett & Kok, Phys. Rev. A 71, 060310 (2005): NV on request; trapped ions'
  two-photon Bell-state measurement): a photon from each node, one detected in each of two rounds
  (or both in a coincidence), p_true = eta_A eta_B / 2. The state is
  (1+V')/2 |B><B| + (1-V')/2 |B'><B'| with V' = V (1-p2e)^2, each qubit then depolarised so that
  its qubit-photon state has ``emission_fidelity`` (a Bell-state fidelity F maps to the Werner
  weight (4F-1)/3). A real photon in one round and a dark count in the other heralds with
  probability ~ 2 (eta_A + eta_B) p and delivers the fully mixed state.

Fibre: ``fibre_length_km`` from each node to the midpoint station, attenuated at
``fibre_attenuation_db_per_km``; light takes ``fibre_ns_per_km`` per km, so a herald reaches a node
2 L ns_per_km after its photon left, and the nodes' classical channel (along the same fibre route)
has the same one-way latency.

Delivered pair (``delivered``, optional): a link described only by the state it hands over — netqasm's
``network.yaml`` gives a fidelity and a noise type, not optics — keeps the success probability and the
timing of its optics but delivers, with a herald of Bell state B, a :class:`DeliveredPair` instead:
``werner`` F |B><B| + (1-F)/3 (I - |B><B|) (depolarised: the fully mixed state with weight
(4/3)(1-F)) or ``bitflip`` F |B><B| + (1-F) (X (x) I)|B><B|(X (x) I) (one qubit flipped with
probability 1-F). Either has fidelity F to B and is symmetric under exchanging the nodes.

Time: attempts run at the hardware rate, ``attempt_duration_ns`` each (not the QDevice tick), in
batches of ``attempts_per_batch``; every batch begins with its overheads: a check of
``batch_check_ns`` repeated until it passes (it fails with ``batch_check_failure_probability``; the
NV charge-resonance check) and ``batch_fixed_overhead_ns`` (e.g. phase stabilisation).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from qnodeos.hal.errors import ConfigError
from qnodeos.hal.responses import BellState

SCHEMES = ("single-click", "double-click")
PAIR_KINDS = ("werner", "bitflip")

_KET = {
    BellState.PHI_PLUS: np.array([1, 0, 0, 1]) / math.sqrt(2),
    BellState.PHI_MINUS: np.array([1, 0, 0, -1]) / math.sqrt(2),
    BellState.PSI_PLUS: np.array([0, 1, 1, 0]) / math.sqrt(2),
    BellState.PSI_MINUS: np.array([0, 1, -1, 0]) / math.sqrt(2),
}
_PARTNER = {BellState.PSI_PLUS: BellState.PSI_MINUS, BellState.PSI_MINUS: BellState.PSI_PLUS,
            BellState.PHI_PLUS: BellState.PHI_MINUS, BellState.PHI_MINUS: BellState.PHI_PLUS}
_I2 = np.eye(2, dtype=np.complex128)
_PAULIS = (np.array([[0, 1], [1, 0]], dtype=np.complex128), np.array([[0, -1j], [1j, 0]], dtype=np.complex128),
           np.diag([1.0, -1.0]).astype(np.complex128))


def bell_projector(bell: BellState) -> np.ndarray:
    """|B><B| for a Bell state (first qubit most significant)."""
    ket = _KET[bell].astype(np.complex128)
    return np.outer(ket, ket.conj())


def werner_weight(bell_fidelity: float) -> float:
    """The weight w of rho = w |B><B| + (1-w) I/4 with fidelity ``bell_fidelity`` to |B>."""
    return (4.0 * bell_fidelity - 1.0) / 3.0


def depolarize_each(rho: np.ndarray, weight: float) -> np.ndarray:
    """Apply rho -> w rho + (1-w) Tr_q(rho) (x) I/2 to each qubit of a two-qubit state."""
    if weight == 1.0:
        return rho
    p = 1.0 - weight
    for first in (True, False):
        paulis = [np.kron(P, _I2) if first else np.kron(_I2, P) for P in _PAULIS]
        rho = (1 - 0.75 * p) * rho + (p / 4) * sum(P @ rho @ P.conj().T for P in paulis)
    return rho


def _check_prob(name: str, v: float, *, open_top: bool = False) -> None:
    if not (0.0 <= v < 1.0 if open_top else 0.0 <= v <= 1.0):
        raise ConfigError(f"heralding link: {name}={v!r} is out of range [0, 1{')' if open_top else ']'}")


@dataclass(frozen=True)
class DeliveredPair:
    """The state a link hands over in place of its optics' state (see the module docstring):
    ``kind`` ``"werner"`` (depolarised) or ``"bitflip"``, ``fidelity`` F to the heralded Bell state."""

    kind: str
    fidelity: float

    def __post_init__(self) -> None:
        if self.kind not in PAIR_KINDS:
            raise ConfigError(f"delivered pair: kind={self.kind!r} is unknown (choose one of {PAIR_KINDS})")
        if isinstance(self.fidelity, bool) or not isinstance(self.fidelity, (int, float)):
            raise ConfigError(f"delivered pair: fidelity={self.fidelity!r} must be a number in [0, 1]")
        _check_prob("delivered pair fidelity", float(self.fidelity))

    def state(self, bell: BellState) -> np.ndarray:
        """The delivered two-qubit state for a herald of ``bell``."""
        f = float(self.fidelity)
        target = bell_projector(bell)
        if self.kind == "werner":
            return f * target + (1.0 - f) / 3.0 * (np.eye(4, dtype=np.complex128) - target)
        flip = np.kron(_PAULIS[0], _I2)
        return f * target + (1.0 - f) * (flip @ target @ flip)

    @classmethod
    def from_value(cls, value: "DeliveredPair | dict | None") -> "DeliveredPair | None":
        """From a table ``{kind = ..., fidelity = ...}`` (unknown keys refused by name), or as is."""
        if value is None or isinstance(value, DeliveredPair):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"delivered pair: expected a table with kind and fidelity, got {value!r}")
        unknown = sorted(set(value) - {"kind", "fidelity"})
        missing = sorted({"kind", "fidelity"} - set(value))
        if unknown or missing:
            raise ConfigError(f"delivered pair: {'unknown key(s) ' + str(unknown) if unknown else ''}"
                              f"{'; ' if unknown and missing else ''}"
                              f"{'missing key(s) ' + str(missing) if missing else ''} (keys: kind, fidelity)")
        return cls(value["kind"], value["fidelity"])


@dataclass(frozen=True)
class LinkParams:
    """Physics and timing of one heralded link (see the module docstring for the model).

    ``scheme``: ``"single-click"`` or ``"double-click"``. ``detection_efficiency``: probability that
    a photon emitted by this node is detected at the station with no fibre (collection, zero-phonon
    fraction, detector efficiency); ``peer_detection_efficiency`` the same for the peer (None = the
    same). ``dark_count_probability``: per detector per detection window. ``visibility``: two-photon
    interference visibility V. ``attempt_duration_ns``: one attempt at the hardware rate.
    ``alpha``: bright-state population (single click only). ``sync_timeout_s``: how long (wall
    clock) the station waits for the peer's matching attempt.

    ``double_excitation_probability`` (p2e, per node per attempt), ``phase_noise_rad`` (sigma of
    the interferometer phase, single click only), ``emission_fidelity`` (qubit-photon Bell-state
    fidelity, double click only), the fibre (``fibre_length_km`` per side,
    ``fibre_attenuation_db_per_km``, ``fibre_ns_per_km``) and the batching
    (``attempts_per_batch``, ``batch_check_ns``, ``batch_check_failure_probability``,
    ``batch_fixed_overhead_ns``) default to an ideal, unbatched, zero-length link. ``delivered``
    (a :class:`DeliveredPair`, default None) replaces the state a herald delivers, keeping the
    success probability and the timing.
    """

    scheme: str
    detection_efficiency: float
    dark_count_probability: float
    visibility: float
    attempt_duration_ns: int
    alpha: float = 0.5
    sync_timeout_s: float = 2.0
    peer_detection_efficiency: float | None = None
    double_excitation_probability: float = 0.0
    phase_noise_rad: float = 0.0
    emission_fidelity: float = 1.0
    fibre_length_km: float = 0.0
    fibre_attenuation_db_per_km: float = 0.0
    fibre_ns_per_km: float = 5000.0
    attempts_per_batch: int = 1
    batch_check_ns: int = 0
    batch_check_failure_probability: float = 0.0
    batch_fixed_overhead_ns: int = 0
    delivered: DeliveredPair | None = None

    def __post_init__(self) -> None:
        if self.delivered is not None and not isinstance(self.delivered, DeliveredPair):
            raise ConfigError(f"heralding link: delivered={self.delivered!r} must be a DeliveredPair or None")
        if self.scheme not in SCHEMES:
            raise ConfigError(f"heralding link: scheme={self.scheme!r} is unknown (choose one of {SCHEMES})")
        for name in ("detection_efficiency", "dark_count_probability", "visibility",
                     "double_excitation_probability", "emission_fidelity"):
            _check_prob(name, getattr(self, name))
        if self.peer_detection_efficiency is not None:
            _check_prob("peer_detection_efficiency", self.peer_detection_efficiency)
        _check_prob("batch_check_failure_probability", self.batch_check_failure_probability, open_top=True)
        if not 0.0 < self.alpha <= 0.5:
            raise ConfigError(f"heralding link: alpha={self.alpha!r} is out of range (0, 0.5]")
        if self.attempt_duration_ns < 1:
            raise ConfigError(f"heralding link: attempt_duration_ns={self.attempt_duration_ns!r} must be >= 1")
        if not self.sync_timeout_s > 0:
            raise ConfigError(f"heralding link: sync_timeout_s={self.sync_timeout_s!r} must be > 0")
        for name in ("phase_noise_rad", "fibre_length_km", "fibre_attenuation_db_per_km", "fibre_ns_per_km"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ConfigError(f"heralding link: {name}={v!r} must be a finite number >= 0")
        if self.attempts_per_batch < 1:
            raise ConfigError(f"heralding link: attempts_per_batch={self.attempts_per_batch!r} must be >= 1")
        for name in ("batch_check_ns", "batch_fixed_overhead_ns"):
            if getattr(self, name) < 0:
                raise ConfigError(f"heralding link: {name}={getattr(self, name)!r} must be >= 0")

    def swapped(self) -> "LinkParams":
        """The same link described from the peer's side (the two detection efficiencies exchanged)."""
        peer = self.detection_efficiency if self.peer_detection_efficiency is None else self.peer_detection_efficiency
        return replace(self, detection_efficiency=peer, peer_detection_efficiency=self.detection_efficiency)

    # -- the optical channel ----------------------------------------------------------------------
    @property
    def fibre_transmission(self) -> float:
        """Probability that a photon survives the fibre from a node to the station."""
        return 10.0 ** (-self.fibre_attenuation_db_per_km * self.fibre_length_km / 10.0)

    @property
    def efficiencies(self) -> tuple[float, float]:
        """(eta_A, eta_B): probability that each node's photon is detected at the station,
        fibre loss included (A = this node, B = its peer)."""
        t = self.fibre_transmission
        peer = self.detection_efficiency if self.peer_detection_efficiency is None else self.peer_detection_efficiency
        return self.detection_efficiency * t, peer * t

    @property
    def herald_delay_ns(self) -> int:
        """From emission to the herald's arrival back at a node: photon out, answer back."""
        return round(2.0 * self.fibre_length_km * self.fibre_ns_per_km)

    @property
    def classical_latency_ns(self) -> int:
        """One-way latency of a classical message between the two nodes along the link's fibre route
        (node -> station -> node); what the network layer should charge per control message."""
        return round(2.0 * self.fibre_length_km * self.fibre_ns_per_km)

    # -- herald probabilities and states (per attempt) --------------------------------------------
    def _single_click_weights(self) -> tuple[np.ndarray, float]:
        """(diag weights of |00>,|01>,|10>,|11>, coherence magnitude) for one named detector."""
        a, p = self.alpha, self.dark_count_probability
        ea, eb = self.efficiencies
        q = 1.0 - p
        v = self.visibility
        two = (ea + eb) / 2.0 - ea * eb * (3.0 - v) / 4.0
        diag = q * np.array([
            (1 - a) ** 2 * p,
            a * (1 - a) * (eb / 2.0 + (1 - eb) * p),
            a * (1 - a) * (ea / 2.0 + (1 - ea) * p),
            a * a * (two + (1 - ea) * (1 - eb) * p),
        ])
        damping = (1.0 - self.double_excitation_probability) ** 2 * math.exp(-self.phase_noise_rad ** 2 / 2.0)
        coherence = q * a * (1 - a) * math.sqrt(ea * eb * v) / 2.0 * damping
        return diag, coherence

    def _double_click_parts(self) -> tuple[float, float]:
        """(probability of a true two-photon herald, of a herald with one dark count)."""
        ea, eb = self.efficiencies
        return ea * eb / 2.0, 2.0 * (ea + eb) * self.dark_count_probability

    @property
    def success_probability(self) -> float:
        """Probability that one attempt is heralded (true photon heralds plus dark-count heralds)."""
        if self.scheme == "single-click":
            diag, _ = self._single_click_weights()
            return min(1.0, 2.0 * float(diag.sum()))
        return min(1.0, sum(self._double_click_parts()))

    def heralded_state(self, bell: BellState) -> np.ndarray:
        """The two-qubit state delivered with a herald of ``bell`` (Psi+ or Psi-: which detector
        clicked, or which coincidence pattern), this node's qubit first. Symmetric under exchanging
        the nodes when both detection efficiencies are equal."""
        if bell not in (BellState.PSI_PLUS, BellState.PSI_MINUS):
            raise ConfigError(f"heralding link: a {self.scheme} herald announces Psi+ or Psi-, not {bell.value}")
        if self.delivered is not None:
            return self.delivered.state(bell)
        sign = 1.0 if bell is BellState.PSI_PLUS else -1.0
        if self.scheme == "single-click":
            diag, coherence = self._single_click_weights()
            rho = np.diag(diag).astype(np.complex128)
            rho[1, 2] = rho[2, 1] = sign * coherence
            total = float(diag.sum())
            return rho / total if total > 0 else _bell_mixture(bell, 1.0)
        v = self.visibility * (1.0 - self.double_excitation_probability) ** 2
        true = depolarize_each(_bell_mixture(bell, v), werner_weight(self.emission_fidelity))
        p_true, p_dark = self._double_click_parts()
        if p_true + p_dark == 0.0:
            return true
        return (p_true * true + p_dark * np.eye(4, dtype=np.complex128) / 4) / (p_true + p_dark)

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

    @property
    def bright_populations(self) -> tuple[float, ...]:
        """Probability that the communication qubit is optically excited (bright), per excitation
        round of one attempt: what dephases nearby memory qubits (single click: one round at alpha;
        double click: two rounds at 1/2)."""
        return (self.alpha,) if self.scheme == "single-click" else (0.5, 0.5)

    # -- timing -------------------------------------------------------------------------------------
    @property
    def batch_overhead_ns(self) -> float:
        """Mean overhead at the start of each batch: checks until one passes, plus the fixed part."""
        return self.batch_check_ns / (1.0 - self.batch_check_failure_probability) + self.batch_fixed_overhead_ns

    def sample_batch_overhead_ns(self, rng: np.random.Generator) -> int:
        """One batch's overhead, drawn with ``rng`` (the number of checks is geometric)."""
        checks = int(rng.geometric(1.0 - self.batch_check_failure_probability)) if self.batch_check_ns else 0
        return checks * self.batch_check_ns + self.batch_fixed_overhead_ns

    def batches_for(self, attempts: int) -> int:
        """How many batches (each starting with its overhead) ``attempts`` consecutive attempts span."""
        return -(-attempts // self.attempts_per_batch) if attempts > 0 else 0

    @property
    def mean_pair_time_ns(self) -> float:
        """Expected time from the first attempt to a herald reaching the nodes: attempts at the
        hardware rate, the overheads of every batch begun, and the herald delay."""
        p = self.success_probability
        if p <= 0.0:
            return math.inf
        batches = 1.0 / (1.0 - (1.0 - p) ** self.attempts_per_batch)
        return self.attempt_duration_ns / p + batches * self.batch_overhead_ns + self.herald_delay_ns

    @property
    def pair_rate_hz(self) -> float:
        """Pairs per second while attempting continuously (1 / :attr:`mean_pair_time_ns`)."""
        t = self.mean_pair_time_ns
        return 0.0 if math.isinf(t) else 1e9 / t


def _bell_mixture(bell: BellState, v: float) -> np.ndarray:
    """(1+v)/2 |B><B| + (1-v)/2 |B'><B'| (B' the Bell state with the opposite sign)."""
    return (1 + v) / 2 * bell_projector(bell) + (1 - v) / 2 * bell_projector(_PARTNER[bell])

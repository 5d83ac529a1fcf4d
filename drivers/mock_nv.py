"""Mock NV-centre QDevice: one electron spin (communication) and nuclear carbon spins (memory).

Qubit 0 is the electron: init, rotations about X and Y, Z measurement and heralded entanglement
attempts. Qubits 1..n are carbons: init, rotations about X, Y and Z, and the electron-controlled
conditional rotation (electron control, carbon target) — the only two-qubit gate. Carbons cannot be
measured directly (the OS maps their state onto the electron first), and two carbons never interact.

Every electron entanglement attempt dephases the carbons a little: when the electron was bright
(optically excited), its reset to |0> happens at a random moment, and until then a carbon precesses
at a frequency shifted by the hyperfine coupling dw. With x = dw * t_reset
(``carbon_phase_per_reset_rad``), averaging the random phase shrinks a carbon's coherence by
exp(-x^2/2) per bright reset, so one attempt with bright population a keeps 1 - a (1 - exp(-x^2/2))
of it: the dephasing grows with alpha (Reiserer et al. 2016 and Kalb et al. 2018 identify the
stochastic electron reset as the mechanism; the coupling and reset time are netsquid-nv's values).

An NV centre can also ionise during attempts (``ionisation_probability`` per attempt; Bradley et al.
2022): :meth:`MockNVDevice.after_attempt_batch` draws it, loses every stored state and reports the
hardware failure the heralding station returns for that batch.
"""
from __future__ import annotations

import math

import numpy as np

from qnodeos.hal.capabilities import (
    Capabilities,
    EntanglementInfo,
    NativeOperation,
    Platform,
    QubitInfo,
    QubitRole,
    pair_targets,
    single_targets,
)
from qnodeos.hal.instructions import Axis

from .config import NVConfig
from .link_physics import LinkParams
from .mock_device import MockDevice

ELECTRON = 0


def carbon_coherence_per_attempt(bright_populations: tuple[float, ...], phase_rad: float) -> float:
    """Factor by which one attempt shrinks a carbon's coherence: prod over the attempt's excitation
    rounds of 1 - a (1 - exp(-x^2/2)), a the round's bright population, x = ``phase_rad``."""
    loss = 1.0 - math.exp(-phase_rad ** 2 / 2.0)
    return math.prod(1.0 - a * loss for a in bright_populations)


def carbon_dephasing_probability(attempts: int, bright_populations: tuple[float, ...], phase_rad: float) -> float:
    """Dephasing probability equivalent to ``attempts`` attempts: coherence shrinks by
    (1 - 2p) = f^k with f = :func:`carbon_coherence_per_attempt`, i.e. p_k = (1 - f^k) / 2."""
    if attempts <= 0:
        return 0.0
    return (1.0 - carbon_coherence_per_attempt(bright_populations, phase_rad) ** attempts) / 2.0


def attempts_to_1e(bright_populations: tuple[float, ...], phase_rad: float) -> float:
    """Attempts after which a carbon keeps 1/e of its coherence (inf without dephasing)."""
    f = carbon_coherence_per_attempt(bright_populations, phase_rad)
    return math.inf if f >= 1.0 else -1.0 / math.log(f)


class MockNVDevice(MockDevice):
    """Simulated NV node (driver ``mock-nv``); build with :meth:`from_config`."""

    CONFIG_CLASS = NVConfig
    config: NVConfig

    @property
    def carbons(self) -> tuple[int, ...]:
        return tuple(range(1, self.config.carbons + 1))

    def link_params(self) -> LinkParams:
        return self.link_params_of(self.config)

    @staticmethod
    def link_params_of(c: NVConfig) -> LinkParams:
        """The heralded-link physics a configuration implies (no device needed)."""
        return LinkParams(
            c.scheme, c.detection_efficiency, c.dark_count_probability, c.visibility, c.attempt_duration_ns,
            alpha=c.alpha, peer_detection_efficiency=c.peer_detection_efficiency,
            double_excitation_probability=c.double_excitation_probability,
            phase_noise_rad=math.radians(c.phase_noise_deg), fibre_length_km=c.fibre_length_km,
            fibre_attenuation_db_per_km=c.fibre_attenuation_db_per_km, fibre_ns_per_km=c.fibre_ns_per_km,
            attempts_per_batch=c.attempts_per_batch, batch_check_ns=c.cr_check_ns,
            batch_check_failure_probability=c.cr_check_failure_probability,
            batch_fixed_overhead_ns=c.phase_stabilisation_ns)

    def _build_capabilities(self) -> Capabilities:
        c = self.config
        carbons = self.carbons
        electron = QubitInfo(ELECTRON, frozenset({QubitRole.COMMUNICATION}), c.electron_t1_ns, c.electron_t2_ns,
                             (c.readout_error_0, c.readout_error_1))
        memories = tuple(QubitInfo(i, frozenset({QubitRole.MEMORY}), c.carbon_t1_ns, c.carbon_t2_ns)
                         for i in carbons)
        e = single_targets([ELECTRON])
        ops = [
            NativeOperation("init", e, c.electron_init_ns, error=c.electron_init_error),
            NativeOperation("rotate", e, c.electron_gate_ns, axes=frozenset({Axis.X, Axis.Y}),
                            error=c.electron_gate_error),
            NativeOperation("measure", e, c.measure_ns),
            NativeOperation("entangle", e, c.attempt_duration_ns),
        ]
        if carbons:
            cs = single_targets(carbons)
            ops += [
                NativeOperation("init", cs, c.carbon_init_ns, error=c.carbon_init_error),
                NativeOperation("rotate", cs, c.carbon_gate_ns, axes=frozenset(Axis), error=c.carbon_gate_error),
                NativeOperation("controlled_rotate", pair_targets((ELECTRON, k) for k in carbons), c.ec_gate_ns,
                                axes=frozenset({Axis.X, Axis.Y}), error=c.ec_gate_error),
            ]
        link = self.link_params()
        return Capabilities(
            name="mock-nv", platform=Platform.NV, tick_ns=c.tick_ns, qubits=(electron,) + memories,
            operations=tuple(ops),
            entanglement=EntanglementInfo(c.attempt_duration_ns, link.success_probability, link.fidelity,
                                          link.scheme),
        )

    def _on_attempts(self, attempts: int, link: LinkParams) -> None:
        # the link's own optics decide how often the electron was bright (on a heterogeneous or
        # reconfigured link they are not this device's defaults)
        bright = link.bright_populations
        p = carbon_dephasing_probability(attempts, bright, self.config.carbon_phase_per_reset_rad)
        if p > 0:
            for k in self.carbons:
                self._space.dephase(self._handles[k], p)

    def after_attempt_batch(self, attempts: int, rng: np.random.Generator | None = None) -> str | None:
        """Draw whether the NV ionised during ``attempts`` attempts (probability
        1 - (1 - ``ionisation_probability``)^attempts). If it did, the charge-resonance check after
        the batch fails, every qubit's state is lost (replaced by the fully mixed state, entanglement
        with other nodes broken) and the reason is returned for a ``HARDWARE_FAILURE`` response."""
        p = self.config.ionisation_probability
        if attempts <= 0 or p <= 0.0:
            return None
        draw = float((rng if rng is not None else self._rng).random())
        if draw >= 1.0 - (1.0 - p) ** attempts:
            return None
        # No device lock: the station calls this while the device waits inside its own execute (its
        # thread holds the lock); the state space serialises the writes itself.
        for h in self._handles:
            self._space.depolarize_1q(h, 1.0)
        return (f"mock-nv node {self.node!r}: the NV centre ionised during {attempts} entanglement attempt(s) "
                f"(charge-resonance check failed); the states of all {len(self._handles)} qubit(s) are lost")

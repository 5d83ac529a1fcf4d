"""Mock NV-centre QDevice: one electron spin (communication) and nuclear carbon spins (memory).

Qubit 0 is the electron: init, rotations about X and Y, Z measurement and heralded entanglement
attempts. Qubits 1..n are carbons: init, rotations about X, Y and Z, and the electron-controlled
conditional rotation (electron control, carbon target) — the only two-qubit gate. Carbons cannot be
measured directly (the OS maps their state onto the electron first), and two carbons never interact.

Every electron entanglement attempt dephases the carbons a little (the electron's random spin state
during the attempt shifts their precession): per attempt p = (1 - exp(-1/N)) / 2, N =
``carbon_dephasing_attempts_1e`` attempts to 1/e coherence (Kalb et al., Phys. Rev. Applied 9,
064010 (2018); Pompili et al., Science 372, 259 (2021)).
"""
from __future__ import annotations

import math

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


def carbon_dephasing_probability(attempts: int, attempts_1e: float) -> float:
    """Dephasing probability equivalent to ``attempts`` attempts: coherence shrinks by
    (1 - 2p)^k = exp(-k/N), i.e. p_k = (1 - exp(-k/N)) / 2."""
    if attempts <= 0 or math.isinf(attempts_1e):
        return 0.0
    return (1.0 - math.exp(-attempts / attempts_1e)) / 2.0


class MockNVDevice(MockDevice):
    """Simulated NV node (driver ``mock-nv``); build with :meth:`from_config`."""

    CONFIG_CLASS = NVConfig
    config: NVConfig

    @property
    def carbons(self) -> tuple[int, ...]:
        return tuple(range(1, self.config.carbons + 1))

    def link_params(self) -> LinkParams:
        c = self.config
        return LinkParams("single-click", c.detection_efficiency, c.dark_count_probability, c.visibility,
                          c.attempt_duration_ns, alpha=c.alpha)

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

    def _on_attempts(self, attempts: int) -> None:
        p = carbon_dephasing_probability(attempts, self.config.carbon_dephasing_attempts_1e)
        if p > 0:
            for k in self.carbons:
                self._space.dephase(self._handles[k], p)

"""Mock trapped-ion QDevice: a string of identical ions, every one a communication and memory qubit.

Each ion can be initialised, rotated about X, Y or Z, measured and entangled with a remote node
(double-click heralding); every pair of ions shares a Molmer-Sorensen gate exp(-i theta/2 X(x)X).
Ions dephase (T2) but do not decay (T1 = inf by default).
"""
from __future__ import annotations

import itertools

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

from .config import IonConfig
from .link_physics import LinkParams
from .mock_device import MockDevice


class MockIonDevice(MockDevice):
    """Simulated trapped-ion node (driver ``mock-trapped-ion``); build with :meth:`from_config`."""

    CONFIG_CLASS = IonConfig
    config: IonConfig

    def link_params(self) -> LinkParams:
        c = self.config
        return LinkParams("double-click", c.detection_efficiency, c.dark_count_probability, c.visibility,
                          c.attempt_duration_ns)

    def _build_capabilities(self) -> Capabilities:
        c = self.config
        ions = range(c.ions)
        roles = frozenset({QubitRole.COMMUNICATION, QubitRole.MEMORY})
        qubits = tuple(QubitInfo(i, roles, c.t1_ns, c.t2_ns, (c.readout_error_0, c.readout_error_1)) for i in ions)
        every = single_targets(ions)
        ops = [
            NativeOperation("init", every, c.init_ns, error=c.init_error),
            NativeOperation("rotate", every, c.gate_ns, axes=frozenset(Axis), error=c.gate_error),
            NativeOperation("measure", every, c.measure_ns),
            NativeOperation("entangle", every, c.attempt_duration_ns),
        ]
        if c.ions > 1:
            ops.append(NativeOperation("molmer_sorensen", pair_targets(itertools.combinations(ions, 2)),
                                       c.ms_gate_ns, error=c.ms_gate_error, symmetric=True))
        link = self.link_params()
        return Capabilities(
            name="mock-trapped-ion", platform=Platform.TRAPPED_ION, tick_ns=c.tick_ns, qubits=qubits,
            operations=tuple(ops),
            entanglement=EntanglementInfo(c.attempt_duration_ns, link.success_probability, link.fidelity,
                                          link.scheme),
        )

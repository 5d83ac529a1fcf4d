"""Mock trapped-ion QDevice: a string of identical ions, every one a communication and memory qubit.

Each ion can be initialised, rotated about X, Y or Z, measured and entangled with a remote node
(double-click heralding); every pair of ions shares a Molmer-Sorensen gate exp(-i theta/2 X(x)X).
Ions dephase (T2) but do not decay (T1 = inf by default). With ``dephasing = "gaussian"`` the
dephasing is quasi-static (a slowly drifting magnetic field): a superposition keeps
exp(-(tau/T2)^2) of its coherence after tau of free evolution, tau counted from the ion's last
initialisation, measurement or herald (gates in between are not treated as echoes). The lazy idle
model applies the matching share exp(-(tau1^2 - tau0^2)/T2^2) for each idle interval [tau0, tau1].
Field noise common to the whole string (collective dephasing) is not modelled.
"""
from __future__ import annotations

import itertools
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

from .config import IonConfig
from .link_physics import LinkParams
from .mock_device import MockDevice


class MockIonDevice(MockDevice):
    """Simulated trapped-ion node (driver ``mock-trapped-ion``); build with :meth:`from_config`."""

    CONFIG_CLASS = IonConfig
    config: IonConfig

    def link_params(self) -> LinkParams:
        return self.link_params_of(self.config)

    @staticmethod
    def link_params_of(c: IonConfig) -> LinkParams:
        """The heralded-link physics a configuration implies (no device needed)."""
        return LinkParams(
            "double-click", c.detection_efficiency, c.dark_count_probability, c.visibility, c.attempt_duration_ns,
            peer_detection_efficiency=c.peer_detection_efficiency, emission_fidelity=c.emission_fidelity,
            fibre_length_km=c.fibre_length_km, fibre_attenuation_db_per_km=c.fibre_attenuation_db_per_km,
            fibre_ns_per_km=c.fibre_ns_per_km, attempts_per_batch=c.attempts_per_batch,
            batch_fixed_overhead_ns=c.batch_overhead_ns)

    def _idle(self, q: int, t_from: int, t_to: int) -> None:
        if self.config.dephasing == "exponential":
            super()._idle(q, t_from, t_to)
            return
        t1, t2 = self._coherence[q]
        h = self._handles[q]
        if not math.isinf(t1):
            self._space.idle(h, t_to - t_from, t1, math.inf)  # population decay (and its T2 = 2 T1 part)
        if not math.isinf(t2):
            start = self._reset_at[q]
            tau0, tau1 = max(0, t_from - start), max(0, t_to - start)
            keep = math.exp(-(tau1 * tau1 - tau0 * tau0) / (t2 * t2))
            self._space.dephase(h, (1.0 - keep) / 2.0)

    def _idle_model(self) -> list[tuple[str, float, float]]:
        if self.config.dephasing == "exponential":
            return super()._idle_model()
        return [("gaussian", t1, t2) for t1, t2 in self._coherence]

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

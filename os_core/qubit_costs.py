"""What keeping a state on a qubit, operating on it or moving it costs, from the device's capabilities.

Costs are in fidelity (an upper bound on the infidelity an operation adds: its depolarising
probability, as the capabilities declare it) and in device time. Storage loses coherence: a qubit's
worst-case state (on the equator of the Bloch sphere) keeps fidelity (1 + exp(-t/T2)) / 2 after
``t`` of idling, so holding a state for ``t`` costs (1 - exp(-t/T2)) / 2. Placement and the move
policy compare these figures; nothing here touches the device.
"""
from __future__ import annotations

import math
from typing import Sequence

from qnodeos.hal import Axis, Capabilities, Init, Measure, PhysicalInstruction, Rotate, Wait

from .errors import PlatformError
from .translation import Translator


def storage_loss(t2_ns: float, t1_ns: float, duration_ns: float) -> float:
    """Fidelity a worst-case state loses idling ``duration_ns`` on a qubit with these coherence times."""
    if duration_ns <= 0:
        return 0.0
    t2 = t2_ns if math.isfinite(t2_ns) else (2 * t1_ns if math.isfinite(t1_ns) else math.inf)
    if not math.isfinite(t2) or t2 <= 0:
        return 0.0
    return 0.5 * (1.0 - math.exp(-duration_ns / t2))


class CostModel:
    """Per-qubit costs of one device (cached: the capabilities are frozen)."""

    def __init__(self, capabilities: Capabilities, translator: Translator) -> None:
        self.caps = capabilities
        self.translator = translator
        self._t = {q.index: (q.t1_ns, q.t2_ns) for q in capabilities.qubits}
        self._readout = {q.index: sum(q.readout_error) / 2 for q in capabilities.qubits}

    # ---- instructions -----------------------------------------------------------------------------
    def sequence(self, seq: Sequence[PhysicalInstruction]) -> tuple[float, int]:
        """(summed depolarising probability, summed duration in whole ticks as ns) of ``seq``."""
        error, duration = 0.0, 0
        tick = self.caps.tick_ns
        for instr in seq:
            if isinstance(instr, Wait):
                continue
            op = self.caps.operation_for(instr)
            if op is None:
                raise PlatformError(f"{self.caps.name}: {instr!r} is not native")
            error += op.error
            duration += self.caps.ticks(op.duration_ns) * tick
        return error, duration

    def storage(self, qubit: int, duration_ns: float) -> float:
        """Fidelity a worst-case state loses idling ``duration_ns`` on ``qubit``."""
        t1, t2 = self._t[qubit]
        return storage_loss(t2, t1, duration_ns)

    def t2(self, qubit: int) -> float:
        t1, t2 = self._t[qubit]
        return t2 if math.isfinite(t2) else (2 * t1 if math.isfinite(t1) else math.inf)

    # ---- what a virtual qubit's operations cost on a physical qubit --------------------------------
    def init(self, qubit: int) -> tuple[float, int]:
        try:
            return self.sequence(self.translator.init(qubit))
        except PlatformError:
            return math.inf, 0

    def local_op(self, qubit: int) -> tuple[float, int]:
        """A typical single-qubit gate: two native rotations (an Euler sequence has one to three)."""
        if not self.translator.can_rotate(qubit):
            return math.inf, 0
        axis = next(a for a in (Axis.X, Axis.Y, Axis.Z) if self.caps.supports(Rotate(qubit, a, 0.5)))
        error, duration = self.sequence((Rotate(qubit, axis, 0.5),))
        return 2 * error, 2 * duration

    def measure(self, qubit: int) -> tuple[float, int]:
        """Reading ``qubit``: directly (its readout error), or through the best measurable ancilla
        (the ancilla's reset, the CNOT and the ancilla's readout)."""
        if self.translator.can_measure(qubit):
            error, duration = self.sequence((Measure(qubit),))
            return error + self._readout[qubit], duration
        best = (math.inf, 0)
        for ancilla in self.translator.measure_ancillas():
            try:
                error, duration = self.sequence(self.translator.measure(qubit, ancilla))
            except PlatformError:
                continue
            best = min(best, (error + self._readout[ancilla], duration))
        return best

    def move(self, src: int, dst: int, dst_is_zero: bool = False) -> tuple[float, int]:
        """Moving a state from ``src`` to a free ``dst`` (see :func:`move_sequence`); inf if impossible."""
        try:
            return self.sequence(move_sequence(self.translator, src, dst, dst_is_zero))
        except PlatformError:
            return math.inf, 0


def move_sequence(translator: Translator, src: int, dst: int, dst_is_zero: bool = False
                  ) -> tuple[PhysicalInstruction, ...]:
    """Physical instructions moving the state of ``src`` to the free qubit ``dst``: reset ``dst``
    (unless it is known to be |0>), then CNOT(src -> dst) and CNOT(dst -> src), which maps
    |psi>|0> to |0>|psi> — the NV move (electron <-> carbon) on the native electron-carbon gates.
    ``src`` is left in |0>. Raises PlatformError if the pair has no native two-qubit gate."""
    if not translator.can_entangle(src, dst):
        raise PlatformError(f"{translator.caps.name}: qubits {src} and {dst} share no native two-qubit gate "
                            "(no move between them)")
    reset: tuple[PhysicalInstruction, ...] = () if dst_is_zero else (Init(dst),)
    if reset:
        translator.init(dst)  # raises if the qubit cannot be reset
    return reset + translator.two_qubit("cnot", src, dst) + translator.two_qubit("cnot", dst, src)

"""The mock devices' fast path for a sequence of physical instructions (one NetQASM gate, lowered).

Behind the HAL nothing changes: every instruction is still checked against the capabilities and
performed on its own, in order, on the next tick, with the same physics calls in the same order, the
same random draws and the same clock arithmetic as :meth:`MockDevice.execute`. What the fast path
saves is the work that does not depend on the state: checking an instruction, looking up its
handler and building its noisy-gate matrix are done once per sequence and kept as a *plan*; only
the last instruction's :class:`Response` is built (the OS reads the last outcome and the busy ticks).

Plans are keyed by the identity of the sequence tuple (the OS's translator hands out the same tuple
for the same gate on the same qubits), and each entry holds its tuple so an identity is never reused
while it is cached. A sequence the plan cannot cover (a refusal, a wait, an entanglement attempt)
is not planned: the caller falls back to :meth:`QDevice.execute_many`.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

from qnodeos.hal.errors import InvalidQubit, UnsupportedInstruction
from qnodeos.hal.instructions import ControlledRotate, Init, Measure, MolmerSorensen, PhysicalInstruction, Rotate
from qnodeos.hal.responses import Response, Status

if TYPE_CHECKING:
    from .mock_device import MockDevice

#: Sequences whose plans one device keeps (a loop body has a handful; the cache starts afresh when full).
PLAN_CACHE_SIZE = 4096

_INIT, _ROTATE, _TWO, _MEASURE = 0, 1, 2, 3

# One step: (kind, qubit, second qubit or -1, duration_ns, matrix or None, error, instruction).
Step = tuple[int, int, int, int, object, float, PhysicalInstruction]
# A plan: its steps and their busy time in whole ticks (ns).
Plan = tuple[tuple[Step, ...], int]


class SequencePlans:
    """Plans of one device, built on first use and run on every later one."""

    def __init__(self, device: "MockDevice") -> None:
        self._device = device
        # id(seq) -> (seq, (steps, busy ticks in ns) or None when it needs the slow path)
        self._plans: dict[int, tuple[Sequence[PhysicalInstruction], Plan | None]] = {}

    def plan(self, seq: Sequence[PhysicalInstruction]) -> Plan | None:
        """The steps of ``seq`` and their busy time in whole ticks, or None if it needs the slow path."""
        entry = self._plans.get(id(seq))
        if entry is not None and entry[0] is seq:
            return entry[1]
        built = self._build(seq)
        if len(self._plans) >= PLAN_CACHE_SIZE:
            self._plans.clear()
        self._plans[id(seq)] = (seq, built)
        return built

    def _build(self, seq: Sequence[PhysicalInstruction]) -> Plan | None:
        from .mock_device import noisy_rotation_superop, two_qubit_unitary

        caps = self._device.capabilities
        tick = caps.tick_ns
        steps: list[Step] = []
        busy = 0
        for instr in seq:
            kind = type(instr)
            if kind not in _PLANNED:
                return None
            try:
                op = caps.check(instr)
            except (InvalidQubit, UnsupportedInstruction):
                return None
            assert op is not None
            if kind is Init or kind is Measure:
                steps.append((_INIT if kind is Init else _MEASURE, instr.qubit, -1,  # type: ignore[union-attr]
                              op.duration_ns, None, op.error, instr))
            elif not math.isfinite(instr.angle):  # type: ignore[union-attr]
                return None
            elif kind is Rotate:
                steps.append((_ROTATE, instr.qubit, -1, op.duration_ns,  # type: ignore[union-attr]
                              noisy_rotation_superop(instr.axis, instr.angle, op.error), op.error,  # type: ignore[union-attr]
                              instr))
            else:
                q0, q1 = ((instr.control, instr.target) if kind is ControlledRotate  # type: ignore[union-attr]
                          else instr.qubits)  # type: ignore[union-attr]
                steps.append((_TWO, q0, q1, op.duration_ns, two_qubit_unitary(instr), op.error,  # type: ignore[arg-type]
                              instr))
            busy += -(-op.duration_ns // tick) * tick or tick
        return tuple(steps), busy

    def run(self, plan: Plan) -> Response:
        """Perform a plan's steps as :meth:`MockDevice.execute` would, one by one; the caller holds
        the device's lock. Returns the last step's response."""
        dev = self._device
        tick = dev._caps.tick_ns
        space = dev._space
        handles = dev._handles
        last = dev._last
        idle = dev._idle
        start = end = 0
        outcome = None
        for kind, q, q1, duration, matrix, error, _ in plan[0]:
            now = dev._now
            start = -(-now // tick) * tick
            end = dev._now = start + duration
            if kind == _ROTATE:
                if start > last[q]:
                    idle(q, last[q], start)
                space.apply_superop_1q(handles[q], matrix)
                last[q] = end
            elif kind == _TWO:
                if start > last[q]:
                    idle(q, last[q], start)
                    last[q] = start
                if start > last[q1]:
                    idle(q1, last[q1], start)
                space.apply_unitary_2q(handles[q], handles[q1], matrix, error)
                last[q] = last[q1] = end
            elif kind == _INIT:
                h = handles[q]
                space.reset(h)
                if error > 0:
                    space.depolarize_1q(h, error)
                last[q] = dev._reset_at[q] = end
            else:
                if start > last[q]:
                    idle(q, last[q], start)
                u, v = dev._rng.random(2)  # the same two draws as MockDevice._measure
                true = space.measure(handles[q], float(u))
                outcome = true ^ int(v < dev._caps.qubits[q].readout_error[true])
                last[q] = dev._reset_at[q] = end
        instr = plan[0][-1][6]
        if plan[0][-1][0] == _MEASURE:
            return Response(instr, Status.MEASURED, start, end, outcome=outcome)
        return Response(instr, Status.OK, start, end)


_PLANNED = (Init, Rotate, ControlledRotate, MolmerSorensen, Measure)

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
        from .mock_device import MockDevice

        self._device = device
        # per qubit, how the plan runs its idle noise: (t1, t2) for the base class's Markovian
        # channel, None when it has none, False when a subclass models it (its own ``_idle``)
        if type(device)._idle is not MockDevice._idle:
            self._markov: list = [False] * len(device._handles)
        else:
            self._markov = [None if math.isinf(t1) and math.isinf(t2) else (t1, t2) for t1, t2 in device._coherence]
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
            if isinstance(instr, (Init, Measure)):
                steps.append((_INIT if kind is Init else _MEASURE, instr.qubit, -1, op.duration_ns, None, op.error,
                               instr))
            elif isinstance(instr, Rotate):
                if not math.isfinite(instr.angle):
                    return None
                matrix = noisy_rotation_superop(instr.axis, instr.angle, op.error)
                steps.append((_ROTATE, instr.qubit, -1, op.duration_ns, matrix, op.error, instr))
            else:
                assert isinstance(instr, (ControlledRotate, MolmerSorensen))
                if not math.isfinite(instr.angle):
                    return None
                q0, q1 = (instr.control, instr.target) if isinstance(instr, ControlledRotate) else instr.qubits
                steps.append((_TWO, q0, q1, op.duration_ns, two_qubit_unitary(instr), op.error, instr))
            busy += -(-op.duration_ns // tick) * tick or tick
        return tuple(steps), busy

    def run(self, plan: Plan, respond: bool = True) -> Response | None:
        """Perform a plan's steps as :meth:`MockDevice.execute` would, one by one; the caller holds
        the device's lock. Returns the last step's response (None unless ``respond``).

        The state space's lock is taken once for the plan and its engine called directly (the
        space's methods do exactly that, one lock round each); idle noise is the device's own
        ``_idle``, inlined when it is the base class's Markovian T1/T2."""
        dev = self._device
        tick = dev._caps.tick_ns
        space = dev._space
        engine = space._engine
        handles = dev._handles
        last = dev._last
        reset_at = dev._reset_at
        markov = self._markov  # per qubit: (t1, t2), None without idle noise; False: ask dev._idle
        idle = dev._idle
        start = end = 0
        outcome = None
        with space._lock:
            for kind, q, q1, duration, matrix, error, _ in plan[0]:
                start = -(-dev._now // tick) * tick
                end = dev._now = start + duration
                if kind == _ROTATE:
                    if start > last[q]:
                        m = markov[q]
                        if m is False:
                            idle(q, last[q], start)
                        elif m is not None:
                            engine.idle(handles[q], start - last[q], m[0], m[1])
                    engine.apply_superop_1q(handles[q], matrix)
                    last[q] = end
                elif kind == _TWO:
                    for r in (q, q1):
                        if start > last[r]:
                            m = markov[r]
                            if m is False:
                                idle(r, last[r], start)
                            elif m is not None:
                                engine.idle(handles[r], start - last[r], m[0], m[1])
                            last[r] = start
                    engine.apply_unitary_2q(handles[q], handles[q1], matrix, error)
                    last[q] = last[q1] = end
                elif kind == _INIT:
                    h = handles[q]
                    engine.reset(h)
                    if error > 0:
                        engine.depolarize_1q(h, error)
                    last[q] = reset_at[q] = end
                else:
                    if start > last[q]:
                        m = markov[q]
                        if m is False:
                            idle(q, last[q], start)
                        elif m is not None:
                            engine.idle(handles[q], start - last[q], m[0], m[1])
                    u, v = dev._rng.random(2)  # the same two draws as MockDevice._measure
                    true = space.measure(handles[q], float(u))
                    outcome = true ^ int(v < dev._caps.qubits[q].readout_error[true])
                    last[q] = reset_at[q] = end
        if not respond:
            return None
        instr = plan[0][-1][6]
        if plan[0][-1][0] == _MEASURE:
            return Response(instr, Status.MEASURED, start, end, outcome=outcome)
        return Response(instr, Status.OK, start, end)

_PLANNED = (Init, Rotate, ControlledRotate, MolmerSorensen, Measure)

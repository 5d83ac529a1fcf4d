"""The mock devices' fast path for a sequence of physical instructions (one NetQASM gate, lowered).

Behind the HAL nothing changes: every instruction is still checked against the capabilities and
performed on its own, in order, on the next tick, with the same physics calls in the same order, the
same random draws and the same clock arithmetic as :meth:`MockDevice.execute`. What the fast path
saves is the work that does not depend on the state: checking an instruction, looking up its
handler and building its noisy-gate matrix are done once per sequence and kept as a *plan*
(a :class:`~qnodeos.drivers._engine.CompiledPlan`: typed steps with their matrices); the engine's
sequence runner then performs a plan's steps in C, with the device's clock bookkeeping in typed
arrays and its idle noise applied without a Python call per qubit. Only the last instruction's
:class:`Response` is built, and only when asked for (the OS reads the last outcome and the busy ticks).

Plans are keyed by the identity of the sequence tuple (the OS's translator hands out the same tuple
for the same gate on the same qubits), and each plan holds its tuple so an identity is never reused
while it is cached. A sequence the plan cannot cover (a refusal, a wait, an entanglement attempt,
arguments the engine would refuse) is not planned: the caller falls back to
:meth:`QDevice.execute_many`.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

from qnodeos.hal.errors import InvalidQubit, UnsupportedInstruction
from qnodeos.hal.instructions import ControlledRotate, Init, Measure, MolmerSorensen, PhysicalInstruction, Rotate
from qnodeos.hal.responses import Response, Status

from ._engine import IDLE_GAUSSIAN, IDLE_MARKOV, IDLE_NONE, IDLE_PYTHON, CompiledPlan, SequenceRunner

if TYPE_CHECKING:
    from .mock_device import MockDevice

_INIT, _ROTATE, _TWO, _MEASURE = 0, 1, 2, 3
_IDLE_MODES = {"none": IDLE_NONE, "markov": IDLE_MARKOV, "gaussian": IDLE_GAUSSIAN}


def _defined_by(cls: type, name: str) -> type | None:
    return next((c for c in cls.__mro__ if name in c.__dict__), None)


def _is_time(t: Any) -> bool:
    return isinstance(t, (int, float)) and not isinstance(t, bool) and not math.isnan(t) and t >= 0


def idle_modes(device: "MockDevice") -> list[tuple[int, float, float]]:
    """Per qubit, how the runner applies the device's idle noise: (mode, t1, t2). The device's
    ``_idle_model`` describes its ``_idle``; a class that overrides ``_idle`` without describing it,
    and coherence times the engine would refuse, get the device's own ``_idle`` called back."""
    cls = type(device)
    fallback = [(IDLE_PYTHON, 0.0, 0.0)] * len(device._handles)
    if _defined_by(cls, "_idle") is not _defined_by(cls, "_idle_model"):
        return fallback
    modes = []
    for (kind, t1, t2), python in zip(device._idle_model(), fallback):
        if kind == "none":
            modes.append((IDLE_NONE, 0.0, 0.0))
        elif not (_is_time(t1) and _is_time(t2)):
            modes.append(python)
        elif kind == "markov" and not (t1 not in (0, math.inf) and t2 not in (0, math.inf) and t2 > 2 * t1):
            modes.append((IDLE_MARKOV, float(t1), float(t2)))
        elif kind == "gaussian" and t2 != 0:
            modes.append((IDLE_GAUSSIAN, float(t1), float(t2)))
        else:
            modes.append(python)
    return modes


class SequencePlans:
    """Plans of one device, built on first use and run by its :class:`SequenceRunner` on every later one."""

    def __init__(self, device: "MockDevice", fast_class: bool) -> None:
        self._device = device
        space = device.state_space
        qubits = device.capabilities.qubits
        self._measurable = [_readout_ok(q.readout_error) for q in qubits]
        readout = [(float(q.readout_error[0]), float(q.readout_error[1])) if ok else (math.nan, math.nan)
                   for q, ok in zip(qubits, self._measurable)]
        self._runner = SequenceRunner(device, space._engine, space._lock, device._handles, device._last,
                                      device._reset_at, device.capabilities.tick_ns, idle_modes(device), readout,
                                      device._rng, device._idle, Response, Status.OK, Status.MEASURED, self._build,
                                      fast_class)
        #: ``MockDevice.execute_sequence``, in C (see :meth:`SequenceRunner.execute_sequence`)
        self.execute_sequence = self._runner.execute_sequence
        #: ``MockDevice.measure_sequence``, in C (see :meth:`SequenceRunner.measure_sequence`)
        self.measure_sequence = self._runner.measure_sequence

    def _build(self, seq: Sequence[PhysicalInstruction]) -> CompiledPlan | None:
        from .mock_device import noisy_rotation_superop, two_qubit_unitary

        caps = self._device.capabilities
        tick = caps.tick_ns
        steps: list[tuple[int, int, int, int, float, Any]] = []
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
            error = op.error
            if isinstance(instr, Init):
                if not 0.0 <= error <= 1.0:  # the engine refuses it: let the ordinary path say so
                    return None
                steps.append((_INIT, instr.qubit, -1, op.duration_ns, float(error), None))
            elif isinstance(instr, Measure):
                if not self._measurable[instr.qubit]:
                    return None
                steps.append((_MEASURE, instr.qubit, -1, op.duration_ns, 0.0, None))
            elif isinstance(instr, Rotate):
                if not math.isfinite(instr.angle):
                    return None
                matrix = noisy_rotation_superop(instr.axis, instr.angle, error)
                steps.append((_ROTATE, instr.qubit, -1, op.duration_ns, float(error), matrix))
            else:
                assert isinstance(instr, (ControlledRotate, MolmerSorensen))
                if not math.isfinite(instr.angle) or not 0.0 <= error <= 1.0:
                    return None
                q0, q1 = (instr.control, instr.target) if isinstance(instr, ControlledRotate) else instr.qubits
                if q0 == q1:
                    return None
                steps.append((_TWO, q0, q1, op.duration_ns, float(error), two_qubit_unitary(instr)))
            busy += -(-op.duration_ns // tick) * tick or tick
        if not steps:
            return None
        return CompiledPlan(seq, steps, busy)


def _readout_ok(errors: Any) -> bool:
    return (isinstance(errors, tuple) and len(errors) == 2
            and all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in errors))


_PLANNED = (Init, Rotate, ControlledRotate, MolmerSorensen, Measure)

"""Translation of NetQASM gates into a device's native physical instructions.

The rules are driven by the device's :class:`~qnodeos.hal.Capabilities`, so the same code serves every
platform: single-qubit gates become Euler sequences about the axes the qubit natively rotates around;
two-qubit gates are written as a Pauli-product rotation exp(-i θ/2 P⊗Q) plus local gates, and that
rotation is mapped onto whichever native entangler the pair has — NV's electron–carbon conditional
rotation (exp(-i θ/2 Z⊗X)) or the ions' Mølmer–Sørensen gate (exp(-i θ/2 X⊗X)) — by local Clifford
frame changes. Results are cached per (gate, qubits), so a hot loop pays a dict lookup.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from qnodeos.hal import (
    Axis,
    Capabilities,
    ControlledRotate,
    Init,
    Measure,
    MolmerSorensen,
    PhysicalInstruction,
    Rotate,
)

from ..errors import PlatformError
from .gates import euler_sequence, pauli_frame, rotation

HALF_PI = math.pi / 2
#: Distinct (axis, angle, qubit) rotations a translator keeps lowered; it starts afresh when full.
ROTATION_CACHE_SIZE = 4096

# Two-qubit gates as (P, Q, theta, local gate on q0 after, local gate on q1 after), up to phase:
# CNOT = Rz_c(pi/2) Rx_t(pi/2) exp(+i pi/4 Z(x)X);  CZ = Rz(pi/2) Rz(pi/2) exp(+i pi/4 Z(x)Z).
_TWO_QUBIT_AS_PAULI = {
    "cnot": ("z", "x", -HALF_PI, rotation("z", HALF_PI), rotation("x", HALF_PI)),
    "cphase": ("z", "z", -HALF_PI, rotation("z", HALF_PI), rotation("z", HALF_PI)),
}


class Translator:
    """Lowers gates for one device; all methods return tuples of physical instructions."""

    def __init__(self, capabilities: Capabilities) -> None:
        self.caps = capabilities
        self._axes: list[frozenset[Axis]] = [self._native_axes(q.index) for q in capabilities.qubits]
        self._cache: dict[tuple, tuple[PhysicalInstruction, ...]] = {}  # bounded by the qubits and gates
        self._rotations: dict[tuple, tuple[PhysicalInstruction, ...]] = {}  # bounded by ROTATION_CACHE_SIZE

    # ---- single qubit -------------------------------------------------------------------------
    def _native_axes(self, qubit: int) -> frozenset[Axis]:
        axes: set[Axis] = set()
        for op in self.caps.operations:
            if op.name == "rotate" and (qubit,) in op.targets:
                axes |= op.axes or {Axis.X, Axis.Y, Axis.Z}
        return frozenset(axes)

    def can_rotate(self, qubit: int) -> bool:
        """Whether any single-qubit gate can be made on ``qubit`` (two native rotation axes)."""
        return len(self._axes[qubit]) >= 2

    def unitary(self, u: np.ndarray, qubit: int) -> tuple[PhysicalInstruction, ...]:
        """Any single-qubit unitary as native rotations on ``qubit``."""
        axes = self._axes[qubit]
        if len(axes) < 2:
            raise PlatformError(f"{self.caps.name}: qubit {qubit} has no native single-qubit rotations")
        return tuple(Rotate(qubit, ax, ang) for ax, ang in euler_sequence(u, axes))

    def gate(self, name: str, u: np.ndarray, qubit: int) -> tuple[PhysicalInstruction, ...]:
        """A fixed named gate (cached by name)."""
        key = (name, qubit)
        seq = self._cache.get(key)
        if seq is None:
            seq = self._cache[key] = self.unitary(u, qubit)
        return seq

    def rotate(self, axis: Axis, angle: float, qubit: int) -> tuple[PhysicalInstruction, ...]:
        """R_axis(angle): native when the axis is, otherwise an Euler sequence (cached per axis,
        angle and qubit, so a loop body is lowered once; ±0.0 are not cached, as they compare equal
        but are different floats)."""
        key = (axis, angle, qubit)
        seq = self._rotations.get(key)
        if seq is None:
            if axis in self._axes[qubit]:
                seq = (Rotate(qubit, axis, angle),)
            else:
                seq = self.unitary(rotation(axis, angle), qubit)
            if angle == 0.0:
                return seq
            if len(self._rotations) >= ROTATION_CACHE_SIZE:
                self._rotations.clear()
            self._rotations[key] = seq
        return seq

    def init(self, qubit: int) -> tuple[PhysicalInstruction, ...]:
        key = ("init", qubit)
        seq = self._cache.get(key)
        if seq is None:
            instr = Init(qubit)
            self._require(instr, "init")
            seq = self._cache[key] = (instr,)
        return seq

    # ---- two qubits ---------------------------------------------------------------------------
    def two_qubit(self, name: str, q0: int, q1: int) -> tuple[PhysicalInstruction, ...]:
        """A fixed two-qubit gate (``cnot``, ``cphase``, ``swap``) on (q0, q1)."""
        key = (name, q0, q1)
        seq = self._cache.get(key)
        if seq is not None:
            return seq
        if name == "swap":
            seq = self.two_qubit("cnot", q0, q1) + self.two_qubit("cnot", q1, q0) + self.two_qubit("cnot", q0, q1)
        elif name in _TWO_QUBIT_AS_PAULI:
            p, q, theta, after0, after1 = _TWO_QUBIT_AS_PAULI[name]
            seq = self.pauli_rotation(p, q, theta, q0, q1, after0, after1)
        else:
            raise PlatformError(f"{self.caps.name}: no translation rule for two-qubit gate {name!r}")
        self._cache[key] = seq
        return seq

    def pauli_rotation(self, p: str, q: str, theta: float, q0: int, q1: int,
                       after0: np.ndarray | None = None, after1: np.ndarray | None = None
                       ) -> tuple[PhysicalInstruction, ...]:
        """exp(-i theta/2 P(x)Q) on (q0, q1), followed by optional local unitaries, on the native entangler."""
        native, p_nat, q_nat, a, b = self._entangler(q0, q1, theta)
        # Frame change: W_a P W_a^dag = P_native on q0, likewise on q1; conjugate the native gate.
        w0, w1 = pauli_frame(p, p_nat), pauli_frame(q, q_nat)
        post0 = w0.conj().T if after0 is None else after0 @ w0.conj().T
        post1 = w1.conj().T if after1 is None else after1 @ w1.conj().T
        return (self.unitary(w0, q0) + self.unitary(w1, q1) + (native,)
                + self.unitary(post0, q0) + self.unitary(post1, q1))

    def _entangler(self, q0: int, q1: int, theta: float
                   ) -> tuple[PhysicalInstruction, str, str, int, int]:
        """The native gate realising exp(-i theta/2 P_nat(x)Q_nat) on (q0, q1) and its Paulis."""
        for axis in (Axis.X, Axis.Y):
            for control, target in ((q0, q1), (q1, q0)):
                instr = ControlledRotate(control, target, axis, theta)
                if self.caps.supports(instr):
                    # exp(-i theta/2 Z_control (x) A_target); report Paulis in (q0, q1) order.
                    if control == q0:
                        return instr, "z", axis.value, q0, q1
                    return instr, axis.value, "z", q0, q1
        ms = MolmerSorensen((q0, q1), theta)
        if self.caps.supports(ms):
            return ms, "x", "x", q0, q1
        raise PlatformError(
            f"{self.caps.name} ({self.caps.platform.value}): no native two-qubit gate between qubits "
            f"{q0} and {q1}")

    def can_entangle(self, q0: int, q1: int) -> bool:
        """Whether (q0, q1) has a native two-qubit gate (cached: validation asks for every gate)."""
        key = ("can-entangle", q0, q1)
        known = self._cache.get(key)
        if known is None:
            try:
                self._entangler(q0, q1, 0.5)
                known = self._cache[key] = (True,)  # type: ignore[assignment]
            except PlatformError:
                known = self._cache[key] = ()
        return bool(known)

    def native_two_qubit(self, instr: PhysicalInstruction) -> tuple[PhysicalInstruction, ...]:
        """A platform-flavour instruction that is already native (crot_x, bichromatic …)."""
        self._require(instr, type(instr).__name__)
        return (instr,)

    # ---- measurement --------------------------------------------------------------------------
    def can_measure(self, qubit: int) -> bool:
        return self.caps.supports(Measure(qubit))

    def measure(self, qubit: int, ancilla: int | None = None) -> tuple[PhysicalInstruction, ...]:
        """Measure ``qubit`` directly, or through a measurable ``ancilla`` (NV carbons via the electron).

        The outcome is that of the last instruction, always a ``Measure``.
        """
        if self.can_measure(qubit):
            return (Measure(qubit),)
        if ancilla is None:
            raise PlatformError(f"{self.caps.name}: qubit {qubit} cannot be measured directly and no "
                                "measurable qubit is free to read it through")
        key = ("measure-via", qubit, ancilla)
        seq = self._cache.get(key)
        if seq is None:
            # Copy the Z value onto the fresh ancilla (CNOT qubit -> ancilla), then read the ancilla.
            seq = self.init(ancilla) + self.two_qubit("cnot", qubit, ancilla) + (Measure(ancilla),)
            self._cache[key] = seq
        return seq

    def measure_ancillas(self) -> Sequence[int]:
        """Qubits through which other qubits can be read."""
        return [q.index for q in self.caps.qubits if self.can_measure(q.index)]

    def _require(self, instr: PhysicalInstruction, what: str) -> None:
        if not self.caps.supports(instr):
            try:
                self.caps.check(instr)
            except Exception as exc:  # the capability check's message names the cause
                raise PlatformError(str(exc)) from None

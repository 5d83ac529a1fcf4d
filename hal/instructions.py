"""Physical instructions: what the OS hands a QDevice, one per device tick.

These are the platform-native operations of QNodeOS's QDevice interface (init, native single- and
two-qubit gates, measure, heralded entanglement attempt, wait). They are small frozen value objects so
that the OS can build them cheaply, a driver can pattern-match on them, and a shim can serialise them.
Angles are in radians; times in nanoseconds of device time.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Union


class Axis(str, enum.Enum):
    """Rotation axis on the Bloch sphere."""

    X = "x"
    Y = "y"
    Z = "z"


@dataclass(frozen=True, slots=True)
class Init:
    """Prepare ``qubit`` in |0>."""

    qubit: int


@dataclass(frozen=True, slots=True)
class Rotate:
    """Native single-qubit rotation of ``qubit`` about ``axis`` by ``angle``:
    R_axis(angle) = exp(-i angle/2 sigma_axis)."""

    qubit: int
    axis: Axis
    angle: float


@dataclass(frozen=True, slots=True)
class ControlledRotate:
    """NV electron-carbon conditional rotation.

    The ``target`` turns by +``angle`` about ``axis`` when the ``control`` is |0> and by -angle when
    it is |1>: U = |0><0| (x) R(angle) + |1><1| (x) R(-angle), the gate NV hardware performs natively
    (and the meaning of NetQASM's NV ``crot_x``/``crot_y``).
    """

    control: int
    target: int
    axis: Axis
    angle: float


@dataclass(frozen=True, slots=True)
class MolmerSorensen:
    """Trapped-ion Molmer-Sorensen gate on a pair of ``qubits``: U = exp(-i angle/2 X(x)X); ``angle`` =
    pi/2 entangles fully."""

    qubits: tuple[int, int]
    angle: float


@dataclass(frozen=True, slots=True)
class Measure:
    """Projective measurement of ``qubit`` in the Z basis (the qubit is left in the measured state)."""

    qubit: int


@dataclass(frozen=True, slots=True)
class EntangleAttempt:
    """Heralded entanglement attempts between ``qubit`` and a qubit of the node ``peer``.

    Attempts repeat (one per attempt slot) until one is heralded or ``max_attempts`` have failed. Both
    nodes must attempt in the same window; ``window_start_ns`` pins that window (both sides must agree)
    and ``None`` lets the heralding link align the two devices' clocks. ``tag`` names what the attempt
    is for (e.g. a request and pair number agreed by the two nodes' network stacks): a link pairs
    only attempts with equal tags, so two nodes working on different requests never share a pair.
    """

    qubit: int
    peer: str
    max_attempts: int = 1
    window_start_ns: int | None = None
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class Wait:
    """Leave the device idle for ``duration_ns`` (qubits decohere meanwhile)."""

    duration_ns: int


PhysicalInstruction = Union[Init, Rotate, ControlledRotate, MolmerSorensen, Measure, EntangleAttempt, Wait]

#: Stable wire/capability names of the instruction types.
INSTRUCTION_NAMES: dict[type, str] = {
    Init: "init",
    Rotate: "rotate",
    ControlledRotate: "controlled_rotate",
    MolmerSorensen: "molmer_sorensen",
    Measure: "measure",
    EntangleAttempt: "entangle",
    Wait: "wait",
}
INSTRUCTION_TYPES: dict[str, type] = {name: cls for cls, name in INSTRUCTION_NAMES.items()}


def instruction_name(instr: PhysicalInstruction) -> str:
    """The stable name of ``instr``'s type (``"rotate"``, ``"measure"`` …)."""
    return INSTRUCTION_NAMES[type(instr)]


def qubits_of(instr: PhysicalInstruction) -> tuple[int, ...]:
    """The device qubits the instruction ``instr`` acts on, in order (empty for ``Wait``)."""
    if isinstance(instr, (Init, Rotate, Measure, EntangleAttempt)):
        return (instr.qubit,)
    if isinstance(instr, ControlledRotate):
        return (instr.control, instr.target)
    if isinstance(instr, MolmerSorensen):
        return tuple(instr.qubits)
    return ()


def to_dict(instr: PhysicalInstruction) -> dict:
    """A JSON-friendly dict of ``instr`` (used by shims and traces)."""
    out: dict = {"op": instruction_name(instr)}
    for field in instr.__dataclass_fields__:
        value = getattr(instr, field)
        if isinstance(value, Axis):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        out[field] = value
    return out


def from_dict(data: dict) -> PhysicalInstruction:
    """The instruction that :func:`to_dict` turned into ``data``; raises ``ValueError`` naming what is
    wrong."""
    try:
        cls = INSTRUCTION_TYPES[data["op"]]
    except KeyError:
        raise ValueError(f"unknown physical instruction {data.get('op')!r}") from None
    kwargs = {k: v for k, v in data.items() if k != "op"}
    if "axis" in kwargs:
        kwargs["axis"] = Axis(kwargs["axis"])
    if "qubits" in kwargs:
        kwargs["qubits"] = tuple(kwargs["qubits"])
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"bad fields for {data['op']!r}: {exc}") from None


def angle_is_multiple(angle: float, step: float, tol: float = 1e-9) -> bool:
    """Whether ``angle`` is an integer multiple of ``step`` within ``tol`` (in multiples of ``step``;
    QNodeOS NV packs angles in pi/16 steps)."""
    k = angle / step
    return math.isclose(k, round(k), abs_tol=tol)

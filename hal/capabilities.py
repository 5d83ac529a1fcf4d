"""What a QDevice can do, declared up front so the OS can translate and schedule without the hardware.

A driver publishes one frozen :class:`Capabilities`: its qubits and their roles, the native operations
it performs on which qubits (or pairs), how long each takes (whole device ticks) and the noise figures
the OS uses to estimate fidelities. :meth:`Capabilities.check` is the single place that decides whether
an instruction can run, so the OS can refuse before execution with the same message a driver would give.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Iterable

from .errors import InvalidQubit, UnsupportedInstruction
from .instructions import Axis, EntangleAttempt, PhysicalInstruction, Wait, instruction_name, qubits_of

HAL_VERSION = "1.0"


class Platform(str, enum.Enum):
    """Hardware families the OS knows how to translate for."""

    NV = "nv"
    TRAPPED_ION = "trapped_ion"
    GENERIC = "generic"


class QubitRole(str, enum.Enum):
    """Communication qubits can be entangled with remote nodes; memory qubits store states."""

    COMMUNICATION = "communication"
    MEMORY = "memory"


@dataclass(frozen=True)
class QubitInfo:
    """One physical qubit: its ``index`` on the device, its ``roles``, coherence times ``t1_ns`` and
    ``t2_ns`` (``math.inf`` = no decay) and ``readout_error`` (P(report 1 | 0), P(report 0 | 1))."""

    index: int
    roles: frozenset[QubitRole]
    t1_ns: float = math.inf
    t2_ns: float = math.inf
    readout_error: tuple[float, float] = (0.0, 0.0)  # P(report 1 | 0), P(report 0 | 1)

    @property
    def is_communication(self) -> bool:
        """Whether the qubit can take part in entanglement attempts."""
        return QubitRole.COMMUNICATION in self.roles


@dataclass(frozen=True)
class NativeOperation:
    """A native operation: the instruction type (``name``, as :func:`~qnodeos.hal.instruction_name`
    gives it), where it applies, its duration (``duration_ns``) and error.

    ``targets`` lists the qubit tuples it may act on (1-tuples for single-qubit operations, ordered
    pairs for two-qubit ones; a pair (a, b) also admits (b, a) when ``symmetric``). ``axes`` restricts
    rotation axes. ``error`` is the depolarising probability the device applies with it.
    """

    name: str
    targets: frozenset[tuple[int, ...]]
    duration_ns: int
    axes: frozenset[Axis] = frozenset()
    error: float = 0.0
    symmetric: bool = False

    def applies_to(self, qubits: tuple[int, ...]) -> bool:
        """Whether the operation may act on ``qubits`` (in this order, or reversed when symmetric)."""
        if qubits in self.targets:
            return True
        return self.symmetric and len(qubits) == 2 and (qubits[1], qubits[0]) in self.targets


@dataclass(frozen=True)
class EntanglementInfo:
    """The heralded link as the device sees it: how long one attempt takes (``attempt_duration_ns``),
    the expected per-attempt ``success_probability``, the delivered ``fidelity``, and the heralding
    ``scheme`` (``single-click`` or ``two-photon``). Communication qubits are those whose role says so."""

    attempt_duration_ns: int
    success_probability: float
    fidelity: float
    scheme: str = "single-click"


@dataclass(frozen=True)
class Capabilities:
    """Everything the OS needs to know about a device, independent of how it is driven.

    Attributes:
        name: the device model's name.
        platform: the kind of hardware (it chooses the NetQASM flavour and translations).
        tick_ns: the device clock's tick; every instruction starts on a tick and lasts whole ticks.
        qubits: each physical qubit, by index.
        operations: the native operations, each with its targets, duration and error.
        entanglement: the heralded link (None: the device cannot entangle with other nodes).
        hal_version: the HAL contract the device implements (see :data:`~qnodeos.hal.HAL_VERSION`).
    """

    name: str
    platform: Platform
    tick_ns: int
    qubits: tuple[QubitInfo, ...]
    operations: tuple[NativeOperation, ...]
    entanglement: EntanglementInfo | None = None
    hal_version: str = HAL_VERSION
    _by_name: dict[str, tuple[NativeOperation, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        grouped: dict[str, list[NativeOperation]] = {}
        for op in self.operations:
            grouped.setdefault(op.name, []).append(op)
        self._by_name.update({k: tuple(v) for k, v in grouped.items()})

    @property
    def num_qubits(self) -> int:
        """How many physical qubits the device has."""
        return len(self.qubits)

    def qubits_with(self, role: QubitRole) -> tuple[int, ...]:
        """Indices of the qubits that have ``role``."""
        return tuple(q.index for q in self.qubits if role in q.roles)

    def operation_for(self, instr: PhysicalInstruction) -> NativeOperation | None:
        """The native operation that performs ``instr``, or None (no qubit checks beyond targets)."""
        qubits = qubits_of(instr)
        for op in self._by_name.get(instruction_name(instr), ()):
            if not op.applies_to(qubits):
                continue
            axis = getattr(instr, "axis", None)
            if axis is not None and op.axes and axis not in op.axes:
                continue
            return op
        return None

    def check(self, instr: PhysicalInstruction) -> NativeOperation | None:
        """Whether the device can run ``instr``: raise :class:`InvalidQubit` or
        :class:`UnsupportedInstruction` naming the cause; else return the matching native operation
        (None for ``Wait``)."""
        qubits = qubits_of(instr)
        for q in qubits:
            if not 0 <= q < len(self.qubits):
                raise InvalidQubit(f"{self.name}: no qubit {q} (device has {len(self.qubits)}) in {instr!r}")
        if len(set(qubits)) != len(qubits):
            raise InvalidQubit(f"{self.name}: the same qubit twice in {instr!r}")
        if isinstance(instr, Wait):
            if instr.duration_ns < 0:
                raise UnsupportedInstruction(f"{self.name}: negative wait {instr.duration_ns} ns")
            return None
        if isinstance(instr, EntangleAttempt):
            if self.entanglement is None:
                raise UnsupportedInstruction(f"{self.name}: no entanglement link on this device")
            if instr.max_attempts < 1:
                raise UnsupportedInstruction(f"{self.name}: max_attempts must be >= 1, got {instr.max_attempts}")
        op = self.operation_for(instr)
        if op is None:
            raise UnsupportedInstruction(self._why_unsupported(instr, qubits))
        return op

    def _why_unsupported(self, instr: PhysicalInstruction, qubits: tuple[int, ...]) -> str:
        name = instruction_name(instr)
        ops = self._by_name.get(name)
        if not ops:
            return f"{self.name} ({self.platform.value}) has no native {name!r} operation: {instr!r}"
        axis = getattr(instr, "axis", None)
        if axis is not None and any(op.applies_to(qubits) for op in ops):
            allowed = sorted({a.value for op in ops if op.applies_to(qubits) for a in op.axes})
            return f"{self.name}: {name} about {axis.value} is not native on qubits {qubits} (axes {allowed})"
        return f"{self.name}: {name} is not possible on qubit(s) {qubits} of this {self.platform.value} device"

    def supports(self, instr: PhysicalInstruction) -> bool:
        """Whether :meth:`check` accepts ``instr``."""
        try:
            self.check(instr)
        except (InvalidQubit, UnsupportedInstruction):
            return False
        return True

    def duration_ns(self, instr: PhysicalInstruction) -> int:
        """Nominal duration of ``instr`` (a Wait lasts what it says; an attempt lasts one attempt slot)."""
        if isinstance(instr, Wait):
            return instr.duration_ns
        if isinstance(instr, EntangleAttempt):
            assert self.entanglement is not None
            return self.entanglement.attempt_duration_ns
        op = self.check(instr)
        assert op is not None
        return op.duration_ns

    def ticks(self, duration_ns: int) -> int:
        """Whole device ticks needed for ``duration_ns`` (an instruction occupies at least one tick)."""
        return max(1, -(-duration_ns // self.tick_ns))

    def to_dict(self) -> dict:
        """JSON-friendly description (what `qnodeos drivers --describe` prints and shims exchange)."""
        return {
            "name": self.name,
            "platform": self.platform.value,
            "hal_version": self.hal_version,
            "tick_ns": self.tick_ns,
            "qubits": [
                {"index": q.index, "roles": sorted(r.value for r in q.roles), "t1_ns": q.t1_ns,
                 "t2_ns": q.t2_ns, "readout_error": list(q.readout_error)}
                for q in self.qubits
            ],
            "operations": [
                {"name": op.name, "targets": sorted(list(t) for t in op.targets), "duration_ns": op.duration_ns,
                 "axes": sorted(a.value for a in op.axes), "error": op.error, "symmetric": op.symmetric}
                for op in self.operations
            ],
            "entanglement": None if self.entanglement is None else {
                "attempt_duration_ns": self.entanglement.attempt_duration_ns,
                "success_probability": self.entanglement.success_probability,
                "fidelity": self.entanglement.fidelity,
                "scheme": self.entanglement.scheme,
            },
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Capabilities":
        """The capabilities that :meth:`to_dict` turned into ``data`` (what a shim's controller sends)."""
        ent = data.get("entanglement")
        return cls(
            name=data["name"],
            platform=Platform(data["platform"]),
            tick_ns=int(data["tick_ns"]),
            hal_version=data.get("hal_version", HAL_VERSION),
            qubits=tuple(
                QubitInfo(q["index"], frozenset(QubitRole(r) for r in q["roles"]), float(q["t1_ns"]),
                          float(q["t2_ns"]), tuple(q.get("readout_error", (0.0, 0.0))))
                for q in data["qubits"]
            ),
            operations=tuple(
                NativeOperation(op["name"], frozenset(tuple(t) for t in op["targets"]), int(op["duration_ns"]),
                                frozenset(Axis(a) for a in op["axes"]), float(op["error"]), bool(op["symmetric"]))
                for op in data["operations"]
            ),
            entanglement=None if ent is None else EntanglementInfo(**ent),
        )


def single_targets(qubits: Iterable[int]) -> frozenset[tuple[int, ...]]:
    """Helper for drivers: the 1-tuples of ``qubits``."""
    return frozenset((q,) for q in qubits)


def pair_targets(pairs: Iterable[tuple[int, int]]) -> frozenset[tuple[int, ...]]:
    """Helper for drivers: the given ordered pairs."""
    return frozenset(tuple(p) for p in pairs)

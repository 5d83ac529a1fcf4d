"""What a subroutine will ask of each of its virtual qubits, read before it runs.

Placement needs to know, per virtual qubit, which other qubits it meets in two-qubit gates, whether it
is measured, how many local operations it undergoes and whether it outlives the subroutine (allocated
and not freed, so it is held across the host's next round trip). NetQASM names virtual qubits through
``set Qn <id>`` just before use, so a light constant propagation over the subroutine (forgotten at every
branch target) finds them; an operand it cannot resolve marks the subroutine ``unknown`` and placement
falls back to what every qubit can do.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

from .compiler import BRANCHES, CONTROLLED_ROTATIONS, FIXED_GATES, ROTATIONS, TWO_QUBIT, CompiledSubroutine, Op

_WRITES_REGISTER = {"load", "lea", "add", "sub", "addm", "subm", "mul", "div", "rem", "meas"}
#: instructions whose first operand is one virtual qubit used locally
_LOCAL = FIXED_GATES | ROTATIONS | {"init"}
#: instructions acting on every qubit the process holds (trapped-ion flavour)
_ALL_QUBIT = {"init_all", "meas_all", "rot_x_all", "rot_y_all", "rot_z_all", "bichromatic"}


@dataclass
class VirtualNeeds:
    """What one virtual qubit is asked to do in a subroutine (or a whole program)."""

    partners: set[int] = field(default_factory=set)  # virtual ids it shares two-qubit gates with
    local_ops: int = 0  # init, single-qubit gates and rotations
    measured: bool = False
    allocated: bool = False
    freed: bool = False

    @property
    def kept(self) -> bool:
        """Allocated and not freed here: it is held across the host's next round trip."""
        return self.allocated and not self.freed

    def merge(self, other: "VirtualNeeds") -> None:
        self.partners |= other.partners
        self.local_ops += other.local_ops
        self.measured |= other.measured
        self.allocated |= other.allocated
        self.freed = other.freed if other.allocated or other.freed else self.freed


@dataclass
class SubroutineNeeds:
    """Per virtual id, what the subroutine asks of it; ``unknown`` when some qubit operand is computed."""

    qubits: dict[int, VirtualNeeds] = field(default_factory=dict)
    unknown: bool = False
    epr: bool = False  # it creates or receives entanglement (pairs arrive on communication qubits)
    all_qubits: bool = False  # init_all / meas_all / ..._all / bichromatic: every held qubit takes part

    def of(self, vid: int) -> VirtualNeeds:
        return self.qubits.setdefault(vid, VirtualNeeds())


def qubit_operands(sub: CompiledSubroutine) -> Iterator[tuple[int, Op, list[int | None]]]:
    """(line, op, virtual ids of its register operands, None where not a constant) for every
    instruction that is not a plain ``set``."""
    targets = {op.args[-1][1] for op in sub.ops if op.kind in BRANCHES}
    known: dict[int, int] = {}
    for line, op in enumerate(sub.ops):
        if line in targets:
            known.clear()
        kind, args = op.kind, op.args
        if kind == "set":
            known[args[0][1]] = args[1][1]
            continue
        vids = [known.get(a[1]) for a in args if isinstance(a, tuple) and a and a[0] == "r"]
        yield line, op, vids
        if kind in _WRITES_REGISTER:
            dest = args[1] if kind == "meas" else args[0]
            known.pop(dest[1], None)


def analyse(sub: CompiledSubroutine) -> SubroutineNeeds:
    """Read ``sub`` once: what each of its virtual qubits will be asked to do."""
    needs = SubroutineNeeds()
    for _line, op, vids in qubit_operands(sub):
        kind = op.kind
        if kind in ("create_epr", "recv_epr"):
            needs.epr = True
        elif kind in _ALL_QUBIT:
            needs.all_qubits = True
        elif kind in _LOCAL or kind in ("qalloc", "qfree", "meas"):
            v = vids[0] if vids else None
            if v is None:
                needs.unknown = True
                continue
            n = needs.of(v)
            if kind == "qalloc":
                n.allocated, n.freed = True, False
            elif kind == "qfree":
                n.freed = True
            elif kind == "meas":
                n.measured = True
            else:
                n.local_ops += 1
        elif kind in TWO_QUBIT or kind in CONTROLLED_ROTATIONS:
            v0, v1 = (vids + [None, None])[:2]
            if v0 is None or v1 is None:
                needs.unknown = True
                continue
            if v0 != v1:
                needs.of(v0).partners.add(v1)
                needs.of(v1).partners.add(v0)
    return needs


def merge(parts: Iterable[SubroutineNeeds]) -> SubroutineNeeds:
    """The needs of several subroutines run in order (a program)."""
    out = SubroutineNeeds()
    for part in parts:
        out.unknown |= part.unknown
        out.epr |= part.epr
        out.all_qubits |= part.all_qubits
        for vid, n in part.qubits.items():
            out.of(vid).merge(n)
    return out

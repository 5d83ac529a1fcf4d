"""Refuse, before anything runs, NetQASM instructions the loaded platform cannot perform.

Virtual qubit ids are usually set by ``set Qn <id>`` just before use, so a light constant propagation
over the subroutine (forgotten at every branch target, :func:`qnodeos.qubit_needs.qubit_operands`)
finds which virtual qubits each gate names. A program in NetQASM's NV flavour follows the flavour's
convention (id 0 is the electron, others are carbons): each virtual id is mapped to a representative
physical qubit of that role and the translator is asked for the gate. Other programs are placed
freely at run time (the memory manager moves states next to each other for a two-qubit gate), so an
instruction is refused only if no qubit (or pair) of the device can do it. Whatever cannot run is
refused with the line, the instruction and the reason.
"""
from __future__ import annotations

from qnodeos.hal import QubitRole

from .compiler import FIXED_GATES, ROTATIONS, TWO_QUBIT, CompiledSubroutine
from .errors import PlatformError
from .memory import QuantumMemory
from .qubit_needs import qubit_operands
from .translation import Translator

_TWO_QUBIT_RULE = {"cnot": "cnot", "cphase": "cphase", "mov": "swap", "swp": "swap"}


def _representatives(memory: QuantumMemory, vids: list[int], convention: bool) -> dict[int, int]:
    """A distinct physical qubit of the right role for each virtual id (None when roles run out):
    under the NV flavour's convention id 0 is a communication qubit and the others memory qubits;
    otherwise any qubit (placement chooses at run time)."""
    caps = memory.capabilities
    comm = list(caps.qubits_with(QubitRole.COMMUNICATION))
    everything = [q.index for q in caps.qubits]
    others = [q for q in everything if q not in comm] if convention else everything
    out: dict[int, int] = {}
    for v in vids:
        pool = comm if convention and v == 0 else others
        free = [p for p in pool if p not in out.values()]
        if free:
            out[v] = free[0]
    return out


def validate(sub: CompiledSubroutine, translator: Translator, memory: QuantumMemory) -> None:
    """Raise :class:`PlatformError` for the first instruction that cannot run on this device."""
    caps = translator.caps
    convention = sub.flavour == "nv" and memory.role_pinned
    for line, op, vids in qubit_operands(sub):
        kind = op.kind
        try:
            if kind in FIXED_GATES or kind in ROTATIONS or kind == "meas":
                v = vids[0]
                if v is None:
                    continue
                if not convention:
                    usable = [q.index for q in caps.qubits if translator.can_rotate(q.index)]
                    if kind != "meas" and not usable:
                        raise PlatformError("no qubit of this device has native single-qubit rotations")
                    continue
                q = _representatives(memory, [v], convention).get(v)
                if q is None:
                    raise PlatformError(f"no qubit can hold virtual qubit {v}")
                if kind == "meas":
                    if not translator.can_measure(q) and not translator.measure_ancillas():
                        raise PlatformError(f"virtual qubit {v} cannot be measured on this device")
                elif not translator.can_rotate(q):
                    raise PlatformError(f"qubit {q} has no native single-qubit rotations")
            elif kind in TWO_QUBIT or kind in ("crot_x", "crot_y"):
                v0, v1 = vids[0], vids[1]
                if v0 is None or v1 is None or not convention:
                    if not _has_entangler(translator):
                        raise PlatformError("this device has no two-qubit gate at all")
                    if v0 is not None and v0 == v1:
                        raise PlatformError(f"two-qubit gate on the same virtual qubit {v0}")
                    continue
                if v0 == v1:
                    raise PlatformError(f"two-qubit gate on the same virtual qubit {v0}")
                reps = _representatives(memory, [v0, v1], convention)
                if v0 not in reps or v1 not in reps:
                    raise PlatformError(f"virtual qubits {v0} and {v1} cannot both be held on this device")
                try:
                    if kind in ("crot_x", "crot_y"):
                        if not translator.can_entangle(reps[v0], reps[v1]):
                            raise PlatformError("no native two-qubit gate")
                    else:
                        translator.two_qubit(_TWO_QUBIT_RULE[kind], reps[v0], reps[v1])
                except PlatformError:
                    roles = ["communication" if v == 0 else "memory" for v in (v0, v1)]
                    raise PlatformError(
                        f"{kind} between virtual qubits {v0} ({roles[0]}) and {v1} ({roles[1]}) is impossible "
                        f"under the NV flavour's convention: the device has no two-qubit gate between such "
                        f"qubits") from None
            elif kind == "bichromatic" and not _all_pairs_entangle(translator):
                raise PlatformError("bichromatic acts on every pair of the process's qubits, and this device "
                                    "has no two-qubit gate between some pairs")
        except PlatformError as exc:  # only now format the instruction (formatting is slow)
            where = f"line {line} `{str(op.instr).strip()}` on {caps.name} ({caps.platform.value})"
            raise PlatformError(f"{where}: {exc}") from None


def _has_entangler(translator: Translator) -> bool:
    return any(op.name in ("controlled_rotate", "molmer_sorensen") for op in translator.caps.operations)


def _all_pairs_entangle(translator: Translator) -> bool:
    """Whether every pair of qubits has some native two-qubit gate (all-to-all connectivity)."""
    n = translator.caps.num_qubits
    for a in range(n):
        for b in range(a + 1, n):
            if not translator.can_entangle(a, b):
                return False
    return True

"""Refuse, before anything runs, NetQASM instructions the loaded platform cannot perform.

Virtual qubit ids are usually set by ``set Qn <id>`` just before use, so a light constant propagation
over the subroutine (forgotten at every branch target) finds which virtual qubits each gate names. Each
virtual id is mapped to a representative physical qubit of the role it will get (on NV: id 0 is the
electron, others are carbons) and the translator is asked for the gate: whatever it cannot lower is
refused with the line, the instruction and the reason.
"""
from __future__ import annotations

from qnodeos.hal import QubitRole

from .compiler import FIXED_GATES, ROTATIONS, TWO_QUBIT, CompiledSubroutine
from .errors import PlatformError
from .memory import QuantumMemory
from .translation import Translator

_WRITES_REGISTER = {"load", "lea", "add", "sub", "addm", "subm", "mul", "div", "rem", "meas"}
_BRANCHES = {"jmp", "bez", "bnz", "beq", "bne", "blt", "bge"}
_TWO_QUBIT_RULE = {"cnot": "cnot", "cphase": "cphase", "mov": "swap", "swp": "swap"}


def _representatives(memory: QuantumMemory, vids: list[int]) -> dict[int, int]:
    """A distinct physical qubit of the right role for each virtual id (None when roles run out)."""
    caps = memory.capabilities
    comm = list(caps.qubits_with(QubitRole.COMMUNICATION))
    others = [q.index for q in caps.qubits if q.index not in comm] if memory.role_pinned else [q.index for q in caps.qubits]
    out: dict[int, int] = {}
    for v in vids:
        pool = comm if memory.wants_communication(v) else others
        free = [p for p in pool if p not in out.values()]
        if free:
            out[v] = free[0]
    return out


def validate(sub: CompiledSubroutine, translator: Translator, memory: QuantumMemory) -> None:
    """Raise :class:`PlatformError` for the first instruction that cannot run on this device."""
    caps = translator.caps
    targets = {op.args[-1][1] for op in sub.ops if op.kind in _BRANCHES}
    known: dict[int, int] = {}
    for line, op in enumerate(sub.ops):
        if line in targets:
            known.clear()
        kind, args = op.kind, op.args
        if kind == "set":
            known[args[0][1]] = args[1][1]
            continue
        if kind in _WRITES_REGISTER:
            dest = args[1] if kind == "meas" else args[0]
            known.pop(dest[1], None)
            if kind != "meas":
                continue
        vids = [known.get(a[1]) for a in args if isinstance(a, tuple) and a and a[0] == "r"]
        try:
            if kind in FIXED_GATES or kind in ROTATIONS or kind == "meas":
                v = vids[0]
                if v is None:
                    continue
                q = _representatives(memory, [v]).get(v)
                if q is None:
                    raise PlatformError(f"no qubit can hold virtual qubit {v}")
                if kind == "meas":
                    if not translator.can_measure(q) and not translator.measure_ancillas():
                        raise PlatformError(f"virtual qubit {v} cannot be measured on this device")
                elif not translator.can_rotate(q):
                    raise PlatformError(f"qubit {q} has no native single-qubit rotations")
            elif kind in TWO_QUBIT or kind in ("crot_x", "crot_y"):
                v0, v1 = vids[0], vids[1]
                if v0 is None or v1 is None:
                    if not _has_entangler(translator):
                        raise PlatformError("this device has no two-qubit gate at all")
                    continue
                if v0 == v1:
                    raise PlatformError(f"two-qubit gate on the same virtual qubit {v0}")
                reps = _representatives(memory, [v0, v1])
                if v0 not in reps or v1 not in reps:
                    raise PlatformError(f"virtual qubits {v0} and {v1} cannot both be held on this device")
                try:
                    if kind in ("crot_x", "crot_y"):
                        if not translator.can_entangle(reps[v0], reps[v1]):
                            raise PlatformError("no native two-qubit gate")
                    else:
                        translator.two_qubit(_TWO_QUBIT_RULE[kind], reps[v0], reps[v1])
                except PlatformError:
                    roles = ["communication" if memory.wants_communication(v) else "memory" for v in (v0, v1)]
                    raise PlatformError(
                        f"{kind} between virtual qubits {v0} ({roles[0]}) and {v1} ({roles[1]}) is impossible: "
                        f"the device has no two-qubit gate between such qubits") from None
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

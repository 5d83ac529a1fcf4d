"""Compile a netqasm ``Subroutine`` into a list of fast operations for the executor.

Each NetQASM instruction becomes an ``Op``: a kind tag, pre-resolved operands (register slots, array
addresses, immediates, angle parts) and the original instruction (for traces and error messages).
Compilation also refuses instructions qnodeos does not know, so a malformed program fails before any
of it runs.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from netqasm.lang.instr import NetQASMInstruction
from netqasm.lang.operand import Address, ArrayEntry, ArraySlice, Immediate, Register, Template
from netqasm.lang.subroutine import Subroutine

from .errors import ProgramError
from .process import REGISTERS_PER_NAME, register_slot

CLASSICAL = {"set", "store", "load", "undef", "lea", "array", "jmp", "bez", "bnz", "beq", "bne", "blt",
             "bge", "add", "sub", "addm", "subm", "mul", "div", "rem", "ret_reg", "ret_arr", "breakpoint"}
FIXED_GATES = {"x", "y", "z", "h", "s", "k", "t"}
ROTATIONS = {"rot_x", "rot_y", "rot_z"}
TWO_QUBIT = {"cnot", "cphase", "mov", "swp"}
CONTROLLED_ROTATIONS = {"crot_x", "crot_y"}
ALL_QUBIT = {"init_all", "meas_all", "rot_x_all", "rot_y_all", "rot_z_all", "bichromatic"}
QUANTUM = ({"qalloc", "init", "meas", "qfree", "create_epr", "recv_epr", "wait_all", "wait_any",
            "wait_single"} | FIXED_GATES | ROTATIONS | TWO_QUBIT | CONTROLLED_ROTATIONS | ALL_QUBIT)
KNOWN = CLASSICAL | QUANTUM
BRANCHES = {"jmp", "bez", "bnz", "beq", "bne", "blt", "bge"}
#: Instructions whose last two operands are an angle n * pi / 2**d.
ANGLED = ROTATIONS | CONTROLLED_ROTATIONS | {"rot_x_all", "rot_y_all", "rot_z_all", "bichromatic"}
#: Immediates and addresses must fit NetQASM's binary encoding: 32-bit signed integers, and the
#: angle denominator an unsigned byte (the executor computes 2**d).
INT32 = (-(1 << 31), (1 << 31) - 1)
MAX_ANGLE_EXPONENT = 255


@dataclass(frozen=True, slots=True)
class Op:
    kind: str
    args: tuple
    instr: NetQASMInstruction


@dataclass(frozen=True)
class CompiledSubroutine:
    ops: tuple[Op, ...]
    source: Subroutine
    flavour: str = "vanilla"  # the NetQASM flavour it was written in (NV: virtual qubit 0 is the electron)
    needs: Any = None  # what it asks of each virtual qubit (qnodeos.qubit_needs), read once for placement

    def __len__(self) -> int:
        return len(self.ops)


def _operand(value: Any) -> Any:
    """Register -> ('r', slot); immediate -> ('i', int); address -> int; entry/slice -> tuples."""
    if isinstance(value, Register):
        if not (isinstance(value.index, int) and 0 <= value.index < REGISTERS_PER_NAME):
            raise ProgramError(f"register {value} does not exist (each register name has indices "
                               f"0..{REGISTERS_PER_NAME - 1})")
        return ("r", register_slot(value.name, value.index))
    if isinstance(value, Immediate):
        return ("i", _int32(value.value, "immediate"))
    if isinstance(value, int):
        return ("i", _int32(value, "immediate"))
    if isinstance(value, Address):
        return _int32(value.address, "array address")
    if isinstance(value, ArrayEntry):
        return (value.address.address, _operand(value.index))
    if isinstance(value, ArraySlice):
        return (value.address.address, _operand(value.start), _operand(value.stop))
    if isinstance(value, Template):
        raise ProgramError(f"subroutine still has an unfilled template argument {{{value.name}}}")
    raise ProgramError(f"unsupported operand {value!r}")


def _int32(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProgramError(f"{what} {value!r} is not an integer")
    if not INT32[0] <= value <= INT32[1]:
        raise ProgramError(f"{what} {value} does not fit in 32 bits ({INT32[0]}..{INT32[1]})")
    return value


def compile_subroutine(sub: Subroutine, flavour: str = "vanilla") -> CompiledSubroutine:
    """Resolve operands once; raise :class:`ProgramError` naming the first unknown instruction."""
    ops = []
    n = len(sub.instructions)
    for line, instr in enumerate(sub.instructions):
        kind = getattr(instr, "mnemonic", None)
        if kind not in KNOWN:
            raise ProgramError(f"line {line}: instruction {kind or type(instr).__name__!r} is not supported by qnodeos")
        try:
            args = tuple(_operand(op) for op in instr.operands)
        except ProgramError as exc:
            raise ProgramError(f"line {line} ({instr}): {exc}") from None
        if kind in BRANCHES:
            target = args[-1][1]
            if not 0 <= target <= n:
                raise ProgramError(f"line {line} ({instr}): branch target {target} is outside the subroutine (0..{n})")
        if kind in ANGLED and args[-1][0] == "i" and not 0 <= args[-1][1] <= MAX_ANGLE_EXPONENT:
            raise ProgramError(f"line {line} ({instr}): angle denominator exponent {args[-1][1]} is outside "
                               f"0..{MAX_ANGLE_EXPONENT} (the angle is n * pi / 2**d)")
        ops.append(Op(kind, args, instr))
    from .qubit_needs import analyse

    compiled = CompiledSubroutine(tuple(ops), sub, flavour)
    return dataclasses.replace(compiled, needs=analyse(compiled))

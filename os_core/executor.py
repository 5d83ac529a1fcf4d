"""The NetQASM executor: runs one process's subroutine on the device until it ends or must wait.

Classical instructions run here, on the process's own registers and arrays. Quantum instructions go
through the quantum memory manager (virtual → physical qubit, refusing anything the process does not
own) and the translator (NetQASM gate → native physical instructions), then to the device one physical
instruction at a time. Every NetQASM instruction leaves one trace record.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence, cast

from netqasm.lang.instr import NetQASMInstruction

from qnodeos.hal import (Axis, ControlledRotate, Measure, MolmerSorensen, PhysicalInstruction, QDevice, Response,
                         qubits_of)

from .compiler import CLASSICAL, FIXED_GATES, CompiledSubroutine, Op
from .errors import ExecutionError, PlatformError, QNodeOSError, QubitAccessError
from .memory import QuantumMemory
from .memory_manager import MemoryManager, QubitWait
from .process import Process, SubroutineResult, register_label
from .trace import Trace
from .translation import Translator

BLOCKED = -1
#: Physical-instruction sequences whose qubits the executor remembers (a loop body has a handful).
SEQUENCE_CACHE_SIZE = 4096
DONE, WAITING, PREEMPTED = "done", "waiting", "preempted"
_AXES = {"rot_x": Axis.X, "rot_y": Axis.Y, "rot_z": Axis.Z, "crot_x": Axis.X, "crot_y": Axis.Y,
         "rot_x_all": Axis.X, "rot_y_all": Axis.Y, "rot_z_all": Axis.Z}
_TWO_QUBIT_RULE = {"cnot": "cnot", "cphase": "cphase", "mov": "swap", "swp": "swap"}


def _gate_matrix(mnemonic: str) -> Any:
    """The unitary of a fixed vanilla gate, taken from netqasm's own definitions."""
    from netqasm.lang.instr import vanilla
    from netqasm.lang.operand import Register
    from netqasm.lang.encoding import RegisterName

    cls = {"x": vanilla.GateXInstruction, "y": vanilla.GateYInstruction, "z": vanilla.GateZInstruction,
           "h": vanilla.GateHInstruction, "s": vanilla.GateSInstruction, "k": vanilla.GateKInstruction,
           "t": vanilla.GateTInstruction}[mnemonic]
    return cls(reg=Register(RegisterName.Q, 0)).to_matrix()


class NetworkUnavailable:
    """Stand-in network stack for a node without peers: entanglement requests fail clearly."""

    def create_epr(self, executor: "Executor", proc: Process, op: Op, values: tuple) -> None:
        raise ExecutionError("create_epr needs a network stack with a peer node; this node has none")

    recv_epr = create_epr


class Executor:
    """Executes compiled subroutines for processes on one device."""

    #: Classical memory a process may hold in arrays (entries over all its arrays).
    MAX_ARRAY_ENTRIES = 1 << 22

    def __init__(self, device: QDevice, memory: QuantumMemory, trace: Trace, network: Any = None) -> None:
        self.device = device
        self.memory = memory
        self.trace = trace
        self.network = network or NetworkUnavailable()
        self.qubits: MemoryManager  # placement and moves; set by the node that owns this executor
        self.translator = Translator(device.capabilities)
        self._gates = {m: _gate_matrix(m) for m in FIXED_GATES}
        self.busy_ns = 0
        self.physical_count = 0
        self._tick = device.capabilities.tick_ns
        self._classical: dict[int, int] = {}  # physical qubit -> known basis state (after init/measure)
        self._seq_qubits: dict[int, tuple[tuple, tuple[int, ...]]] = {}
        self._measure_seqs: dict[int, tuple[PhysicalInstruction, ...]] = {}
        # a simulated device's fast path for whole sequences (None: one execute per instruction);
        # only the device's own class offers it: a wrapper that forwards unknown attributes to a
        # device it wraps (a recorder, a fault injector) must still see every instruction
        self._fast: Callable[[tuple, bool], tuple[Response | None, int] | None] | None = (
            device.execute_sequence if hasattr(type(device), "execute_sequence") else None)  # type: ignore[attr-defined]
        # and for a sequence that ends in a measurement: (outcome, busy ns), no response built
        self._fast_measure: Callable[[tuple], tuple[int, int] | None] | None = (
            device.measure_sequence if hasattr(type(device), "measure_sequence") else None)  # type: ignore[attr-defined]
        self._handlers: dict[str, Callable[[Process, Op, int], int]] = {
            name[4:]: getattr(self, name) for name in dir(self) if name.startswith("_op_")
        }
        for m in FIXED_GATES:
            self._handlers[m] = self._gate
        for m in ("rot_x", "rot_y", "rot_z"):
            self._handlers[m] = self._rotation
        for m in ("cnot", "cphase", "mov", "swp"):
            self._handlers[m] = self._two_qubit
        for m in ("crot_x", "crot_y"):
            self._handlers[m] = self._controlled_rotation
        for m in ("rot_x_all", "rot_y_all", "rot_z_all"):
            self._handlers[m] = self._rotation_all
        for m in ("bez", "bnz", "beq", "bne", "blt", "bge"):
            self._handlers[m] = self._branch
        self._handlers.update(add=self._op_add, sub=self._op_sub, beq=self._op_beq, bne=self._op_bne,
                              blt=self._op_blt, bge=self._op_bge, bez=self._op_bez, bnz=self._op_bnz)
        self._tables: dict[int, tuple[CompiledSubroutine, tuple]] = {}
        # the hot path of gates: virtual→physical maps, and per (gate, [angle,] qubit) the lowered
        # sequence with the qubits it touches (the translator's own result, asked once)
        self._vmaps = memory.virtual_maps
        self._lowered: dict[tuple, tuple[tuple[PhysicalInstruction, ...], tuple[int, ...]]] = {}
        # one-qubit lowerings per device qubit, keyed by gate (init, fixed gates) or (gate, angle):
        # a list index and a string key, no tuple built per instruction
        self._lowered1: list[dict[Any, tuple[PhysicalInstruction, ...]]] = [
            {} for _ in device.capabilities.qubits]

    # ---- driving ------------------------------------------------------------------------------
    def start(self, proc: Process, sub: CompiledSubroutine) -> None:
        proc.current, proc.pc = sub, 0
        proc.subroutine_index += 1
        proc.results.append(SubroutineResult(index=proc.subroutine_index, start_ns=self.device.now_ns))

    def run(self, proc: Process, time_slice: int = 100_000, budget: int | None = None) -> str:
        """Run ``proc`` until its subroutine ends (``DONE``), it must wait (``WAITING``) or it has run
        ``time_slice`` instructions (``PREEMPTED``, so one endless loop cannot starve the others).
        A process that exceeds ``budget`` instructions in total fails. Errors propagate, wrapped in
        :class:`ExecutionError` naming process, line and instruction."""
        sub = proc.current
        ops = sub.ops
        table = self._table(sub)
        trace = self.trace
        sink = trace.sink()  # appends one row; None when the trace is off
        dev = self.device
        pid, index = proc.pid, proc.subroutine_index
        pc = proc.pc
        n = len(ops)
        count = proc.instructions
        stop_at = count + time_slice
        if budget is not None:
            stop_at = min(stop_at, budget)
        recorded = 0
        t0 = dev.now_ns  # the clock moves only inside handlers: each instruction starts where the last ended
        try:
            while pc < n:
                if count >= stop_at:
                    proc.pc = pc
                    if budget is not None and count >= budget:
                        raise ExecutionError(self._where(proc, pc, ops[pc].instr) + f"exceeded its budget of {budget} "
                                             "instructions (an endless loop?)")
                    return PREEMPTED
                count += 1
                op = ops[pc]
                handler, classical = table[pc]
                try:
                    nxt = handler(proc, op, pc)
                except QubitWait as wait:  # another process holds what it needs: retried when ready
                    nxt = self._wait(proc, wait.ready, wait.what, pc, retry=True)
                except QNodeOSError as exc:
                    raise type(exc)(self._where(proc, pc, op.instr) + str(exc)) from exc
                except Exception as exc:  # a device or driver failure: still say where it happened
                    raise ExecutionError(self._where(proc, pc, op.instr) + f"{type(exc).__name__}: {exc}") from exc
                if nxt == BLOCKED:
                    proc.pc = pc
                    return WAITING
                t1 = t0 if classical else dev.now_ns  # classical instructions take no device time
                if sink is not None:
                    sink((pid, index, pc, op.instr, t0, t1, self._last_physical))
                    recorded += 1
                t0 = t1
                self._last_physical = ()
                pc = nxt
        finally:
            proc.instructions = count
            trace.recorded += recorded
        proc.pc = pc
        proc.results[-1].end_ns = dev.now_ns
        proc.current = None
        while proc.scratch_qubits:
            vid = proc.scratch_qubits.pop()
            if vid in self.memory.qubits_of(proc.pid):
                self.memory.free(proc.pid, vid)
        return DONE

    _last_physical: tuple = ()

    def _table(self, sub: CompiledSubroutine) -> tuple:
        """(bound handler, classical?) per instruction of ``sub``, made once per subroutine."""
        entry = self._tables.get(id(sub))
        if entry is not None and entry[0] is sub:
            return entry[1]
        table = tuple((self._handlers[op.kind], op.kind in CLASSICAL) for op in sub.ops)
        if len(self._tables) >= SEQUENCE_CACHE_SIZE:
            self._tables.clear()
        self._tables[id(sub)] = (sub, table)  # holds sub, so its id is not reused meanwhile
        return table

    @staticmethod
    def _where(proc: Process, pc: int, instr: NetQASMInstruction) -> str:
        return f"process {proc.pid} ({proc.name}), subroutine {proc.subroutine_index}, line {pc} `{instr}`: "

    def execute_physical(self, seq: tuple[PhysicalInstruction, ...], respond: bool = True) -> Response:
        """Send physical instructions to the device (one batch, so a remote or sequencer-based device
        gets one round trip per NetQASM instruction); raise on refusal; return the last response.

        A mock device's fast path (``execute_sequence``) does the same work without a response per
        instruction (and none at all with ``respond=False``, for callers that do not read it);
        anything it cannot plan goes the ordinary way."""
        classical = self._classical
        if classical:  # any operation on a qubit makes its basis state unknown again
            for q in self._qubits_in(seq):
                classical.pop(q, None)
        if self._fast is not None and seq:
            done = self._fast(seq, respond)
            if done is not None:
                self.busy_ns += done[1]
                self.physical_count += len(seq)
                self._last_physical = self._last_physical + seq if self._last_physical else seq
                return cast(Response, done[0])  # None only with respond=False, whose callers do not read it
        resp = None
        tick = self._tick
        responses = (self.device.execute(seq[0]),) if len(seq) == 1 else self.device.execute_many(seq)
        for resp in responses:
            if not resp.ok:
                resp.raise_for_status()
            # Busy time in whole device ticks: an instruction occupies every tick it touches.
            self.busy_ns += -(-(resp.end_ns - resp.start_ns) // tick) * tick or tick
        self.physical_count += len(seq)
        self._last_physical = self._last_physical + seq
        return resp  # type: ignore[return-value]

    def _apply1(self, seq: tuple[PhysicalInstruction, ...], q: int, respond: bool) -> Response:
        """:meth:`execute_physical` for a sequence that touches qubit ``q`` only."""
        self._classical.pop(q, None)  # any operation on a qubit makes its basis state unknown again
        fast = self._fast
        done = fast(seq, respond) if fast is not None else None
        if done is None:
            return self.execute_physical(seq, respond)
        self.busy_ns += done[1]
        self.physical_count += len(seq)
        last = self._last_physical
        self._last_physical = last + seq if last else seq
        return cast(Response, done[0])  # None only with respond=False, whose callers do not read it

    def _lower1(self, q: int, key: Any, seq: tuple[PhysicalInstruction, ...]) -> tuple[PhysicalInstruction, ...]:
        """Remember ``seq``, the translator's lowering of a gate on qubit ``q`` alone, under ``key``."""
        assert self._qubits_in(seq) == (q,) * len(seq), (key, q, seq)
        cache = self._lowered1[q]
        if len(cache) >= SEQUENCE_CACHE_SIZE:
            cache.clear()
        cache[key] = seq
        return seq

    def _apply(self, seq: tuple[PhysicalInstruction, ...], touched: tuple[int, ...], respond: bool) -> Response:
        """:meth:`execute_physical` for a sequence from :meth:`_lower` (its touched qubits known)."""
        classical = self._classical
        if classical:  # any operation on a qubit makes its basis state unknown again
            for q in touched:
                classical.pop(q, None)
        fast = self._fast
        done = fast(seq, respond) if fast is not None else None
        if done is None:
            return self.execute_physical(seq, respond)
        self.busy_ns += done[1]
        self.physical_count += len(seq)
        last = self._last_physical
        self._last_physical = last + seq if last else seq
        return cast(Response, done[0])  # None only with respond=False, whose callers do not read it

    def _lower(self, key: tuple, seq: tuple[PhysicalInstruction, ...]
               ) -> tuple[tuple[PhysicalInstruction, ...], tuple[int, ...]]:
        """Remember ``seq`` (the translator's lowering) under ``key`` with the qubits it touches."""
        entry = (seq, self._qubits_in(seq))
        if len(self._lowered) >= SEQUENCE_CACHE_SIZE:
            self._lowered.clear()
        self._lowered[key] = entry
        return entry

    def _fast_qubit(self, proc: Process, operand: tuple) -> int:
        """:meth:`_qubit` without a call when the process owns the qubit (the common case)."""
        vmap = self._vmaps.get(proc.pid)
        if vmap is not None:
            q = vmap.get(operand[1] if operand[0] == "i" else proc.regs[operand[1]])
            if q is not None:
                return q
        return self._qubit(proc, operand)

    def _qubits_in(self, seq: tuple[PhysicalInstruction, ...]) -> tuple[int, ...]:
        """The device qubits ``seq`` touches (remembered per sequence: the translator reuses them)."""
        entry = self._seq_qubits.get(id(seq))
        if entry is not None and entry[0] is seq:
            return entry[1]
        qubits = tuple(q for instr in seq for q in qubits_of(instr))
        if len(self._seq_qubits) >= SEQUENCE_CACHE_SIZE:
            self._seq_qubits.clear()
        self._seq_qubits[id(seq)] = (seq, qubits)  # holds seq, so its id is not reused meanwhile
        return qubits

    # ---- operand helpers ----------------------------------------------------------------------
    @staticmethod
    def _value(proc: Process, operand: tuple) -> int:
        if operand[0] == "i":
            return operand[1]
        value = proc.regs[operand[1]]
        if value is None:
            raise ExecutionError(f"register {register_label(operand[1])} is undefined")
        return value

    def _qubit(self, proc: Process, operand: tuple) -> int:
        vid = self._value(proc, operand)
        try:
            return self.memory.physical(proc.pid, vid)
        except QubitAccessError:
            if vid != 0 or not self.qubits.follows_nv_convention(proc.pid):
                raise
        # NetQASM's NV compiler treats the electron (virtual qubit 0) as the application's own scratch
        # qubit and routes gates through it without a qalloc: give it to the process on first use (the
        # memory manager may move a waiting process's state off it, or make this process wait).
        phys = self.qubits.claim_communication(proc, vid)
        proc.scratch_qubits.add(vid)  # released when the subroutine ends (the compiler swaps it back)
        self.execute_physical(self.translator.init(phys))
        self._classical[phys] = 0
        return phys

    @staticmethod
    def _array(proc: Process, address: int) -> list:
        try:
            return proc.arrays[address]
        except KeyError:
            raise ExecutionError(f"array @{address} does not exist") from None

    def _entry(self, proc: Process, entry: tuple) -> tuple[list, int]:
        arr = self._array(proc, entry[0])
        index = self._value(proc, entry[1])
        if not 0 <= index < len(arr):
            raise ExecutionError(f"index {index} is outside array @{entry[0]} of length {len(arr)}")
        return arr, index

    def _slice(self, proc: Process, sl: tuple) -> list:
        arr = self._array(proc, sl[0])
        start, stop = self._value(proc, sl[1]), self._value(proc, sl[2])
        if not 0 <= start <= stop <= len(arr):
            raise ExecutionError(f"slice [{start}:{stop}] is outside array @{sl[0]} of length {len(arr)}")
        return arr[start:stop]

    @staticmethod
    def _angle(proc: Process, num: tuple, denom: tuple) -> float:
        n = num[1] if num[0] == "i" else Executor._value(proc, num)
        d = denom[1] if denom[0] == "i" else Executor._value(proc, denom)
        return n * math.pi / (1 << d)

    # ---- classical ----------------------------------------------------------------------------
    def _op_set(self, proc: Process, op: Op, pc: int) -> int:
        proc.regs[op.args[0][1]] = op.args[1][1]
        return pc + 1

    def _op_store(self, proc: Process, op: Op, pc: int) -> int:
        arr, i = self._entry(proc, op.args[1])
        arr[i] = self._value(proc, op.args[0])
        return pc + 1

    def _op_load(self, proc: Process, op: Op, pc: int) -> int:
        arr, i = self._entry(proc, op.args[1])
        if arr[i] is None:
            raise ExecutionError(f"array entry @{op.args[1][0]}[{i}] is undefined")
        proc.regs[op.args[0][1]] = arr[i]
        return pc + 1

    def _op_undef(self, proc: Process, op: Op, pc: int) -> int:
        arr, i = self._entry(proc, op.args[0])
        arr[i] = None
        return pc + 1

    def _op_lea(self, proc: Process, op: Op, pc: int) -> int:
        proc.regs[op.args[0][1]] = op.args[1]
        return pc + 1

    def _op_array(self, proc: Process, op: Op, pc: int) -> int:
        length = self._value(proc, op.args[0])
        if not 0 <= length <= 1 << 20:
            raise ExecutionError(f"array length {length} is out of range")
        held = proc.array_entries - len(proc.arrays.get(op.args[1], ()))
        if held + length > self.MAX_ARRAY_ENTRIES:
            raise ExecutionError(f"arrays of this process would hold {held + length} entries "
                                 f"(limit {self.MAX_ARRAY_ENTRIES})")
        proc.arrays[op.args[1]] = [None] * length
        proc.array_entries = held + length
        return pc + 1

    def _op_jmp(self, proc: Process, op: Op, pc: int) -> int:
        return op.args[0][1]

    def _branch(self, proc: Process, op: Op, pc: int) -> int:
        kind, args = op.kind, op.args
        a = self._value(proc, args[0])
        if kind == "bez":
            taken = a == 0
        elif kind == "bnz":
            taken = a != 0
        else:
            b = self._value(proc, args[1])
            taken = {"beq": a == b, "bne": a != b, "blt": a < b, "bge": a >= b}[kind]
        return args[-1][1] if taken else pc + 1

    def _arith(self, proc: Process, op: Op, pc: int) -> int:
        args = op.args
        a, b = self._value(proc, args[1]), self._value(proc, args[2])
        kind = op.kind
        if kind in ("addm", "subm"):
            mod = self._value(proc, args[3])
            if mod < 1:
                raise ExecutionError(f"modulus must be >= 1, got {mod}")
            value = (a + b) % mod if kind == "addm" else (a - b) % mod
        elif kind in ("div", "rem") and b == 0:
            raise ExecutionError(f"{kind} by zero")
        else:
            simple = {"add": a + b, "sub": a - b}.get(kind)
            value = simple if simple is not None else (
                a * b if kind == "mul" else (a // b if kind == "div" else a % b))
        proc.regs[args[0][1]] = ((value + 0x80000000) & 0xFFFFFFFF) - 0x80000000  # 32-bit registers
        return pc + 1

    _op_addm = _op_subm = _op_mul = _op_div = _op_rem = _arith

    # add, sub and the branches run in every loop: their own handlers, same results and errors
    def _op_add(self, proc: Process, op: Op, pc: int) -> int:
        args = op.args
        regs = proc.regs
        a, b = args[1], args[2]
        x = a[1] if a[0] == "i" else regs[a[1]]
        y = b[1] if b[0] == "i" else regs[b[1]]
        if x is None or y is None:
            return self._arith(proc, op, pc)  # raises, naming the undefined register
        v = x + y
        regs[args[0][1]] = v if -0x80000000 <= v <= 0x7FFFFFFF else ((v + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        return pc + 1

    def _op_sub(self, proc: Process, op: Op, pc: int) -> int:
        args = op.args
        regs = proc.regs
        a, b = args[1], args[2]
        x = a[1] if a[0] == "i" else regs[a[1]]
        y = b[1] if b[0] == "i" else regs[b[1]]
        if x is None or y is None:
            return self._arith(proc, op, pc)  # raises, naming the undefined register
        v = x - y
        regs[args[0][1]] = v if -0x80000000 <= v <= 0x7FFFFFFF else ((v + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        return pc + 1

    def _operands2(self, proc: Process, op: Op) -> tuple[int, int]:
        args = op.args
        return self._value(proc, args[0]), self._value(proc, args[1])

    def _op_beq(self, proc: Process, op: Op, pc: int) -> int:
        a, b = self._operands2(proc, op)
        return op.args[-1][1] if a == b else pc + 1

    def _op_bne(self, proc: Process, op: Op, pc: int) -> int:
        a, b = self._operands2(proc, op)
        return op.args[-1][1] if a != b else pc + 1

    def _op_blt(self, proc: Process, op: Op, pc: int) -> int:
        a, b = self._operands2(proc, op)
        return op.args[-1][1] if a < b else pc + 1

    def _op_bge(self, proc: Process, op: Op, pc: int) -> int:
        a, b = self._operands2(proc, op)
        return op.args[-1][1] if a >= b else pc + 1

    def _op_bez(self, proc: Process, op: Op, pc: int) -> int:
        return op.args[-1][1] if self._value(proc, op.args[0]) == 0 else pc + 1

    def _op_bnz(self, proc: Process, op: Op, pc: int) -> int:
        return op.args[-1][1] if self._value(proc, op.args[0]) != 0 else pc + 1

    def _op_ret_reg(self, proc: Process, op: Op, pc: int) -> int:
        proc.results[-1].registers[register_label(op.args[0][1])] = self._value(proc, op.args[0])
        return pc + 1

    def _op_ret_arr(self, proc: Process, op: Op, pc: int) -> int:
        proc.results[-1].arrays[op.args[0]] = list(self._array(proc, op.args[0]))
        return pc + 1

    def _op_breakpoint(self, proc: Process, op: Op, pc: int) -> int:
        return pc + 1

    # ---- quantum ------------------------------------------------------------------------------
    def _op_qalloc(self, proc: Process, op: Op, pc: int) -> int:
        vid = self._value(proc, op.args[0])
        if vid in proc.scratch_qubits:  # given implicitly earlier in this subroutine: now it is kept
            proc.scratch_qubits.discard(vid)
            return pc + 1
        if proc.max_qubits is not None and not 0 <= vid < proc.max_qubits:
            # NetQASM semantics: a process's virtual qubit ids are 0 .. max_qubits-1
            raise ExecutionError(f"virtual qubit id {vid} is outside this process's {proc.max_qubits} qubits "
                                 f"(it may hold at most {proc.max_qubits})")
        self.qubits.allocate(proc, vid)  # placed by need; QubitWait if others hold what it needs
        proc.scratch_qubits.discard(vid)
        return pc + 1

    def _op_qfree(self, proc: Process, op: Op, pc: int) -> int:
        vid = self._value(proc, op.args[0])
        self.memory.free(proc.pid, vid)
        proc.scratch_qubits.discard(vid)
        return pc + 1

    # init, gates, rotations and measurements run in every loop: the qubit map, the lowering and the
    # device call inlined (the same calls, results and errors as the general helpers they fall back to)
    def _op_init(self, proc: Process, op: Op, pc: int) -> int:
        a = op.args[0]
        vmap = self._vmaps.get(proc.pid)
        q = vmap.get(a[1] if a[0] == "i" else proc.regs[a[1]]) if vmap is not None else None
        if q is None:
            q = self._qubit(proc, a)
        seq = self._lowered1[q].get("init") or self._lower1(q, "init", self.translator.init(q))
        self._apply1(seq, q, False)
        self._classical[q] = 0
        return pc + 1

    def _gate(self, proc: Process, op: Op, pc: int) -> int:
        a = op.args[0]
        vmap = self._vmaps.get(proc.pid)
        q = vmap.get(a[1] if a[0] == "i" else proc.regs[a[1]]) if vmap is not None else None
        if q is None:
            q = self._qubit(proc, a)
        kind = op.kind
        seq = self._lowered1[q].get(kind) or self._lower1(q, kind, self.translator.gate(kind, self._gates[kind], q))
        self._apply1(seq, q, False)
        return pc + 1

    def _rotation(self, proc: Process, op: Op, pc: int) -> int:
        args = op.args
        a = args[0]
        vmap = self._vmaps.get(proc.pid)
        q = vmap.get(a[1] if a[0] == "i" else proc.regs[a[1]]) if vmap is not None else None
        if q is None:
            q = self._qubit(proc, a)
        num, denom = args[1], args[2]
        if num[0] == "i" and denom[0] == "i":
            angle = num[1] * math.pi / (1 << denom[1])
        else:
            angle = self._angle(proc, num, denom)
        key = (op.kind, angle)
        seq = self._lowered1[q].get(key)
        if seq is None:
            seq = self.translator.rotate(_AXES[op.kind], angle, q)
            if angle == 0.0:  # ±0.0 compare equal but lower differently: not remembered
                self.execute_physical(seq, False)
                return pc + 1
            self._lower1(q, key, seq)
        self._apply1(seq, q, False)
        return pc + 1

    def _pair(self, proc: Process, op: Op) -> tuple[int, int]:
        """The physical qubits of a two-qubit gate's operands, moved next to each other if needed."""
        q0, q1 = self._fast_qubit(proc, op.args[0]), self._fast_qubit(proc, op.args[1])
        if q0 == q1:
            raise ExecutionError("a two-qubit gate needs two different qubits")
        if self.translator.can_entangle(q0, q1):
            return q0, q1
        return self.qubits.operable_pair(proc, self._value(proc, op.args[0]), self._value(proc, op.args[1]), q0, q1)

    def _two_qubit(self, proc: Process, op: Op, pc: int) -> int:
        q0, q1 = self._pair(proc, op)
        key = (op.kind, q0, q1)
        entry = self._lowered.get(key) or self._lower(key, self.translator.two_qubit(_TWO_QUBIT_RULE[op.kind], q0, q1))
        self._apply(entry[0], entry[1], False)
        return pc + 1

    def _controlled_rotation(self, proc: Process, op: Op, pc: int) -> int:
        q0, q1 = self._pair(proc, op)
        angle = self._angle(proc, op.args[2], op.args[3])
        instr = ControlledRotate(q0, q1, _AXES[op.kind], angle)
        if self.device.capabilities.supports(instr):
            self.execute_physical((instr,))
        else:  # exp(-i angle/2 Z(x)A) on another entangler
            seq = self.translator.pauli_rotation("z", _AXES[op.kind].value, angle, q0, q1)
            self.execute_physical(seq)
        return pc + 1

    def _op_meas(self, proc: Process, op: Op, pc: int) -> int:
        a = op.args[0]
        vmap = self._vmaps.get(proc.pid)
        q = vmap.get(a[1] if a[0] == "i" else proc.regs[a[1]]) if vmap is not None else None
        if q is None:
            q = self._qubit(proc, a)
        seq = self._measure_seqs.get(q)  # only qubits measured directly have one
        if seq is not None:
            fast = self._fast_measure
            done = fast(seq) if fast is not None else None
            if done is None:
                outcome = int(self._apply1(seq, q, True).outcome)  # type: ignore[arg-type]
            else:
                outcome = done[0]
                self.busy_ns += done[1]
                self.physical_count += len(seq)
                last = self._last_physical
                self._last_physical = last + seq if last else seq
            self._classical[q] = outcome
        else:
            outcome = self._measure(q, proc)
        proc.regs[op.args[1][1]] = outcome
        return pc + 1

    def _measure(self, q: int, proc: Process | None = None) -> int:
        if self.translator.can_measure(q):
            seq = self._measure_seqs.get(q)
            if seq is None:
                seq = self._measure_seqs[q] = (Measure(q),)
            outcome = int(self.execute_physical(seq).outcome)  # type: ignore[arg-type]
            self._classical[q] = outcome
            return outcome
        # Read through a measurable qubit: a free one, or one whose state is a known basis state
        # (it was just measured or initialised), which is restored afterwards.
        ancillas = self.translator.measure_ancillas()
        ancilla = next((a for a in ancillas if self.memory.is_free(a)), None)
        keep = None
        if ancilla is None:
            ancilla = next((a for a in ancillas if a in self._classical), None)
            if ancilla is None:  # a waiting process's state may be moved off one (else wait for one)
                ancilla = self.qubits.measure_ancilla(proc, q)
            if ancilla is None:
                return self._measure_by_swap(q, ancillas)
            if not self.memory.is_free(ancilla):
                keep = self._classical[ancilla]
        outcome = int(self.execute_physical(self.translator.measure(q, ancilla)).outcome)  # type: ignore[arg-type]
        if keep is not None and keep != outcome:
            self.execute_physical(self.translator.gate("x", self._gates["x"], ancilla))
        self._classical[ancilla] = outcome if keep is None else keep
        self._classical[q] = outcome
        return outcome

    def _measure_by_swap(self, q: int, ancillas: Sequence[int]) -> int:
        """Every measurable qubit holds a live state: swap ``q``'s state into one, measure it there and
        swap back, so the other state returns untouched and ``q`` is left in the measured state."""
        for ancilla in ancillas:
            try:
                swap = self.translator.two_qubit("swap", q, ancilla)
            except PlatformError:
                continue
            self.execute_physical(swap)
            outcome = int(self.execute_physical((Measure(ancilla),)).outcome)  # type: ignore[arg-type]
            self.execute_physical(swap)
            self._classical[q] = outcome
            return outcome
        raise PlatformError(f"qubit {q} cannot be measured: no measurable qubit it can exchange its state with")

    def _process_qubits(self, proc: Process) -> list[int]:
        return [phys for _, phys in sorted(self.memory.qubits_of(proc.pid).items())]

    def _op_init_all(self, proc: Process, op: Op, pc: int) -> int:
        for q in self._process_qubits(proc):
            self.execute_physical(self.translator.init(q))
        return pc + 1

    def _op_meas_all(self, proc: Process, op: Op, pc: int) -> int:
        outcomes = [self._measure(q, proc) for q in self._process_qubits(proc)]
        arr = self._array(proc, op.args[1])
        if len(arr) < len(outcomes):
            raise ExecutionError(f"array @{op.args[1]} holds {len(arr)} entries, need {len(outcomes)}")
        arr[: len(outcomes)] = outcomes
        return pc + 1

    def _rotation_all(self, proc: Process, op: Op, pc: int) -> int:
        angle = self._angle(proc, op.args[0], op.args[1])
        for q in self._process_qubits(proc):
            self.execute_physical(self.translator.rotate(_AXES[op.kind], angle, q), False)
        return pc + 1

    def _op_bichromatic(self, proc: Process, op: Op, pc: int) -> int:
        angle = self._angle(proc, op.args[0], op.args[1])
        qubits = self._process_qubits(proc)
        for i, a in enumerate(qubits):  # exp(-i angle/2 sum_{i<j} X_i X_j) as commuting pair gates
            for b in qubits[i + 1:]:
                instr = MolmerSorensen((a, b), angle)
                if self.device.capabilities.supports(instr):
                    self.execute_physical((instr,))
                else:
                    self.execute_physical(self.translator.pauli_rotation("x", "x", angle, a, b))
        return pc + 1

    # ---- entanglement -------------------------------------------------------------------------
    def _op_create_epr(self, proc: Process, op: Op, pc: int) -> int:
        values = tuple(None if a[0] == "r" and proc.regs[a[1]] is None else self._value(proc, a) for a in op.args)
        self.network.create_epr(self, proc, op, values)
        return pc + 1

    def _op_recv_epr(self, proc: Process, op: Op, pc: int) -> int:
        values = tuple(None if a[0] == "r" and proc.regs[a[1]] is None else self._value(proc, a) for a in op.args)
        self.network.recv_epr(self, proc, op, values)
        return pc + 1

    def _wait(self, proc: Process, ready: Callable[[], bool], what: str, pc: int, retry: bool = False) -> int:
        """Block ``proc`` until ``ready()``; it resumes at this instruction (``retry``) or the next."""
        if not retry and ready():
            return pc + 1
        proc.wait_condition, proc.wait_reason = ready, what
        return BLOCKED

    def _op_wait_all(self, proc: Process, op: Op, pc: int) -> int:
        sl = op.args[0]
        return self._wait(proc, lambda: all(v is not None for v in self._slice(proc, sl)),
                          f"all of array @{sl[0]} slice", pc)

    def _op_wait_any(self, proc: Process, op: Op, pc: int) -> int:
        sl = op.args[0]
        return self._wait(proc, lambda: any(v is not None for v in self._slice(proc, sl)),
                          f"any of array @{sl[0]} slice", pc)

    def _op_wait_single(self, proc: Process, op: Op, pc: int) -> int:
        entry = op.args[0]

        def ready() -> bool:
            arr, i = self._entry(proc, entry)
            return arr[i] is not None

        return self._wait(proc, ready, f"array entry @{entry[0]}", pc)

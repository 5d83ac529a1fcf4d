"""``qnodeos.Node``: one quantum network node's OS, for experiment scripts and the CLI.

A node loads one QDevice driver (by registry name, or a ready device object), accepts programs —
each a sequence of NetQASM subroutines, text or binary — as processes, runs them with the scheduler
and keeps their results and a per-instruction trace.

>>> from qnodeos import Node
>>> node = Node("mock-nv", seed=1, config={"preset": "ideal"})
>>> pid = node.submit('''
... # NETQASM 1.0
... # APPID 0
... set Q0 0
... qalloc Q0
... init Q0
... x Q0
... meas Q0 M0
... ret_reg M0
... qfree Q0
... ''')
>>> node.run()
>>> node.result(pid).registers["M0"]
1
"""
from __future__ import annotations

import dataclasses
import itertools
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from netqasm.lang.subroutine import Subroutine

from qnodeos.hal import QDevice
from qnodeos.hal.registry import DriverRegistry

from .compile_cache import COMPILED
from .compiler import CompiledSubroutine, compile_subroutine
from .entanglement import EntanglementTable
from .errors import DeadlockError, ExecutionError, ProgramError, QNodeOSError
from .executor import PREEMPTED, WAITING, Executor
from .memory import QuantumMemory
from .memory_manager import MemoryManager
from .moves import MovePolicy
from .node_config import NodeConfig
from .network_process import NetworkWork, network_process
from .process import Process, ProcessState, SubroutineResult
from .programs import ProgramSource, load_subroutine
from .scheduler import DeviceTimebase, PriorityFifo, SchedulingPolicy, Timebase, Timers, WallClockTimebase
from .trace import DEFAULT_MAX_ROWS, Trace
from .translation import Translator
from .validation import validate

_PLATFORM_FLAVOUR = {"nv": "nv", "trapped_ion": "trapped_ion"}

#: Processes a node runs at once by default (``Node(max_processes=...)``), and the least number of
#: finished processes it keeps for ``result()`` (``finished_history``).
MAX_PROCESSES = 1024


@dataclass
class ProgramResult:
    """The outcome of one submitted program (process), as :meth:`Node.result` reports it.

    Attributes:
        pid: the process id :meth:`Node.submit` returned.
        name: the process's name (``proc<pid>`` unless one was given).
        state: where the process is (``DONE`` or ``FAILED`` once it ended).
        subroutines: each finished subroutine's returned registers and arrays, in order.
        error: why the process failed (None unless ``state`` is ``FAILED``).
        submitted_ns: device time of the submission.
        finished_ns: device time the process ended (None while it runs).
    """

    pid: int
    name: str
    state: ProcessState
    subroutines: list[SubroutineResult] = field(default_factory=list)
    error: str | None = None
    submitted_ns: int = 0
    finished_ns: int | None = None

    @property
    def ok(self) -> bool:
        """Whether the process ran to its end without failing."""
        return self.state is ProcessState.DONE

    @property
    def registers(self) -> dict[str, int]:
        """Registers returned by all subroutines (later ones win)."""
        out: dict[str, int] = {}
        for r in self.subroutines:
            out.update(r.registers)
        return out

    @property
    def arrays(self) -> dict[int, list]:
        """Arrays returned by all subroutines, by array address (later ones win)."""
        out: dict[int, list] = {}
        for r in self.subroutines:
            out.update(r.arrays)
        return out


class Node:
    """The OS of one node: device, memory manager, scheduler, executor, trace.

    Bounds: at most ``max_processes`` processes run at once; finished ones stay for :meth:`result`
    until read, then the latest ``finished_history`` (at least ``max_processes``) are kept; the trace
    keeps the latest ``trace_rows`` instructions (``trace=False`` records none); a process that runs
    more than ``max_instructions`` instructions fails.

    Args:
        driver: a registered driver's name (``qnodeos drivers`` lists them; built through ``registry``
            with ``config``, ``name`` and ``seed``) or a :class:`~qnodeos.hal.QDevice` built already.
        name: the node's name (the device's node name too, and the name peers know it by).
        seed: seeds the device's randomness (mock devices): the same seed repeats a run exactly.
        config: the driver's options (e.g. ``{"preset": "ideal"}``); a driver given an option it does
            not declare refuses it, naming the driver.
        policy: chooses the next ready process (default: strict priority, FIFO within a priority).
        trace: whether to record executed instructions in :attr:`trace`.
        registry: where ``driver`` is looked up (default: every installed driver plugin).
        min_fidelity: entangled pairs whose estimated fidelity falls below this are discarded.
        network: the entanglement generation protocol that runs EPR instructions (None: a node on
            its own; networks attach it with :meth:`attach_network`).
        time_slice: instructions a process may run before others get the device (no starvation).
        max_instructions: a process that executes more instructions fails (None: no limit).
        max_processes: processes that may be alive at once; :meth:`submit` refuses more.
        finished_history: finished processes kept for :meth:`result` (default and minimum:
            ``max_processes``).
        trace_rows: how many of the latest instructions the trace keeps.
        move_policy: when the OS may move a waiting process's qubit state (see
            :class:`~qnodeos.moves.MovePolicy`).
    """

    def __init__(self, driver: str | QDevice = "mock-nv", *, name: str = "node", seed: int | None = None,
                 config: dict[str, Any] | None = None, policy: SchedulingPolicy | None = None,
                 trace: bool = True, registry: DriverRegistry | None = None, min_fidelity: float = 0.0,
                 network: Any = None, time_slice: int = 100_000, max_instructions: int | None = 50_000_000,
                 max_processes: int = MAX_PROCESSES, finished_history: int | None = None,
                 trace_rows: int = DEFAULT_MAX_ROWS, move_policy: MovePolicy | None = None) -> None:
        if isinstance(driver, str):
            registry = registry or DriverRegistry.load()
            device = registry.build(driver, config, node=name, seed=seed)  # only the options it takes
        else:
            device = driver
        self.name = name
        self.device: QDevice = device
        self.capabilities = device.capabilities
        self.memory = QuantumMemory(self.capabilities, EntanglementTable(min_fidelity))
        self.trace = Trace(trace, max_rows=trace_rows)  # the latest ``trace_rows`` instructions
        self.executor = Executor(device, self.memory, self.trace, network)
        self.translator: Translator = self.executor.translator
        #: placement by need, moves of waiting states, fair waits for qubits (see qnodeos.memory_manager)
        self.qubits = MemoryManager(self, move_policy)
        self.executor.qubits = self.qubits
        self.policy: SchedulingPolicy = policy if policy is not None else PriorityFifo()
        self.timebase: Timebase = (DeviceTimebase(device) if getattr(device, "simulated", False)
                                   else WallClockTimebase())
        self._timers = Timers()
        self._waiting: list[Process] = []
        self._processes: dict[int, Process] = {}
        # The process table: live processes, plus finished ones kept for ``result()``. A finished
        # process is forgotten only once its result was read (oldest first, beyond
        # ``finished_history``); unread results instead hold back admission, so none is lost and the
        # table stays bounded (persistent processes hand each result to their host as it comes).
        self._finished: dict[int, None] = {}  # pids of finished processes, oldest first
        self._unread: set[int] = set()  # finished pids whose result nobody has read yet
        self._next_pid = 1
        self._start_ns: int | None = None
        # compiling and validating depend on the device description only (see compile())
        self._compile_scope = repr(self.capabilities)
        self.time_slice = time_slice
        self.max_instructions = max_instructions
        self.max_processes = max_processes
        self.finished_history = max(MAX_PROCESSES, max_processes) if finished_history is None else finished_history
        if self.finished_history < max_processes:
            raise ValueError(f"finished_history={finished_history} must be at least max_processes={max_processes}: "
                             "the results of processes admitted together must fit")
        self.network_work: NetworkWork | None = None

    def attach_network(self, network: Any) -> NetworkWork:
        """Run ``network`` (the EGP, :mod:`qnodeos.network.egp`) as this node's network process: executor
        hooks go to it, and its work is queued on a process of the highest priority (see
        :mod:`qnodeos.network_process`)."""
        self.executor.network = network
        proc = network_process()
        self.trace.process_names[proc.pid] = proc.name
        self.network_work = NetworkWork(self, proc)
        return self.network_work

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_config(cls, path: str | Path, *, driver_config: dict[str, Any] | None = None,
                    **overrides: Any) -> "Node":
        """Build a node from a TOML file (:mod:`qnodeos.node_config`): ``[node]`` name/driver/seed/
        min_fidelity/trace/trace_rows, ``[driver]`` the driver's options. ``overrides`` replace ``[node]`` values
        (``driver=...``, ``seed=...``; None leaves one as it is), ``driver_config`` adds options; other
        keywords (``registry=...``, ``policy=...``) go to the constructor. ``path``: the TOML file."""
        fields = {f.name for f in dataclasses.fields(NodeConfig)}
        node = {k: v for k, v in overrides.items() if k in fields}
        extra = {k: v for k, v in overrides.items() if k not in fields}
        cfg = NodeConfig.load(path).with_overrides(driver_config=driver_config, **node)
        return cls(cfg.driver, config=cfg.driver_config, name=cfg.name, seed=cfg.seed,
                   min_fidelity=cfg.min_fidelity, trace=cfg.trace, trace_rows=cfg.trace_rows, **extra)

    # ---- programs -----------------------------------------------------------------------------
    def compile(self, source: ProgramSource, flavour: str | None = None) -> CompiledSubroutine:
        """Parse (netqasm), compile and validate one subroutine for this node's platform.

        Each distinct subroutine is compiled once per device description in this process
        (:mod:`qnodeos.compile_cache`): a text or binary program is keyed as it is, a netqasm
        ``Subroutine`` by its text form (a tenth of what compiling it costs).

        Args:
            source: NetQASM text, binary NetQASM, a path to either, or a parsed netqasm Subroutine.
            flavour: the NetQASM flavour to read it in (``vanilla``, ``nv``, ``trapped_ion``); None
                tries vanilla, then the platform's own flavour.
        """
        key: Any = source if isinstance(source, (str, bytes)) else None
        if isinstance(source, Subroutine):
            key = ("subroutine", str(source))
        if key is not None:
            key = (self._compile_scope, flavour, key)
            cached: CompiledSubroutine | None = COMPILED.get(key)
            if cached is not None:
                return cached
        sub, used = self._parse(source, flavour)
        compiled = compile_subroutine(sub, used)
        validate(compiled, self.translator, self.memory)
        if key is not None:
            COMPILED.put(key, compiled)
        return compiled

    def _parse(self, source: ProgramSource, flavour: str | None) -> tuple[Subroutine, str]:
        """The subroutine and the NetQASM flavour it was read in."""
        if flavour is not None:
            return load_subroutine(source, flavour), flavour
        platform_flavour = _PLATFORM_FLAVOUR.get(self.capabilities.platform.value)
        try:
            return load_subroutine(source, "vanilla"), "vanilla"
        except ProgramError as vanilla_error:
            if platform_flavour is None or not isinstance(source, str):
                raise
            try:
                return load_subroutine(source, platform_flavour), platform_flavour
            except ProgramError:
                raise vanilla_error from None  # the vanilla reading names the real problem

    def submit(self, program: ProgramSource | Sequence[ProgramSource], *, name: str | None = None,
               priority: int = 1, host_delay_ns: int = 0, flavour: str | None = None,
               max_qubits: int | None = None, pinned: bool = False) -> int:
        """Start a process running ``program`` (one subroutine or a sequence of them) and return its pid.

        Every subroutine is parsed and checked against the platform first: a malformed or impossible
        program raises :class:`ProgramError` / :class:`PlatformError` and no process is created.
        ``host_delay_ns`` is the host-side time between one subroutine's end and the next's arrival
        (classical processing or messages); other processes use the device meanwhile.
        ``pinned=True``: the OS never moves this process's qubits (see :meth:`pin`).

        Args:
            program: what :meth:`compile` takes, or a list of them (run one after the other).
            name: the process's name in results and traces (default ``proc<pid>``).
            priority: lower runs first (QNodeOS's levels); equal priorities take turns in order.
            host_delay_ns: see above.
            flavour: as for :meth:`compile`.
            max_qubits: the most qubits the process may hold at once (None: no limit of its own).
            pinned: see above.
        """
        if isinstance(program, (str, bytes, Path, Subroutine)):
            sources = [program]
        elif isinstance(program, (list, tuple)):
            sources = list(program)
        else:
            raise ProgramError(f"a program is NetQASM text, bytes, a path, a Subroutine or a list of them, "
                               f"not {type(program).__name__}")
        if not sources:
            raise ProgramError("a program needs at least one subroutine")
        compiled = deque(self.compile(s, flavour) for s in sources)
        self._check_process_limit()
        pid = self._next_pid
        self._next_pid += 1
        proc = Process(pid=pid, name=name or f"proc{pid}", priority=priority, pending=compiled,
                       host_delay_ns=host_delay_ns, max_qubits=max_qubits, submitted_ns=self.timebase.now())
        self._processes[pid] = proc
        self.trace.process_names[pid] = proc.name
        if pinned:
            self.qubits.pin(pid)
        self.policy.push(proc)
        return pid

    # ---- running ------------------------------------------------------------------------------
    def run(self, until_ns: int | None = None) -> None:
        """Run until every process has finished (or device time ``until_ns``)."""
        while True:
            if self.step():
                continue
            t = self.next_timer_ns()
            if t is None:
                if self._fail_deadlocked():
                    continue  # failing the stuck ones freed qubits others were waiting for
                break
            if until_ns is not None and t > until_ns:
                self.timebase.advance_to(until_ns)
                break
            self.timebase.advance_to(t)
        self.trace.meta.update(self.stats())

    def step(self) -> bool:
        """Wake due processes and run one ready process until it ends a subroutine or blocks.

        Returns False when nothing was ready (the caller decides whether to idle or wait).
        """
        if self._start_ns is None:
            self._start_ns = self.timebase.now()
        self._wake()
        now = self.timebase.now()
        if self.qubits.due(now) and self.qubits.run_due(now):  # moves and reclaims come first
            return True
        proc = self.policy.pop()
        if proc is None:
            return False
        self._step(proc)
        return True

    def next_timer_ns(self) -> int | None:
        """Device time of the next timed wake-up (a process's or the memory manager's), if any."""
        t, m = self._timers.next_time(), self.qubits.next_time()
        return t if m is None else (m if t is None else min(t, m))

    def waiting(self) -> list[Process]:
        """Processes blocked on a condition (entanglement, a free qubit …)."""
        return list(self._waiting)

    # ---- persistent processes (application hosts) ---------------------------------------------
    def open_process(self, name: str, *, priority: int = 1, max_qubits: int | None = None,
                     on_subroutine_done: Any = None, pinned: bool = False) -> int:
        """A process that stays alive between subroutines, fed one at a time by its host; returns its pid.

        Args:
            name: the process's name in results and traces.
            priority: as for :meth:`submit`.
            max_qubits: as for :meth:`submit`.
            on_subroutine_done: called as ``on_subroutine_done(process, result_or_error)`` after each
                subroutine (how a host learns its results without polling).
            pinned: as for :meth:`submit`.
        """
        self._check_process_limit()
        pid = self._next_pid
        self._next_pid += 1
        proc = Process(pid=pid, name=name, priority=priority, pending=deque(), max_qubits=max_qubits,
                       submitted_ns=self.timebase.now(), persistent=True, on_subroutine_done=on_subroutine_done)
        proc.state = ProcessState.IDLE
        self._processes[pid] = proc
        self.trace.process_names[pid] = name
        if pinned:
            self.qubits.pin(pid)
        self.qubits.on_opened(proc)
        return pid

    def pin(self, pid: int, virtual_ids: Iterable[int] | None = None) -> None:
        """Pin process ``pid``'s qubits (all, or the ``virtual_ids`` given): the OS never moves their
        states (no eviction, no protective or routing move). Others then wait for a pinned qubit instead."""
        proc = self._lookup(pid)
        if proc.finished:
            raise QNodeOSError(f"process {pid} ({proc.name}) has ended")
        self.qubits.pin(pid, None if virtual_ids is None else list(virtual_ids))

    def _check_process_limit(self) -> None:
        live = len(self._processes) - len(self._finished)
        if live >= self.max_processes:
            raise QNodeOSError(f"node {self.name} already runs {live} processes (limit {self.max_processes})")
        if live + len(self._unread) >= self.finished_history:
            raise QNodeOSError(
                f"node {self.name} holds {len(self._unread)} finished processes whose results were not read "
                f"and runs {live} (room for {self.finished_history}): read them with result() or results() first")

    def push_subroutine(self, pid: int, source: ProgramSource, flavour: str | None = None) -> None:
        """Queue one more subroutine (``source``, read in ``flavour`` as for :meth:`compile`) for the
        persistent process ``pid`` (compiled and checked first)."""
        proc = self._processes.get(pid)
        if proc is None or not proc.persistent:
            raise QNodeOSError(f"no open process {pid} on node {self.name}")
        if proc.finished:
            raise QNodeOSError(f"process {pid} ({proc.name}) has ended: {proc.error or 'closed'}")
        proc.pending.append(self.compile(source, flavour))
        if proc.state is ProcessState.IDLE:
            self._record_wait(proc, "wait: host")
            proc.state = ProcessState.READY
            self.qubits.on_resumed(proc)
            self.policy.push(proc)

    def close_process(self, pid: int, error: Exception | None = None) -> None:
        """End the persistent process ``pid`` (its host stopped, or failed): free everything it holds.
        With an ``error`` the process ends as failed, with that error."""
        proc = self._processes.get(pid)
        if proc is None or proc.finished:
            return
        if error is not None:
            self._fail(proc, error)
        else:
            self._finish(proc, ProcessState.DONE)
        if proc in self._waiting:
            self._waiting.remove(proc)

    def process(self, pid: int) -> Process:
        """The process ``pid`` itself (reading a finished one counts as reading its result)."""
        proc = self._lookup(pid)
        if proc.finished:
            self._unread.discard(pid)
        return proc

    def _lookup(self, pid: int) -> Process:
        try:
            return self._processes[pid]
        except KeyError:
            if 0 < pid < self._next_pid:
                raise QNodeOSError(f"process {pid} on node {self.name} finished and was read; the node keeps "
                                   f"the latest {self.finished_history} finished processes") from None
            raise QNodeOSError(f"no process {pid} on node {self.name}") from None

    def _wake(self) -> None:
        for proc in self._timers.pop_due(self.timebase.now()):
            if proc.finished:
                continue  # ended while it waited (its qubits were reclaimed)
            self._record_wait(proc, "wait: host")
            proc.state = ProcessState.READY
            self.qubits.on_resumed(proc)
            self.policy.push(proc)
        if self._waiting:
            still = []
            for proc in self._waiting:
                try:
                    ready = proc.wait_condition() if proc.wait_condition else True
                except QNodeOSError as exc:
                    self._fail(proc, exc)
                    continue
                if ready:
                    self._record_wait(proc, f"wait: {proc.wait_reason or 'an event'}")
                    proc.state, proc.wait_condition = ProcessState.READY, None
                    self.qubits.on_resumed(proc)
                    self.policy.push(proc)
                else:
                    still.append(proc)
            self._waiting = still

    def _record_wait(self, proc: Process, what: str) -> None:
        """Trace the time a process spent waiting (not device time: no physical operations). A wait
        for the host belongs to the subroutine it waits for; any other to the one that waits."""
        now = self.timebase.now()
        since = proc.blocked_ns
        proc.blocked_ns = None
        if since is not None and now > since:
            host = what == "wait: host"
            self.trace.record(proc.pid, proc.subroutine_index + host, -1 if host else proc.pc, what, since, now, ())

    def has_ready(self) -> bool:
        """Whether some process (network or user) can run now: due timers and satisfied waits are
        woken first."""
        if self._start_ns is None:
            self._start_ns = self.timebase.now()
        self._wake()
        return len(self.policy) > 0 or self.qubits.due(self.timebase.now())

    def _step(self, proc: Process) -> None:
        if proc.kind == "network":
            assert self.network_work is not None
            self.network_work.run()
            return
        if proc.current is None:
            self.executor.start(proc, proc.pending.popleft())
            self.qubits.on_start(proc)
        try:
            status = self.executor.run(proc, self.time_slice, self.max_instructions)
        except QNodeOSError as exc:
            self._fail(proc, exc)
            return
        if status == PREEMPTED:
            self.policy.push(proc)
            return
        if status == WAITING:
            proc.state = ProcessState.WAITING
            proc.blocked_ns = self.timebase.now()
            self._waiting.append(proc)
            self.qubits.on_blocked(proc, host=False)
            return
        if proc.on_subroutine_done is not None:
            proc.on_subroutine_done(proc, proc.results[-1])
        if not proc.pending and proc.persistent:
            proc.state = ProcessState.IDLE
            proc.blocked_ns = self.timebase.now()  # waiting for its host's next subroutine
            self.qubits.on_blocked(proc, host=True)
        elif not proc.pending:
            self._finish(proc, ProcessState.DONE)
        elif proc.host_delay_ns > 0:
            proc.state = ProcessState.WAITING
            proc.blocked_ns = self.timebase.now()
            self._timers.add(self.timebase.now() + proc.host_delay_ns, proc)
            self.qubits.on_blocked(proc, host=True, known_ns=proc.host_delay_ns)
        else:
            self.policy.push(proc)

    def _finish(self, proc: Process, state: ProcessState) -> None:
        if self.executor.network is not None and hasattr(self.executor.network, "process_ended"):
            self.executor.network.process_ended(proc)
        if proc.pid not in self._finished:
            self._finished[proc.pid] = None
            if not proc.persistent:
                self._unread.add(proc.pid)
            self._forget_read()
        proc.state = state
        proc.finished_ns = self.timebase.now()
        proc.current = None
        proc.pending.clear()
        self.memory.free_all(proc.pid)
        self.qubits.on_finished(proc)

    def _forget_read(self) -> None:
        """Drop the oldest finished processes whose results were read, down to ``finished_history``
        (admission keeps unread ones within it, so there are always enough read ones)."""
        excess = len(self._finished) - self.finished_history
        if excess <= 0:
            return
        for pid in list(itertools.islice((p for p in self._finished if p not in self._unread), excess)):
            del self._finished[pid]
            self._processes.pop(pid, None)
            self.trace.process_names.pop(pid, None)

    def _fail(self, proc: Process, exc: Exception) -> None:
        proc.error = exc
        self._finish(proc, ProcessState.FAILED)
        if proc.on_subroutine_done is not None:
            proc.on_subroutine_done(proc, exc)

    def fail_waiting(self, error: BaseException) -> None:
        """A failure outside any one process (the device died while idling): every process that was
        waiting on a timer or an event gets the error, so none waits for ever."""
        for proc in list(self._processes.values()):
            if proc.state is ProcessState.WAITING:
                if proc in self._waiting:
                    self._waiting.remove(proc)
                self._fail(proc, ExecutionError(f"node {self.name}: {type(error).__name__}: {error}"))
        self._timers = Timers()

    def _fail_deadlocked(self) -> bool:
        """Nothing is ready and no timer is set: fail the processes waiting for events nothing will
        deliver. A process that only waits for a qubit is spared while that may free it; returns
        whether some process may now run."""
        qubit_waits = [p for p in self._waiting if "qubit" in p.wait_reason]
        victims = [p for p in self._waiting if p not in qubit_waits] or qubit_waits
        for proc in victims:
            self._waiting.remove(proc)
            self._fail(proc, DeadlockError(
                f"process {proc.pid} ({proc.name}) waits for {proc.wait_reason or 'an event'} "
                "that nothing will deliver"))
        if not self._waiting:
            return False
        self._wake()
        return len(self.policy) > 0 or bool(self._waiting)

    # ---- results ------------------------------------------------------------------------------
    def result(self, pid: int) -> ProgramResult:
        """What process ``pid`` returned so far (all of it once it finished: then it counts as read)."""
        proc = self.process(pid)
        return ProgramResult(pid, proc.name, proc.state, list(proc.results),
                             None if proc.error is None else str(proc.error), proc.submitted_ns, proc.finished_ns)

    def results(self) -> dict[int, ProgramResult]:
        """Every process's :meth:`result`, by pid (finished ones count as read)."""
        return {pid: self.result(pid) for pid in self._processes}

    def processes(self) -> Iterable[Process]:
        """The process table: live processes and the finished ones still kept."""
        return self._processes.values()

    def utilisation(self) -> float:
        """Busy device ticks / elapsed device ticks since the node first ran (QNodeOS's measure)."""
        tick = self.capabilities.tick_ns
        total_ticks = -(-(self.timebase.now() - (self._start_ns or 0)) // tick)
        return self.executor.busy_ns / tick / total_ticks if total_ticks > 0 else 0.0

    def stats(self) -> dict[str, Any]:
        """Counters of the node as plain data: device time, utilisation, instructions, qubits, pairs,
        each process's state, the memory manager's and the network's counters."""
        tick = self.capabilities.tick_ns
        elapsed = self.timebase.now() - (self._start_ns or 0)
        return {"node": self.name, "device": self.capabilities.name, "platform": self.capabilities.platform.value,
                "driver": getattr(self.device, "driver_name", self.capabilities.name),  # a shim names itself
                "elapsed_ns": elapsed, "busy_ticks": self.executor.busy_ns // tick,
                "total_ticks": -(-elapsed // tick), "utilisation": self.utilisation(),
                "physical_instructions": self.executor.physical_count,
                "allocated_qubits": len(self.memory.allocated()),
                "entangled_pairs": len(self.memory.entanglement),
                "pairs_below_cutoff": len(self.memory.entanglement.expired(self.timebase.now())),
                "processes": {p.name: p.state.value for p in self._processes.values()},
                "memory": self.qubits.stats(),
                **({"network": self.executor.network.stats()} if hasattr(self.executor.network, "stats") else {})}

    def close(self) -> None:
        """Close the device (a lab driver releases its connection)."""
        self.device.close()

    def __enter__(self) -> "Node":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The quantum memory manager at run time: placement on allocation, moves, and fair waits for qubits.

:class:`~qnodeos.memory.QuantumMemory` is the map (who owns which physical qubit under which virtual
id); this manager decides what goes where, and when a state moves:

- **Placement** (``qalloc``, and the NV flavour's implicit electron): the process's needs
  (:mod:`qnodeos.qubit_needs`) rank the free qubits (:mod:`qnodeos.placement`). Programs in NetQASM's
  NV flavour keep the flavour's convention: virtual qubit 0 is the electron, the others are carbons.
- **Moves** (:mod:`qnodeos.moves`): a waiting process's state is moved off a communication qubit
  that another process or the network stack needs (an *eviction*), off a short-lived qubit onto a
  longer-lived free one while it waits (a *protective* move), or next to its partner before a
  two-qubit gate the two qubits cannot do where they are (a *routing* move: the NV flavour's virtual
  qubit 0 goes back to the electron). The :class:`~qnodeos.moves.MovePolicy` decides which moves are
  worth their fidelity cost; pinned qubits never move.
- **Fair waits** (:mod:`qnodeos.qubit_queue`): a process that must wait for a qubit joins a queue
  ordered by priority, then by arrival; a free qubit goes to the first waiter it can serve, and a
  running process cannot take a qubit an earlier waiter is owed. Within a priority, a process that
  needs a qubit only for the one instruction it runs (reading a carbon through the electron) is
  served before those that will hold one: lending it delays them by one instruction, while the
  reverse would delay the reader by a whole hold (often a host round trip). A process whose silent host keeps others waiting for its qubits
  longer than the policy's hold limit is ended (:class:`~qnodeos.errors.QubitsReclaimed`).

The executor calls :meth:`allocate`, :meth:`claim_communication`, :meth:`operable_pair` and
:meth:`measure_ancilla`; the node calls the ``on_*`` hooks and runs :meth:`run_due` work (protective
moves, evictions the network stack needs, reclaims) as part of its scheduling.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .errors import OutOfQubits, PlatformError, QubitsReclaimed
from .moves import MovePolicy, Mover
from .placement import Placement
from .process import Process, ProcessState
from .qubit_costs import CostModel
from .qubit_needs import SubroutineNeeds, VirtualNeeds, merge
from .qubit_queue import QubitQueue

if TYPE_CHECKING:
    from .node import Node

_BLOCKED = (ProcessState.WAITING, ProcessState.IDLE)


class QubitWait(Exception):
    """Raised inside an instruction: the process must wait until ``ready()`` (then it retries)."""

    def __init__(self, what: str, ready: Callable[[], bool]) -> None:
        super().__init__(what)
        self.what = what
        self.ready = ready


class MemoryManager:
    """Placement, moves and qubit waits of one node (see the module docstring)."""

    def __init__(self, node: "Node", policy: MovePolicy | None = None) -> None:
        self.node = node
        self.memory = node.memory
        self.executor = node.executor
        self.translator = node.executor.translator
        self.policy = policy if policy is not None else MovePolicy()
        self.costs = CostModel(node.capabilities, self.translator)
        self.placement = Placement(self.costs)
        self.mover = Mover(node.executor, node.memory, node.trace, self.costs)
        self._all = tuple(q.index for q in node.capabilities.qubits)
        self.queue = QubitQueue(node.memory)
        self._convention: set[int] = set()  # pids of NV-flavour programs
        self._pinned: dict[int, set[int] | None] = {}  # pid -> pinned virtual ids (None: all of them)
        self._blocked_since: dict[int, int] = {}
        self._host_since: dict[int, int] = {}  # pid -> start of its current host wait
        self._host_known: dict[int, int] = {}  # pid -> known length of that wait (a submitted host delay)
        self._host_estimate: dict[int, float] = {}  # pid -> running mean of its host waits
        self._protect_at: dict[int, int] = {}  # pid -> when to check its waiting states again
        self._nothing_at: int | None = None  # device time at which due work turned out to be none

    # ---- pinning ----------------------------------------------------------------------------------
    def pin(self, pid: int, virtual_ids: Iterable[int] | None = None) -> None:
        """Never move ``pid``'s qubits (all of them, or those ``virtual_ids``)."""
        if virtual_ids is None:
            self._pinned[pid] = None
            return
        current = self._pinned.get(pid, set())
        if current is not None:
            current |= set(virtual_ids)
            self._pinned[pid] = current

    def pinned(self, pid: int, virtual_id: int) -> bool:
        if pid not in self._pinned:
            return False
        vids = self._pinned[pid]
        return vids is None or virtual_id in vids

    def follows_nv_convention(self, pid: int) -> bool:
        return pid in self._convention

    # ---- what a process needs ---------------------------------------------------------------------
    def _program_needs(self, proc: Process) -> SubroutineNeeds:
        parts = [s.needs for s in ([proc.current] if proc.current is not None else []) + list(proc.pending)
                 if getattr(s, "needs", None) is not None]
        return merge(parts)

    def _future_known(self, proc: Process) -> bool:
        """Whether the rest of ``proc``'s program is known (not a host still deciding)."""
        return not proc.persistent or bool(proc.pending)

    def _hold_ns(self, proc: Process) -> float:
        """How long a qubit kept after this subroutine will likely wait for the host."""
        if proc.pending and proc.host_delay_ns > 0:
            return float(proc.host_delay_ns)
        return self._host_estimate.get(proc.pid, 0.0)

    # ---- placement --------------------------------------------------------------------------------
    def _pool(self, proc: Process, virtual_id: int) -> tuple[int, ...]:
        if proc.pid in self._convention:
            return self.placement.convention_pool(virtual_id)
        return self._all

    def _available(self, pool: Iterable[int], proc: Process | None) -> list[int]:
        return self.queue.available(pool, proc)

    def _choose(self, proc: Process, virtual_id: int, free: list[int]) -> int:
        """The best of ``free`` for ``virtual_id``, planning the program's other qubits alongside: the
        virtual qubits it will allocate are placed in order of how many two-qubit partners they
        have (a hub first, so it gets a qubit that meets them all), each on its best free qubit
        given those planned before it; the plan's choice for ``virtual_id`` is taken."""
        if len(free) == 1:
            return free[0]
        needs = self._program_needs(proc)
        hold = self._hold_ns(proc) if self.policy.enabled and self.policy.protect else 0.0
        if needs.unknown or virtual_id not in needs.qubits:
            return self.placement.rank(free, None, hold_ns=hold, free=free)[0]
        current = proc.current.needs.qubits if proc.current is not None and proc.current.needs else {}
        placed = dict(self.memory.qubits_of(proc.pid))
        todo = [v for v, n in needs.qubits.items() if v == virtual_id or (v not in placed and n.allocated)]
        todo.sort(key=lambda v: (-len(needs.qubits[v].partners), v != virtual_id, v))
        avail = list(free)
        for v in todo:
            n = needs.qubits[v]
            kept = current[v].kept if v in current else False
            need = VirtualNeeds(n.partners, n.local_ops, n.measured, kept, False)
            best = self.placement.rank(avail, need, hold_ns=hold,
                                       partners_at=[placed[p] for p in n.partners if p in placed],
                                       unplaced_partners=sum(1 for p in n.partners if p not in placed),
                                       free=avail)[0]
            if v == virtual_id:
                return best
            placed[v] = best
            avail.remove(best)
            if not avail:
                break
        return self.placement.rank(free, None, hold_ns=hold, free=free)[0]

    def allocate(self, proc: Process, virtual_id: int) -> int:
        """A physical qubit for ``proc``'s ``qalloc`` of ``virtual_id`` (raises :class:`QubitWait`
        when others hold what it needs, :class:`OutOfQubits` when nothing ever could serve it)."""
        pool = self._pool(proc, virtual_id)
        free = self._available(pool, proc)
        if free:
            q = self._choose(proc, virtual_id, free)
        else:
            evicted = self._evict(pool, proc, f"for process {proc.pid}") if self._is_communication(pool) else None
            if evicted is None:
                if self._others_hold(pool, proc.pid) or any(self.memory.is_free(p) for p in pool):
                    raise self._wait(proc, pool, f"a free qubit for virtual id {virtual_id}",
                                     evict=self._is_communication(pool))
                role = ("communication " if self._is_communication(pool) else "memory ") \
                    if proc.pid in self._convention else ""
                raise OutOfQubits(f"process {proc.pid}: no free {role}qubit for virtual id {virtual_id} "
                                  f"({len(pool)} such qubits, all in use)")
            q = evicted
        self.memory.assign(proc.pid, virtual_id, q)
        self.queue.leave(proc.pid)
        return q

    def claim_communication(self, proc: Process, virtual_id: int) -> int:
        """The electron an NV-flavour program uses as virtual qubit 0 without allocating it."""
        pool = self.placement.communication
        free = self._available(pool, proc)
        q = free[0] if free else self._evict(pool, proc, f"for process {proc.pid}")
        if q is None:
            raise self._wait(proc, pool, f"the communication qubit (virtual id {virtual_id})", evict=True)
        self.memory.assign(proc.pid, virtual_id, q)
        self.queue.leave(proc.pid)
        return q

    def _is_communication(self, pool: tuple[int, ...]) -> bool:
        comm = set(self.placement.communication)
        return bool(pool) and all(q in comm for q in pool) and self.placement.has_roles

    def _others_hold(self, pool: Iterable[int], pid: int) -> bool:
        return any((o := self.memory.owner_of(q)) is not None and o.pid != pid for q in pool)

    # ---- waiting for qubits, in order -------------------------------------------------------------
    def _wait(self, proc: Process, pool: tuple[int, ...], what: str, *, borrow: bool = False,
              evict: bool = False) -> QubitWait:
        self.queue.join(proc, pool, borrow=borrow, evict=evict)
        return QubitWait(what, lambda: self._grantable(proc))

    def _grantable(self, proc: Process) -> bool:
        w = self.queue.get(proc.pid)
        if w is None:
            return True
        if self._available(w.pool, proc):
            return True
        return w.evict and any(self._eviction_for(q, proc) is not None for q in w.pool)

    def waiting_order(self) -> list[int]:
        """Pids waiting for a qubit, in the order they will be served."""
        return [w.pid for w in self.queue.in_order()]

    # ---- evictions --------------------------------------------------------------------------------
    def _evictable(self, owner_pid: int, virtual_id: int, requester: Process | None) -> Process | None:
        if not self.policy.enabled:
            return None
        proc = self.node._processes.get(owner_pid)
        if proc is None or proc.kind != "user" or proc is requester or proc.state not in _BLOCKED:
            return None
        if self.pinned(owner_pid, virtual_id):
            return None
        return proc

    def _destination(self, src: int, avoid: Iterable[int], requester: Process | None) -> int | None:
        """The best free qubit to move ``src``'s state to (longest coherence, then cheapest move)."""
        avoid = set(avoid)
        free = [q for q in self._available(self._all, requester) if q not in avoid and q != src
                and self.translator.can_entangle(src, q)]
        if not free:
            return None
        return min(free, key=lambda q: (-self.costs.t2(q), self.mover.error(src, q), q))

    def _remaining_ns(self, proc: Process) -> float | None:
        known = self._host_known.get(proc.pid)
        since = self._host_since.get(proc.pid)
        if known is None or since is None:
            return None
        return max(0.0, since + known - self.node.timebase.now())

    def _eviction_for(self, q: int, requester: Process | None) -> tuple[Process, int, int] | None:
        """(owner, its virtual id, destination) if ``q``'s state may be moved away for ``requester``."""
        owner = self.memory.owner_of(q)
        if owner is None:
            return None
        proc = self._evictable(owner.pid, owner.virtual_id, requester)
        if proc is None:
            return None
        dst = self._destination(q, self.placement.communication if q in self.placement.communication else (),
                                requester)
        if dst is None:
            return None
        cost = self.policy.eviction_cost(self.costs, q, dst, self.mover.error(q, dst), self._remaining_ns(proc))
        return (proc, owner.virtual_id, dst) if cost <= self.policy.max_cost else None

    def _evict(self, pool: Iterable[int], requester: Process | None, reason: str) -> int | None:
        """Free one qubit of ``pool`` by moving a waiting state away (policy permitting)."""
        for q in pool:
            found = self._eviction_for(q, requester)
            if found is not None:
                proc, vid, dst = found
                self.mover.move(proc, vid, dst, reason)
                return q
        return None

    # ---- two-qubit gates and readout ---------------------------------------------------------------
    def operable_pair(self, proc: Process, v0: int, v1: int, q0: int, q1: int) -> tuple[int, int]:
        """Physical qubits for a two-qubit gate on ``proc``'s ``v0``, ``v1`` (now on ``q0``, ``q1``):
        if the pair has no native gate, move one state next to the other first."""
        tr = self.translator
        if tr.can_entangle(q0, q1):
            return q0, q1
        conv = proc.pid in self._convention
        comm = set(self.placement.communication)
        owed = self.queue.owed(proc)
        options: list[tuple[float, int, str, int, int]] = []
        blocked: list[int] = []  # qubits next to the partner that another process's state keeps
        for vid, src, other in ((v0, q0, q1), (v1, q1, q0)):
            if (conv and vid != 0) or self.pinned(proc.pid, vid) or not self.policy.enabled:
                continue
            for t in self._all:
                if t in (src, other) or not tr.can_entangle(t, other) or not tr.can_entangle(src, t):
                    continue
                if conv and t not in comm:
                    continue
                owner = self.memory.owner_of(t)
                if owner is None:
                    if t in owed:  # free, but owed to a process that asked before
                        blocked.append(t)
                    else:
                        options.append((self.mover.error(src, t), len(options), "move", vid, t))
                elif owner.pid == proc.pid:
                    if not self.pinned(proc.pid, owner.virtual_id):
                        swap = self.costs.sequence(tr.two_qubit("swap", src, t))[0]
                        options.append((swap, len(options), "exchange", vid, owner.virtual_id))
                elif (found := self._eviction_for(t, proc)) is not None:
                    options.append((self.mover.error(t, found[2]) + self.mover.error(src, t), len(options),
                                    "evict", vid, t))
                else:
                    blocked.append(t)
        if not options:
            if blocked:
                raise self._wait(proc, tuple(sorted(set(blocked))), f"a qubit next to virtual qubit {v0} or {v1}",
                                 evict=True)
            raise PlatformError(f"virtual qubits {v0} and {v1} are on qubits {q0} and {q1}, which share no "
                                "two-qubit gate, and neither can be moved next to the other "
                                "(pinned, or no free qubit)")
        _, _, action, vid, target = min(options)
        reason = f"for a two-qubit gate of process {proc.pid}"
        if action == "exchange":
            self.mover.exchange(proc, vid, target, reason)
        else:
            if action == "evict":
                found = self._eviction_for(target, proc)
                assert found is not None
                self.mover.move(found[0], found[1], found[2], f"for process {proc.pid}")
            self.mover.move(proc, vid, target, reason)
        vmap = self.memory.qubits_of(proc.pid)
        self.queue.leave(proc.pid)
        return vmap[v0], vmap[v1]

    def measure_ancilla(self, proc: Process | None, qubit: int) -> int | None:
        """A measurable qubit to read ``qubit`` through when none is free: one whose waiting state
        may be moved away. Raises :class:`QubitWait` if other processes hold them all; None when
        ``proc``'s own states hold them (the caller swaps through one)."""
        ancillas = tuple(self.translator.measure_ancillas())
        if proc is None or proc.kind != "user":
            return None
        q = self._evict(ancillas, proc, f"for process {proc.pid}")
        if q is not None:
            return q
        if self._others_hold(ancillas, proc.pid):
            raise self._wait(proc, ancillas, f"a measurable qubit to read qubit {qubit} through", borrow=True,
                             evict=True)
        return None

    # ---- the node's hooks -------------------------------------------------------------------------
    def on_start(self, proc: Process) -> None:
        """``proc`` starts a subroutine (its flavour decides the NV convention)."""
        if getattr(proc.current, "flavour", "vanilla") == "nv" and self.placement.has_roles:
            self._convention.add(proc.pid)

    def on_opened(self, proc: Process) -> None:
        """A persistent process was opened: it now waits for its host's first subroutine."""
        self._host_since[proc.pid] = self.node.timebase.now()

    def on_blocked(self, proc: Process, *, host: bool, known_ns: int | None = None) -> None:
        """``proc`` stopped running: for its host (``known_ns`` if the host's delay is known) or for
        an event. Its states may be moved to a longer-lived qubit (see :class:`MovePolicy`)."""
        if proc.kind != "user":
            return
        now = self.node.timebase.now()
        self._nothing_at = None  # a new waiting state: there may be work now
        self._blocked_since[proc.pid] = now
        if host:
            self._host_since[proc.pid] = now
            if known_ns is not None:
                self._host_known[proc.pid] = known_ns
        if self.policy.enabled and self.policy.protect and self.memory.qubits_of(proc.pid):
            self._protect(proc, now, known_ns if host else None)

    def on_resumed(self, proc: Process) -> None:
        """``proc`` is ready again (its wait ended)."""
        pid = proc.pid
        now = self.node.timebase.now()
        self._nothing_at = None
        since = self._host_since.pop(pid, None)
        if since is not None and now >= since:
            old = self._host_estimate.get(pid)
            self._host_estimate[pid] = float(now - since) if old is None else 0.5 * old + 0.5 * (now - since)
        self._host_known.pop(pid, None)
        self._blocked_since.pop(pid, None)
        self._protect_at.pop(pid, None)

    def on_finished(self, proc: Process) -> None:
        pid = proc.pid
        self._nothing_at = None
        self.queue.leave(pid)
        for table in (self._blocked_since, self._host_since, self._host_known,
                      self._host_estimate, self._protect_at, self._pinned):
            table.pop(pid, None)
        self._convention.discard(pid)

    # ---- protective moves -------------------------------------------------------------------------
    def _better_home(self, src: int) -> int | None:
        dst = self._destination(src, (), None)
        if dst is None or self.costs.t2(dst) <= self.costs.t2(src):
            return None
        return dst

    def _return_cost(self, proc: Process, virtual_id: int, src: int, dst: int) -> float:
        """A move back the program is known to need (the NV flavour's electron in a later gate)."""
        if proc.pid not in self._convention or virtual_id != 0 or not self._future_known(proc):
            return 0.0
        need = self._program_needs(proc).qubits.get(0)
        return self.mover.error(dst, src) if need is not None and need.partners else 0.0

    def _protect(self, proc: Process, now: int, known_ns: float | None) -> None:
        """Move ``proc``'s states that pay for it now; remember when the others will (unknown waits)."""
        waited = now - self._blocked_since.get(proc.pid, now)
        next_check = math.inf
        for vid, src in sorted(self.memory.qubits_of(proc.pid).items()):
            if self.pinned(proc.pid, vid):
                continue
            dst = self._better_home(src)
            if dst is None:
                continue
            cost = self.mover.error(src, dst) + self._return_cost(proc, vid, src, dst)
            if known_ns is not None:
                if self.policy.protective_gain(self.costs, src, dst, cost, known_ns) > self.policy.min_gain:
                    self.mover.move(proc, vid, dst, "to keep its coherence while it waits")
                continue
            t = self.policy.break_even_ns(self.costs, src, dst, cost)
            if t is None:
                continue
            if waited >= t:
                self.mover.move(proc, vid, dst, "to keep its coherence while it waits")
            else:
                next_check = min(next_check, now + (t - waited))
        if math.isfinite(next_check):
            self._protect_at[proc.pid] = int(math.ceil(next_check))
        else:
            self._protect_at.pop(proc.pid, None)

    # ---- work the node runs between processes -----------------------------------------------------
    def _network_need(self) -> bool:
        if not self.policy.enabled or self.memory.free_communication_qubit() is not None:
            return False
        comm = self.placement.communication
        if not any(self._eviction_for(q, None) is not None for q in comm):
            return False
        ask: Any = getattr(self.executor.network, "needs_communication_qubit", None)
        return bool(ask is not None and ask(self.node.timebase.now()))

    def _reclaims(self) -> list[tuple[int, Process, Process]]:
        """(deadline, holder, waiter): a silent host's process keeps a waiter from its qubits."""
        out: list[tuple[int, Process, Process]] = []
        procs = self.node._processes
        for w in self.queue.in_order():
            waiter = procs.get(w.pid)
            if waiter is None or waiter.finished:
                continue
            for q in w.pool:
                owner = self.memory.owner_of(q)
                holder = procs.get(owner.pid) if owner is not None else None
                if holder is None or holder.kind != "user" or holder is waiter or holder.priority < waiter.priority:
                    continue
                since = self._host_since.get(holder.pid)
                if since is None or holder.state not in _BLOCKED:
                    continue
                held = self.memory.qubits_of(holder.pid).values()
                limit = self.policy.hold_limit(holder.priority, [self.costs.t2(p) for p in held])
                if math.isfinite(limit):
                    out.append((since + int(math.ceil(limit)), holder, waiter))
        return out

    def next_time(self) -> int | None:
        """Device time of the next piece of memory work (None: nothing scheduled)."""
        times = list(self._protect_at.values())
        if self.queue:
            times += [t for t, _, _ in self._reclaims()]
        return min(times) if times else None

    def due(self, now: int) -> bool:
        """Whether memory work is due now (the node runs it before any process)."""
        if self._nothing_at != now:  # (not looked at this instant already and found nothing to do)
            if self._protect_at and min(self._protect_at.values()) <= now:
                return True
            if self.queue and any(t <= now for t, _, _ in self._reclaims()):
                return True
        return self._network_need()

    def run_due(self, now: int) -> bool:
        """Do the memory work due at ``now``; whether anything was done."""
        done = False
        if self._network_need():
            done = self._evict(self.placement.communication, None, "for the network") is not None or done
        for pid, t in sorted(self._protect_at.items(), key=lambda item: item[1]):
            if t > now:
                continue
            proc = self.node._processes.get(pid)
            self._protect_at.pop(pid, None)
            if proc is not None and proc.state in _BLOCKED:
                moves = self.mover.stats.moves
                self._protect(proc, now, self._remaining_ns(proc))
                done = done or self.mover.stats.moves > moves
        if self.queue:
            for t, holder, waiter in sorted(self._reclaims(), key=lambda item: (item[0], item[1].pid)):
                if t > now or holder.finished:
                    continue
                since = self._host_since.get(holder.pid, now)
                self.mover.stats.reclaimed += 1
                self.node.close_process(holder.pid, QubitsReclaimed(
                    f"process {holder.pid} ({holder.name}) held qubits "
                    f"{sorted(self.memory.qubits_of(holder.pid).values())} across a host wait of "
                    f"{(now - since) / 1e6:.3g} ms while process {waiter.pid} ({waiter.name}) waited for one; "
                    f"the hold limit at priority {holder.priority} is {(t - since) / 1e6:.3g} ms (MovePolicy)"))
                done = True
        if not done:
            self._nothing_at = now
        return done

    def stats(self) -> dict[str, Any]:
        s = self.mover.stats
        return {"moves": s.moves, "move_fidelity_cost": round(s.fidelity_cost, 6), "move_busy_ns": s.busy_ns,
                "reclaimed": s.reclaimed, "waiting_for_qubits": len(self.queue)}

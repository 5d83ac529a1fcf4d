"""Moving a waiting process's state between physical qubits, and the policy that decides when.

A move carries a state from one qubit to a free one on the device's native gates (on NV, electron
<-> carbon through the electron-carbon conditional rotation: reset the destination, CNOT there and
back; see :func:`qnodeos.qubit_costs.move_sequence`), with their duration and noise. It is traced as a
row of its own on the moved process's lane (``move virtual 0: qubit 0 -> 1 (…)``) and counted in
utilisation like any gate. The process's virtual id keeps naming the state; its pair record, if it
holds half of an entangled pair, follows it.

The :class:`MovePolicy` weighs a move's fidelity cost against what it buys; see its docstring.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from .qubit_costs import CostModel, move_sequence

if TYPE_CHECKING:
    from .executor import Executor
    from .memory import QuantumMemory
    from .process import Process
    from .trace import Trace


@dataclass(frozen=True)
class MovePolicy:
    """When the OS moves a waiting process's state, and how long a host may keep qubits from others.

    - **Evictions** (``max_cost``): a process or the network stack needs a communication qubit that a
      *waiting* process's state occupies. The state moves to a free qubit if the move costs it at most
      ``max_cost`` in fidelity, net of the coherence it gains or loses at its new place over the rest
      of its wait when that is known (a submitted program's host delay). Default 0.1: one NV move on
      the realistic preset costs about 0.06 (reset of the carbon, two electron-carbon gates) and saves
      more than it costs after ~1 ms of the 13 ms electron coherence, so evictions are allowed there;
      a device whose moves cost more than 10 % fidelity never evicts.
    - **Protective moves** (``protect``): a waiting process's state sits on a qubit that loses
      coherence faster than a free one it could move to (NV: electron 13 ms, carbon ~1 s). If the wait
      is known, the state moves at once when that saves more than the move costs (plus ``min_gain``).
      If it is not (a host or a peer may answer any time), it moves once it has waited as long as the
      break-even time — the wait after which staying has lost as much as moving costs (the rent-or-buy
      rule: it never pays much more than the better choice in hindsight).
    - **Hold limits** (``hold_limit_ns``, ``coherence_limit``): a process that holds qubits while its
      host is silent can keep a process of the same or higher priority waiting for them at most
      ``hold_limit_ns[priority]`` (index = priority, the last entry for lower priorities) or
      ``coherence_limit`` coherence times of the qubits it holds, whichever is shorter — by then its
      states have decohered (e^-5 < 1 % of the coherence is left). After that the OS ends it with an
      error naming the limit and frees its qubits.
    - ``enabled=False``: no moves at all (placement still applies). A pinned qubit is never moved
      (``Node.submit(..., pinned=True)`` / ``Node.pin``).
    """

    enabled: bool = True
    max_cost: float = 0.1
    protect: bool = False
    min_gain: float = 0.0
    hold_limit_ns: tuple[float, ...] = (math.inf, 10e9, 1e9, 1e8)
    coherence_limit: float = 5.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_cost <= 1.0 or not math.isfinite(self.max_cost):
            raise ValueError(f"MovePolicy.max_cost={self.max_cost!r} must be a fidelity cost in [0, 1]")
        if not 0.0 <= self.min_gain <= 1.0:
            raise ValueError(f"MovePolicy.min_gain={self.min_gain!r} must be in [0, 1]")
        if not self.hold_limit_ns or any(not (h > 0) for h in self.hold_limit_ns):
            raise ValueError(f"MovePolicy.hold_limit_ns={self.hold_limit_ns!r}: one positive limit per priority")
        if not self.coherence_limit > 0:
            raise ValueError(f"MovePolicy.coherence_limit={self.coherence_limit!r} must be positive")

    def hold_limit(self, priority: int, t2s: Sequence[float]) -> float:
        """How long a silent host may keep others from the qubits (coherence times ``t2s``) it holds."""
        cap = self.hold_limit_ns[min(max(priority, 0), len(self.hold_limit_ns) - 1)]
        finite = [t for t in t2s if math.isfinite(t)]
        return min(cap, self.coherence_limit * max(finite)) if finite else cap

    def eviction_cost(self, costs: CostModel, src: int, dst: int, move_error: float,
                      remaining_ns: float | None) -> float:
        """Net fidelity a waiting state loses by being moved from ``src`` to ``dst``."""
        if remaining_ns is None or remaining_ns <= 0:
            return move_error
        return move_error + costs.storage(dst, remaining_ns) - costs.storage(src, remaining_ns)

    def protective_gain(self, costs: CostModel, src: int, dst: int, move_error: float, wait_ns: float) -> float:
        """Fidelity a state gains by moving from ``src`` to ``dst`` for a wait of ``wait_ns``."""
        return costs.storage(src, wait_ns) - costs.storage(dst, wait_ns) - move_error

    def break_even_ns(self, costs: CostModel, src: int, dst: int, move_error: float) -> float | None:
        """The wait after which staying on ``src`` has lost as much as the move to ``dst`` costs
        (plus ``min_gain``); None if staying never loses that much."""
        need = move_error + self.min_gain
        t2 = costs.t2(src)
        if not math.isfinite(t2):
            return None
        horizon = 50 * t2
        if self.protective_gain(costs, src, dst, 0.0, horizon) <= need:
            return None
        lo, hi = 0.0, horizon
        for _ in range(60):
            mid = (lo + hi) / 2
            if self.protective_gain(costs, src, dst, 0.0, mid) >= need:
                hi = mid
            else:
                lo = mid
        return hi


@dataclass
class MoveStats:
    moves: int = 0
    fidelity_cost: float = 0.0  # summed depolarising probability of the moves' instructions
    busy_ns: int = 0
    reclaimed: int = 0  # processes ended by a hold limit
    by_reason: dict[str, int] = field(default_factory=dict)


class Mover:
    """Executes moves on the device for the memory manager."""

    def __init__(self, executor: "Executor", memory: "QuantumMemory", trace: "Trace", costs: CostModel) -> None:
        self.executor = executor
        self.memory = memory
        self.trace = trace
        self.costs = costs
        self.stats = MoveStats()

    def error(self, src: int, dst: int) -> float:
        return self.costs.move(src, dst, self.executor._classical.get(dst) == 0)[0]

    def move(self, proc: "Process", virtual_id: int, dst: int, reason: str) -> None:
        """Move ``proc``'s state ``virtual_id`` to the free qubit ``dst``."""
        ex = self.executor
        src = self.memory.physical(proc.pid, virtual_id)
        known = ex._classical.get(src)
        seq = move_sequence(ex.translator, src, dst, ex._classical.get(dst) == 0)
        self._run(proc, f"move virtual {virtual_id}: qubit {src} -> {dst} ({reason})", seq)
        self.memory.relocate(proc.pid, virtual_id, dst)
        ex._classical[src] = 0  # the move leaves the source in |0>
        if known is not None:
            ex._classical[dst] = known
        self.stats.by_reason[reason.split(" ")[0]] = self.stats.by_reason.get(reason.split(" ")[0], 0) + 1

    def exchange(self, proc: "Process", vid_a: int, vid_b: int, reason: str) -> None:
        """Swap the places of two states of the same process (a SWAP: three CNOTs)."""
        ex = self.executor
        qa, qb = self.memory.physical(proc.pid, vid_a), self.memory.physical(proc.pid, vid_b)
        seq = ex.translator.two_qubit("swap", qa, qb)
        self._run(proc, f"move virtual {vid_a} <-> {vid_b}: qubits {qa} <-> {qb} ({reason})", seq)
        self.memory.exchange(proc.pid, vid_a, vid_b)
        ka, kb = ex._classical.get(qa), ex._classical.get(qb)
        for q, k in ((qa, kb), (qb, ka)):
            if k is not None:
                ex._classical[q] = k

    def _run(self, proc: "Process", label: str, seq: tuple) -> None:
        ex = self.executor
        dev = ex.device
        start, busy_before = dev.now_ns, ex.busy_ns
        before = ex._last_physical
        ex._last_physical = ()
        try:
            ex.execute_physical(seq)
        finally:
            physical, ex._last_physical = ex._last_physical, before
        self.trace.record(proc.pid, max(proc.subroutine_index, 0), -1, label, start, dev.now_ns, physical)
        self.stats.moves += 1
        self.stats.fidelity_cost += self.costs.sequence(seq)[0]
        self.stats.busy_ns += ex.busy_ns - busy_before

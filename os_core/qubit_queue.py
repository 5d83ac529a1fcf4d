"""The queue of processes waiting for a qubit, and which free qubits they are owed.

Waiters are ordered by priority, then — within a priority — those that need a qubit only for the
instruction they run (reading a carbon through the electron: a *borrow*) before those that will hold
one, then by arrival. Walking that order, each waiter is owed one free qubit of its pool; nobody
behind it (and no running process of the same or lower priority) may take that qubit. A process that
frees a qubit and asks again therefore queues behind those already waiting.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Iterable

from .memory import QuantumMemory
from .process import Process


@dataclass
class Waiter:
    pid: int
    priority: int
    seq: int
    pool: tuple[int, ...]  # the physical qubits that would serve it
    borrow: bool = False  # needs one only for the instruction it runs (reading a qubit through it)
    evict: bool = False  # a waiting state's move off a qubit of the pool also serves it

    @property
    def order(self) -> tuple[int, int, int]:
        return (self.priority, 0 if self.borrow else 1, self.seq)


class QubitQueue:
    """Processes waiting for a qubit of one node, in the order they are served."""

    def __init__(self, memory: QuantumMemory) -> None:
        self.memory = memory
        self._waiters: dict[int, Waiter] = {}
        self._seq = itertools.count()

    def __bool__(self) -> bool:
        return bool(self._waiters)

    def __len__(self) -> int:
        return len(self._waiters)

    def get(self, pid: int) -> Waiter | None:
        return self._waiters.get(pid)

    def join(self, proc: Process, pool: tuple[int, ...], *, borrow: bool = False, evict: bool = False) -> Waiter:
        """``proc`` waits for a qubit of ``pool`` (keeping its place if it waited already)."""
        w = self._waiters.get(proc.pid)
        if w is None:
            w = self._waiters[proc.pid] = Waiter(proc.pid, proc.priority, next(self._seq), pool, borrow, evict)
        else:
            w.pool, w.borrow, w.evict = pool, borrow, evict
        return w

    def leave(self, pid: int) -> None:
        self._waiters.pop(pid, None)

    def in_order(self) -> list[Waiter]:
        return sorted(self._waiters.values(), key=lambda w: w.order)

    def owed(self, proc: Process | None) -> set[int]:
        """Free qubits owed to waiters ahead of ``proc`` (to all waiters for None)."""
        if not self._waiters:
            return set()
        w = self._waiters.get(proc.pid) if proc is not None else None
        mine = w.order if w is not None else ((proc.priority, 1, math.inf) if proc is not None
                                              else (math.inf, math.inf, math.inf))
        taken: set[int] = set()
        for other in self.in_order():
            if (proc is not None and other.pid == proc.pid) or other.order >= mine:
                continue
            for q in other.pool:
                if q not in taken and self.memory.is_free(q):
                    taken.add(q)
                    break
        return taken

    def available(self, pool: Iterable[int], proc: Process | None) -> list[int]:
        """The free qubits of ``pool`` that ``proc`` may take now."""
        owed = self.owed(proc)
        return [q for q in pool if self.memory.is_free(q) and q not in owed]

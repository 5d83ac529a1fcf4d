"""A node's own timed events: what its hosts and its QNPU will do, and when (simulated time).

Two kinds, because a host (CNPU) and the QNPU are different machines: *host* events (a result or a
message reaching an application) happen exactly at their time; *QNPU* events (a subroutine arriving, a
control message, a timer) happen when the QNPU gets to them — at their time, or when the device is
free if it is busy. Events are cancellable (a request that completed cancels its time-outs) and
ordered by (time, arrival), so a seeded run processes them in the same order every time.
"""
from __future__ import annotations

import heapq
import itertools
import math
from typing import Any, Callable

HOST, QNPU = 0, 1


class Event:
    __slots__ = ("time", "level", "seq", "fn", "cancelled")

    def __init__(self, time: float, level: int, seq: int, fn: Callable[[], Any]) -> None:
        self.time, self.level, self.seq, self.fn, self.cancelled = time, level, seq, fn, False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: "Event") -> bool:
        return (self.time, self.seq) < (other.time, other.seq)


class EventQueue:
    """Host and QNPU events of one node, each in time order."""

    def __init__(self) -> None:
        self._heaps: tuple[list[Event], list[Event]] = ([], [])
        self._seq = itertools.count()

    def push(self, time: float, level: int, fn: Callable[[], Any]) -> Event:
        if not math.isfinite(time):
            ev = Event(time, level, -1, fn)
            ev.cancelled = True  # never due: nothing to schedule
            return ev
        ev = Event(time, level, next(self._seq), fn)
        heapq.heappush(self._heaps[level], ev)
        return ev

    def peek(self, level: int) -> Event | None:
        heap = self._heaps[level]
        while heap and heap[0].cancelled:
            heapq.heappop(heap)
        return heap[0] if heap else None

    def next_time(self, level: int) -> float:
        ev = self.peek(level)
        return ev.time if ev is not None else math.inf

    def pop(self, level: int) -> Event:
        self.peek(level)
        return heapq.heappop(self._heaps[level])

    def __len__(self) -> int:
        return sum(1 for heap in self._heaps for ev in heap if not ev.cancelled)

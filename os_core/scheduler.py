"""The scheduler: one device, many processes.

A process runs until its subroutine ends or it must wait (for entanglement, a classical message, the
host's next subroutine); meanwhile others run — QNodeOS's multitasking. Who runs next is a pluggable
:class:`SchedulingPolicy` (default: strict priority, FIFO within a priority). Time is a
:class:`Timebase`: simulated on mock devices (idle time is a ``Wait`` on the device clock) and the wall
clock on real ones, with the same scheduler code.
"""
from __future__ import annotations

import heapq
import itertools
import time
from collections import deque
from typing import Protocol

from qnodeos.hal import QDevice, Wait

from .process import Process


class SchedulingPolicy(Protocol):
    """Chooses the next ready process."""

    def push(self, proc: Process) -> None: ...

    def pop(self) -> Process | None: ...

    def __len__(self) -> int: ...


class PriorityFifo:
    """Lower number = higher priority (QNodeOS has four levels); FIFO within one level."""

    def __init__(self) -> None:
        self._queues: dict[int, deque[Process]] = {}

    def push(self, proc: Process) -> None:
        self._queues.setdefault(proc.priority, deque()).append(proc)

    def pop(self) -> Process | None:
        for prio in sorted(self._queues):
            q = self._queues[prio]
            if q:
                return q.popleft()
        return None

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())


class Timebase(Protocol):
    def now(self) -> int: ...

    def advance_to(self, t_ns: int) -> None: ...


class DeviceTimebase:
    """Simulated time: the device clock; idling is a ``Wait`` instruction (qubits decohere meanwhile)."""

    def __init__(self, device: QDevice) -> None:
        self.device = device

    def now(self) -> int:
        return self.device.now_ns

    def advance_to(self, t_ns: int) -> None:
        """Idle until ``t_ns``: a ``Wait`` starts on the next tick, so it lasts from there to ``t_ns``
        (the clock lands on ``t_ns`` exactly, or on that tick if ``t_ns`` comes before it)."""
        now = self.device.now_ns
        if t_ns > now:
            tick = self.device.capabilities.tick_ns
            self.device.execute(Wait(max(0, t_ns - (-(-now // tick) * tick))))


class WallClockTimebase:
    """Real time for real devices: nanoseconds since the node started; idling sleeps."""

    def __init__(self) -> None:
        self._t0 = time.monotonic_ns()

    def now(self) -> int:
        return time.monotonic_ns() - self._t0

    def advance_to(self, t_ns: int) -> None:
        gap = t_ns - self.now()
        if gap > 0:
            time.sleep(gap / 1e9)


class Timers:
    """Wake-up times of sleeping processes (a heap with FIFO tie-break)."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Process]] = []
        self._seq = itertools.count()

    def add(self, t_ns: int, proc: Process) -> None:
        heapq.heappush(self._heap, (t_ns, next(self._seq), proc))

    def next_time(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: int) -> list[Process]:
        due = []
        while self._heap and self._heap[0][0] <= now:
            due.append(heapq.heappop(self._heap)[2])
        return due

    def __len__(self) -> int:
        return len(self._heap)

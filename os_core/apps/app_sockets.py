"""Application classical sockets of one node's hosts, on the network's simulated timeline.

A message sent on ``Socket(app, remote, socket_id)`` is stamped with the sending host's clock and
reaches the peer application's host the link's classical latency later (the node service delivers it
at that time). Messages between two applications on one socket arrive in order. A receiving host
takes the next message on its socket, or waits for one; its clock moves to the message's arrival.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .hosts import Reply

Key = tuple[str, str, int]  # (receiving app, sending app, socket id)


@dataclass
class _Waiter:
    reply: Reply
    keys: tuple[Key, ...]


@dataclass
class NodeSockets:
    """The socket queues of the applications on one node (thread-safe)."""

    max_queued: int = 1 << 16  # per socket: a host that never reads cannot grow memory without bound
    _queues: dict[Key, deque] = field(default_factory=dict)
    _waiters: list[_Waiter] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    dropped: int = 0

    def deliver(self, key: Key, at_ns: int, item: tuple[bool, Any, Any], answer: Any) -> None:
        """A message reached ``key``'s host at ``at_ns``: give it to a waiting receiver or queue it.
        ``answer(reply, at_ns, value)`` wakes the waiting host (the node's host runtime)."""
        with self._lock:
            for waiter in self._waiters:
                if key in waiter.keys:
                    self._waiters.remove(waiter)
                    break
            else:
                queue = self._queues.setdefault(key, deque())
                if len(queue) >= self.max_queued:
                    self.dropped += 1
                    return
                queue.append((at_ns, key, item))
                return
        answer(waiter.reply, at_ns, (key, item))

    def take(self, keys: tuple[Key, ...]) -> tuple[int, Key, tuple[bool, Any, Any]] | None:
        """The earliest queued message on any of ``keys`` (removed), or None."""
        with self._lock:
            best = None
            for key in keys:
                queue = self._queues.get(key)
                if queue and (best is None or queue[0][0] < best[0]):
                    best = queue[0]
            if best is None:
                return None
            self._queues[best[1]].popleft()
            return best

    def wait(self, keys: tuple[Key, ...], reply: Reply) -> None:
        with self._lock:
            self._waiters.append(_Waiter(reply, keys))

    def forget_waiter(self, reply: Reply) -> None:
        with self._lock:
            self._waiters = [w for w in self._waiters if w.reply is not reply]

    def waiters(self) -> list[Reply]:
        with self._lock:
            return [w.reply for w in self._waiters]

    def waiting(self) -> list[tuple[Reply, tuple[Key, ...]]]:
        with self._lock:
            return [(w.reply, w.keys) for w in self._waiters]

    def forget_app(self, app: str) -> None:
        """Drop what is queued for ``app`` (a new run of an application of that name starts)."""
        with self._lock:
            for key in [k for k in self._queues if k[0] == app]:
                del self._queues[key]

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()
            self._waiters.clear()

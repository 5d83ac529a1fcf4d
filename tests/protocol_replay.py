"""Replay transports for protocol tests (in the spirit of PyMeasure's ``expected_protocol``).

A test lists the exact exchange it expects — ``(sent, reply)`` pairs, ``reply=None`` for a write
that gets no answer — and hands the fake transport to the driver. Anything sent out of order fails at
once, naming the position; :meth:`assert_done` (called on leaving the ``with`` block) fails if an
expected message was never sent or a reply was never read.

* :class:`ReplayResourceManager` stands in for a ``pyvisa.ResourceManager`` (instruments, VISA shim);
* :class:`ReplaySerial` stands in for a pyserial port (serial shim), with byte-level pairs.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Any, Sequence


class ProtocolMismatch(AssertionError):
    """The driver sent something the expected protocol does not contain (or left it unfinished)."""


class ReplayResource:
    """A pyvisa message-based resource that follows a script."""

    def __init__(self, name: str, pairs: Sequence[tuple[str, str | None]], **options: Any) -> None:
        self.resource_name = name
        self.options = options
        self.timeout = options.get("timeout")
        self.read_termination = options.get("read_termination")
        self.write_termination = options.get("write_termination")
        self._pairs = list(pairs)
        self._next = 0
        self._replies: deque[str] = deque()
        self.sent: list[str] = []
        self.closed = False

    def write(self, message: str) -> int:
        if self._next >= len(self._pairs):
            raise ProtocolMismatch(f"unexpected write {message!r}: all {len(self._pairs)} expected messages were sent")
        expected, reply = self._pairs[self._next]
        if message != expected:
            raise ProtocolMismatch(f"message #{self._next}: sent {message!r}, expected {expected!r}")
        self._next += 1
        self.sent.append(message)
        if reply is not None:
            self._replies.append(reply)
        return len(message)

    def read(self) -> str:
        if not self._replies:
            raise ProtocolMismatch(f"read with no reply pending (after {self.sent[-1:]!r})")
        return self._replies.popleft()

    def query(self, message: str) -> str:
        self.write(message)
        return self.read()

    def close(self) -> None:
        self.closed = True

    def unfinished(self) -> list[str]:
        problems = [f"never sent: {s!r}" for s, _ in self._pairs[self._next:]]
        problems += [f"reply never read: {r!r}" for r in self._replies]
        return problems


class ReplayResourceManager:
    """Hands out one :class:`ReplayResource` per ``open_resource`` call, in order of ``scripts``."""

    def __init__(self, *scripts: Sequence[tuple[str, str | None]]) -> None:
        self._scripts = deque(scripts)
        self.resources: list[ReplayResource] = []

    def open_resource(self, name: str, **options: Any) -> ReplayResource:
        if not self._scripts:
            raise ProtocolMismatch(f"unexpected open_resource({name!r})")
        res = ReplayResource(name, self._scripts.popleft(), **options)
        self.resources.append(res)
        return res

    @property
    def sent(self) -> list[str]:
        return [m for r in self.resources for m in r.sent]

    def close(self) -> None:
        pass

    def assert_done(self) -> None:
        problems = [p for r in self.resources for p in r.unfinished()]
        problems += [f"resource never opened for script {list(s)!r}" for s in self._scripts]
        if problems:
            raise ProtocolMismatch("protocol not completed: " + "; ".join(problems))

    def __enter__(self) -> "ReplayResourceManager":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.assert_done()


class ReplaySerial:
    """A pyserial-like port: each expected ``sent`` byte string releases its ``reply`` bytes.

    ``reply=None`` means the port stays silent (the driver should time out and retry).
    """

    def __init__(self, pairs: Sequence[tuple[bytes, bytes | None]], timeout: float = 0.01) -> None:
        self._pairs = list(pairs)
        self._next = 0
        self._pending = b""
        self._rx = bytearray()
        self.timeout = timeout
        self.sent: list[bytes] = []
        self.closed = False

    @property
    def in_waiting(self) -> int:
        return len(self._rx)

    def write(self, data: bytes) -> int:
        self._pending += bytes(data)
        while self._next < len(self._pairs):
            expected, reply = self._pairs[self._next]
            if not self._pending.startswith(expected[: len(self._pending)]):
                raise ProtocolMismatch(f"message #{self._next}: sent {self._pending!r}, expected {expected!r}")
            if len(self._pending) < len(expected):
                return len(data)
            self._pending = self._pending[len(expected):]
            self.sent.append(expected)
            self._next += 1
            if reply:
                self._rx += reply
            if not self._pending:
                return len(data)
        raise ProtocolMismatch(f"unexpected bytes {self._pending!r}: all expected messages were sent")

    def read(self, size: int = 1) -> bytes:
        if not self._rx:
            time.sleep(self.timeout)  # what a real port does when nothing arrives
            return b""
        out = bytes(self._rx[:size])
        del self._rx[:size]
        return out

    def close(self) -> None:
        self.closed = True

    def assert_done(self) -> None:
        problems = [f"never sent: {s!r}" for s, _ in self._pairs[self._next:]]
        if self._rx:
            problems.append(f"reply bytes never read: {bytes(self._rx)!r}")
        if problems:
            raise ProtocolMismatch("protocol not completed: " + "; ".join(problems))

    def __enter__(self) -> "ReplaySerial":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.assert_done()

"""Replay transports for protocol tests, in the spirit of PyMeasure's ``expected_protocol``.

A test lists the exact exchange it expects — ``(sent, reply)`` pairs, ``reply=None`` for a write
that gets no answer — and hands the fake to the driver. Anything sent out of order fails at once,
naming the position; ``assert_done`` (called on leaving the ``with`` block) fails if an expected
message was never sent or a reply was never read. Three levels:

* :class:`ReplayTransport` replaces a whole :class:`~.base.Transport` under the controller shim (or
  your own driver): requests and replies as text;
* :class:`ReplayResourceManager` stands in for a ``pyvisa.ResourceManager`` (exercises
  :class:`~.visa.VisaTransport` itself);
* :class:`ReplaySerial` stands in for a pyserial port, with byte-level pairs (exercises
  :class:`~.serial.FramedSerialTransport` and its frames).

>>> from qnodeos.drivers.controller_shim import ControllerShim
>>> from qnodeos.drivers.mock_nv import MockNVDevice
>>> from qnodeos.drivers.protocol import encode_capabilities
>>> from qnodeos.hal import Init
>>> caps = encode_capabilities(MockNVDevice.from_config(seed=0).capabilities.to_dict())
>>> script = [("*IDN?", "QNODEOS,QCTRL-EMU,SN1,1.0"), ("CAPS?", caps), ("SYST:CLOCK?", "REAL"),
...           ("SEQ:RUN? t.1 INIT 0", "t.1 1|ok 0 2000 - - 0 - -")]
>>> with ReplayTransport(script, framed=True) as link:
...     ControllerShim(link, session="t").execute(Init(0)).status.value
'ok'
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Sequence, TypeVar

from .base import LinkError, Transport

_Checked = TypeVar("_Checked", bound="_ChecksOnExit")


class ProtocolMismatch(AssertionError):
    """The driver sent something the expected protocol does not contain (or left it unfinished)."""


class _Script:
    """The expected ``(sent, reply)`` pairs and how far the driver got through them."""

    def __init__(self, pairs: Sequence[tuple[str, str | None]]) -> None:
        self.pairs = list(pairs)
        self.next = 0
        self.sent: list[str] = []

    def expect(self, message: str) -> str | None:
        """The reply scripted for ``message``; :class:`ProtocolMismatch` if it is not the next one."""
        if self.next >= len(self.pairs):
            raise ProtocolMismatch(f"unexpected message {message!r}: all {len(self.pairs)} expected messages were sent")
        expected, reply = self.pairs[self.next]
        if message != expected:
            raise ProtocolMismatch(f"message #{self.next}: sent {message!r}, expected {expected!r}")
        self.next += 1
        self.sent.append(message)
        return reply

    def never_sent(self) -> list[str]:
        return [f"never sent: {s!r}" for s, _ in self.pairs[self.next:]]


def _raise_unfinished(problems: list[str]) -> None:
    if problems:
        raise ProtocolMismatch("protocol not completed: " + "; ".join(problems))


class _ChecksOnExit:
    """``with replay:`` checks on leaving the block (unless it raised) that the script was completed."""

    def assert_done(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Checked) -> _Checked:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.assert_done()


class ReplayTransport(_ChecksOnExit, Transport):
    """A whole transport that follows a script of ``(request, reply)`` text pairs; a ``None`` reply
    means the controller stays silent (the request fails as a timeout, and may be repeated)."""

    def __init__(self, pairs: Sequence[tuple[str, str | None]], *, framed: bool = False,
                 address: str = "replay://script", max_message: int = 4000) -> None:
        super().__init__(address, "on")
        self.framed = framed
        self.max_message = max_message
        self._script = _Script(pairs)
        self.sent = self._script.sent
        self._is_open = False

    @property
    def is_open(self) -> bool:
        return self._is_open

    def _open(self) -> None:
        self._is_open = True

    def request(self, message: str) -> str:
        reply = self._script.expect(message)
        if reply is None:
            raise LinkError("no reply (the script is silent here)", timed_out=True, broken=False)
        return reply

    def close(self) -> None:
        self._is_open = False

    def assert_done(self) -> None:
        _raise_unfinished(self._script.never_sent())



class ReplayResource:
    """A pyvisa message-based resource that follows a script."""

    def __init__(self, name: str, pairs: Sequence[tuple[str, str | None]], **options: Any) -> None:
        self.resource_name = name
        self.options = options
        self.timeout = options.get("timeout")
        self.read_termination = options.get("read_termination")
        self.write_termination = options.get("write_termination")
        self._script = _Script(pairs)
        self.sent = self._script.sent
        self._replies: deque[str] = deque()
        self.closed = False

    def write(self, message: str) -> int:
        reply = self._script.expect(message)
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
        return self._script.never_sent() + [f"reply never read: {r!r}" for r in self._replies]


class ReplayResourceManager(_ChecksOnExit):
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
        _raise_unfinished(problems + [f"resource never opened for script {list(s)!r}" for s in self._scripts])



class ReplaySerial(_ChecksOnExit):
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
        _raise_unfinished(problems + ([f"reply bytes never read: {bytes(self._rx)!r}"] if self._rx else []))

"""Application hosts (the CNPU side) of one node, on the network's simulated timeline.

Each application role runs its Python code in a thread; in simulated time that code takes no time at
all (or the configured host processing time), and everything it does is stamped with its host's
clock: a subroutine reaches the QNPU at the host's time plus the submission latency, a classical
message reaches the peer's host at the host's time plus the link latency, and a result or a message
moves the host's clock forward to when it arrived.

The node acts only while all of its hosts wait on it (:meth:`HostRuntime.settle`): a host thread that
is running might still submit work stamped earlier than what the node would do next. Host code is
deterministic given what it receives, so waiting for it keeps a seeded run reproducible however fast
the threads happen to run.
"""
from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass
from typing import Any


class HostState(str, enum.Enum):
    RUNNING = "running"  # executing application code
    WAITING = "waiting"  # blocked in a call on its node (a result, a message, ...)
    DONE = "done"  # its main() returned or raised


class Reply:
    """The answer to one host request: a value or an error, and when it reached the host."""

    __slots__ = ("done", "value", "error", "at_ns", "waiter", "host", "__weakref__")

    def __init__(self, host: str = "") -> None:
        self.host = host  # the host that asked
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.at_ns = 0
        self.waiter: Host | None = None  # the host blocked on this reply


@dataclass
class Host:
    """One application host: its clock and what it is doing."""

    name: str
    clock_ns: int = 0
    start_ns: int = 0  # when it began (messages sent to an earlier host of that name are not for it)
    state: HostState = HostState.RUNNING
    waiting_for: str = ""
    wakeups: int = 0  # replies that arrived while it waited (diagnostics)


class HostsNotSettled(TimeoutError):
    """An application did not hand control back to its node in time (it runs or blocks elsewhere)."""


class HostRuntime:
    """The hosts of one node; thread-safe (host threads and the node thread both call it)."""

    def __init__(self, node: str, settle_timeout_s: float = 300.0) -> None:
        self.node = node
        self.settle_timeout_s = settle_timeout_s
        self._cond = threading.Condition()
        self._hosts: dict[str, Host] = {}
        self._closed = False

    # ---- membership --------------------------------------------------------------------------
    def register(self, name: str, clock_ns: int = 0) -> Host:
        """A host that is about to run (counted as running until it first waits)."""
        with self._cond:
            host = self._hosts.get(name)
            if host is None or host.state is HostState.DONE:
                host = self._hosts[name] = Host(name, clock_ns, clock_ns)
            return host

    def get(self, name: str) -> Host:
        with self._cond:
            try:
                return self._hosts[name]
            except KeyError:
                raise KeyError(f"no application host {name!r} on node {self.node}") from None

    def finish(self, name: str) -> None:
        """The host's code has ended (returned or raised)."""
        with self._cond:
            host = self._hosts.get(name)
            if host is not None:
                host.state = HostState.DONE
                self._cond.notify_all()

    def remove(self, name: str) -> None:
        """Forget a host that has ended (a one-off caller)."""
        with self._cond:
            self._hosts.pop(name, None)
            self._cond.notify_all()

    def close(self) -> None:
        """The node is stopping: :meth:`settle` no longer waits for hosts that still run (a role that
        hangs must not hold its node's loop)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def hosts(self) -> list[Host]:
        with self._cond:
            return list(self._hosts.values())

    # ---- host side ---------------------------------------------------------------------------
    def wait(self, name: str, reply: Reply, what: str, timeout_s: float | None = None) -> Any:
        """Block the calling host until ``reply`` is answered; its clock moves to the answer's time."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            host = self._hosts[name]
            if not reply.done:
                host.state, host.waiting_for, reply.waiter = HostState.WAITING, what, host
                self._cond.notify_all()
            try:
                while not reply.done:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise TimeoutError(f"{name} on node {self.node}: no answer to {what} within "
                                           f"{timeout_s:g} s (wall clock)")
                    self._cond.wait(left)
            finally:
                reply.waiter = None
                if host.state is not HostState.DONE:  # a host declared gone while it waited stays gone
                    host.state, host.waiting_for = HostState.RUNNING, ""
                host.clock_ns = max(host.clock_ns, reply.at_ns)
        if reply.error is not None:
            raise reply.error
        return reply.value

    # ---- node side -----------------------------------------------------------------------------
    def answer(self, reply: Reply, at_ns: int, value: Any = None, error: BaseException | None = None) -> None:
        """Answer a host's request; the host resumes with its clock at ``at_ns``."""
        with self._cond:
            if reply.done:
                return
            reply.value, reply.error, reply.at_ns, reply.done = value, error, int(at_ns), True
            if reply.waiter is not None and reply.waiter.state is HostState.WAITING:
                reply.waiter.state = HostState.RUNNING  # running from now: settle() waits for it
            self._cond.notify_all()

    def settle(self, timeout_s: float | None = None) -> None:
        """Wait until no host is running application code (see the module docstring)."""
        limit = self.settle_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + limit
        with self._cond:
            while True:
                running = [h.name for h in self._hosts.values() if h.state is HostState.RUNNING]
                if not running or self._closed:
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HostsNotSettled(f"node {self.node}: application(s) {running} did not return control "
                                          f"to the node within {limit:g} s")
                self._cond.wait(min(left, 1.0))

    def waiting(self) -> list[Host]:
        with self._cond:
            return [h for h in self._hosts.values() if h.state is HostState.WAITING]

"""Application classical sockets with NetQASM SDK semantics, carried by the nodes' mailboxes.

``Socket(app_name, remote_app_name, socket_id)`` sends strings (and structured messages) to the peer
application, wherever its node runs — another thread or another OS process. Messages between two
applications on one socket id arrive in order; ``recv`` blocks until one arrives, or raises
``TimeoutError`` naming the peer (default: the host's ``recv_timeout_s``) instead of hanging forever
when the peer application is gone.
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Any, ClassVar, Optional

from netqasm.sdk.classical_communication.broadcast_channel import BroadcastChannelBySockets
from netqasm.sdk.classical_communication.message import StructuredMessage
from netqasm.sdk.classical_communication.socket import Socket

from ..network.mailbox import Mailbox


class AppMessageRouter:
    """Per node: delivers incoming application messages into per-socket queues (created on demand,
    so a message that arrives before its socket is opened waits for it)."""

    def __init__(self, mailboxes: dict[str, Mailbox], node_of_role: dict[str, str],
                 recv_timeout_s: float = 60.0) -> None:
        self.mailboxes = mailboxes  # node name -> mailbox, for the nodes whose apps run in this process
        self.node_of_role = node_of_role
        self.recv_timeout_s = recv_timeout_s
        self._queues: dict[tuple[str, str, int], queue.SimpleQueue] = {}
        self._lock = threading.Lock()
        # Per socket direction: next sequence number to send, next to deliver, and early arrivals, so
        # messages reach the application once each and in order even if the transport repeats or
        # reorders them.
        self._next_out: dict[tuple[str, str, int], int] = {}
        self._next_in: dict[tuple[str, str, int], int] = {}
        self._early: dict[tuple[str, str, int], dict[int, tuple]] = {}
        for mailbox in mailboxes.values():
            mailbox.on("app", self._deliver)

    def reset(self) -> None:
        """Forget every queued message and sequence number (a new application run starts)."""
        with self._lock:
            self._queues.clear()
            self._next_out.clear()
            self._next_in.clear()
            self._early.clear()

    def queue_for(self, app: str, remote: str, socket_id: int) -> queue.SimpleQueue:
        key = (app, remote, socket_id)
        with self._lock:
            q = self._queues.get(key)
            if q is None:
                q = self._queues[key] = queue.SimpleQueue()
            return q

    def _deliver(self, sender_node: str, msg: dict[str, Any]) -> None:
        try:
            key, n = (msg["to"], msg["from"], msg["sid"]), msg["n"]
            item = (msg["structured"], msg["header"], msg["payload"])
            if not (isinstance(n, int) and self.node_of_role.get(msg["from"]) == sender_node):
                return  # malformed, or an application that does not live on the sending node
        except (KeyError, TypeError):
            return
        with self._lock:
            expected = self._next_in.get(key, 0)
            early = self._early.setdefault(key, {})
            if n < expected or n in early:
                return  # a repeat
            early[n] = (item, time.monotonic())
            ready = self._release(key, expected, early)
        target = self.queue_for(*key)
        for entry in ready:
            target.put(entry)

    def _release(self, key: tuple[str, str, int], expected: int, early: dict[int, tuple]) -> list:
        """Take the in-order run starting at ``expected`` out of ``early`` (lock held)."""
        ready = []
        while expected in early:
            ready.append(early.pop(expected)[0])
            expected += 1
        self._next_in[key] = expected
        return ready

    def release_stale(self, key: tuple[str, str, int], grace_s: float = 1.0) -> None:
        """A message lost on the way holds back the ones after it: after ``grace_s`` skip the gap."""
        with self._lock:
            early = self._early.get(key)
            if not early or time.monotonic() - min(t for _, t in early.values()) < grace_s:
                return
            ready = self._release(key, min(early), early)
        target = self.queue_for(*key)
        for entry in ready:
            target.put(entry)

    def send(self, app: str, remote: str, socket_id: int, payload: Any, header: str | None = None,
             structured: bool = False) -> None:
        try:
            src, dst = self.node_of_role[app], self.node_of_role[remote]
        except KeyError as exc:
            raise ConnectionError(f"application {exc.args[0]!r} is not placed on any node") from None
        with self._lock:
            n = self._next_out.get((remote, app, socket_id), 0)
            self._next_out[(remote, app, socket_id)] = n + 1
        body = {"from": app, "to": remote, "sid": socket_id, "n": n, "structured": structured, "header": header,
                "payload": payload}
        if src == dst:  # both applications on one node: no network hop
            self._deliver(src, body)
        else:
            self.mailboxes[src].send(dst, "app", **body)


def socket_classes(router: AppMessageRouter) -> tuple[type[Socket], type[BroadcastChannelBySockets]]:
    """(Socket, BroadcastChannel) classes bound to ``router``, for ``netqasm.sdk.external``.

    Binding starts a new application run: messages left over from an earlier run (whose receiver
    failed before reading them) are dropped, so they cannot be read by the next run's applications."""
    router.reset()
    sock = type("Socket", (MailboxSocket,), {"router": router})
    channel = type("BroadcastChannel", (MailboxBroadcastChannel,), {"_socket_class": sock, "router": router})
    return sock, channel


class MailboxBroadcastChannel(BroadcastChannelBySockets):
    """netqasm's socket-per-peer broadcast channel, with a receive that sleeps between polls and gives up
    after the host's receive timeout instead of spinning forever."""

    router: ClassVar[AppMessageRouter]

    def recv(self, block: bool = True, timeout: Optional[float] = None) -> tuple[str, str]:
        wait = timeout if timeout is not None else self.router.recv_timeout_s
        deadline = time.monotonic() + wait
        pause = 0.0002
        while True:
            for remote, socket in self._sockets.items():
                try:
                    return remote, socket.recv(block=False)
                except RuntimeError:
                    continue
            if not block:
                raise RuntimeError("no broadcast message waiting")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no broadcast message from {sorted(self._sockets)} within {wait:g} s")
            time.sleep(pause)
            pause = min(pause * 2, 0.005)


class MailboxSocket(Socket):
    router: ClassVar[AppMessageRouter]

    def __init__(self, app_name: str, remote_app_name: str, socket_id: int = 0, timeout: Optional[float] = None,
                 use_callbacks: bool = False, log_config: Any = None) -> None:
        self.app_name, self.remote_app_name, self.socket_id = app_name, remote_app_name, socket_id
        self._timeout = timeout
        self.use_callbacks = use_callbacks
        self._inbox = self.router.queue_for(app_name, remote_app_name, socket_id)

    def _send(self, payload: Any, header: str | None, structured: bool) -> None:
        self.router.send(self.app_name, self.remote_app_name, self.socket_id, payload, header, structured)

    def _recv(self, block: bool, timeout: Optional[float]) -> tuple[bool, Any, Any]:
        wait = timeout if timeout is not None else (self._timeout or self.router.recv_timeout_s)
        key = (self.app_name, self.remote_app_name, self.socket_id)
        deadline = time.monotonic() + wait
        while True:
            try:
                return self._inbox.get(block=block, timeout=min(0.25, max(0.0, deadline - time.monotonic()))
                                       if block else None)
            except queue.Empty:
                self.router.release_stale(key)
                if block and time.monotonic() < deadline:
                    continue
            if not block:
                raise RuntimeError(f"{self.app_name}: no message from {self.remote_app_name} waiting") from None
            raise TimeoutError(f"{self.app_name}: no message from {self.remote_app_name} (socket "
                               f"{self.socket_id}) within {wait:g} s; is that application still running?") from None

    def send(self, msg: str) -> None:
        self._send(msg, None, False)

    def recv(self, block: bool = True, timeout: Optional[float] = None, maxsize: Optional[int] = None) -> str:
        structured, header, payload = self._recv(block, timeout)
        return payload if not structured else StructuredMessage(header, payload)  # type: ignore[return-value]

    def send_structured(self, msg: StructuredMessage) -> None:
        self._send(msg.payload, msg.header, True)

    def recv_structured(self, block: bool = True, timeout: Optional[float] = None,
                        maxsize: Optional[int] = None) -> StructuredMessage:
        structured, header, payload = self._recv(block, timeout)
        return StructuredMessage(header, payload) if structured else StructuredMessage("", payload)

    def send_silent(self, msg: str) -> None:
        self.send(msg)

    def recv_silent(self, block: bool = True, timeout: Optional[float] = None,
                    maxsize: Optional[int] = None) -> str:
        return self.recv(block, timeout, maxsize)

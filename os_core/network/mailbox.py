"""A node's classical endpoint to its peers: ZeroMQ for transport, msgpack for framing.

Each node binds one ROUTER socket (inbound) and opens one DEALER per peer (outbound, identity = own
node name), so messages from one peer arrive in order. A background thread receives and hands each
message to the handler registered for its ``kind``; sends are serialised by a lock because ZeroMQ
sockets are not thread-safe. Nothing here knows what the messages mean.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

import msgpack
import zmq

Handler = Callable[[str, dict[str, Any]], None]


class MailboxError(Exception):
    """A peer is unknown or the endpoint is closed."""


class Mailbox:
    """Send messages to named peers; dispatch received ones by kind."""

    def __init__(self, node: str, bind: str = "tcp://127.0.0.1:*", context: zmq.Context | None = None) -> None:
        self.node = node
        self._ctx = context or zmq.Context.instance()
        self._router = self._ctx.socket(zmq.ROUTER)
        self._router.setsockopt(zmq.LINGER, 0)
        self._router.bind(bind)
        self.address: str = self._router.getsockopt_string(zmq.LAST_ENDPOINT)
        self._peers: dict[str, zmq.Socket] = {}
        self._handlers: dict[str, Handler] = {}
        self._send_lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive_loop, name=f"mailbox-{node}", daemon=True)

    def connect(self, peer: str, address: str) -> None:
        """Open the outbound channel to ``peer`` (its mailbox address)."""
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt_string(zmq.IDENTITY, self.node)
        sock.connect(address)
        with self._send_lock:
            self._peers[peer] = sock

    def on(self, kind: str, handler: Handler) -> None:
        """Call ``handler(sender, message)`` for every received message of ``kind``."""
        self._handlers[kind] = handler

    def start(self) -> None:
        self._thread.start()

    def send(self, peer: str, kind: str, /, **body: Any) -> None:
        """Queue a message to ``peer`` (ZeroMQ delivers once the peer is up)."""
        payload = msgpack.packb({"body": body, "kind": kind}, use_bin_type=True)
        with self._send_lock:
            if self._closed.is_set():
                raise MailboxError(f"{self.node}: mailbox is closed")
            try:
                sock = self._peers[peer]
            except KeyError:
                raise MailboxError(f"{self.node}: unknown peer node {peer!r} (known: {sorted(self._peers)})") from None
            sock.send(payload)

    @property
    def peers(self) -> list[str]:
        return sorted(self._peers)

    def _receive_loop(self) -> None:
        poller = zmq.Poller()
        poller.register(self._router, zmq.POLLIN)
        while not self._closed.is_set():
            if not poller.poll(50):
                continue
            try:
                sender, payload = self._router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                continue
            except zmq.ZMQError:
                break
            try:
                envelope = msgpack.unpackb(payload, raw=False)
                kind, message = envelope["kind"], envelope["body"]
            except Exception:  # garbage on the wire: drop it, the protocol's timeouts recover
                continue
            handler = self._handlers.get(kind)
            if handler is not None:
                handler(sender.decode(), message)

    def close(self) -> None:
        self._closed.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1)
        with self._send_lock:
            for sock in self._peers.values():
                sock.close(0)
            self._peers.clear()
        self._router.close(0)

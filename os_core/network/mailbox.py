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
from zmq.auth.thread import ThreadAuthenticator

from .keys import NodeKeys

Handler = Callable[[str, dict[str, Any]], None]


class MailboxError(Exception):
    """A peer is unknown or the endpoint is closed."""


class Mailbox:
    """Send messages to named peers; dispatch received ones by kind."""

    def __init__(self, node: str, bind: str = "tcp://127.0.0.1:*", context: zmq.Context | None = None,
                 keys: NodeKeys | None = None) -> None:
        self.node = node
        self.keys = keys
        self.refused: list[str] = []  # public keys of peers refused at the handshake
        self.dropped = 0  # malformed messages dropped
        self._auth: ThreadAuthenticator | None = None
        if keys is not None:
            # CURVE needs its own context: its authenticator answers for every socket of the context.
            self._ctx = zmq.Context()
            self._auth = ThreadAuthenticator(self._ctx)
            self._auth.start()
            self._auth.configure_curve_callback(domain="*", credentials_provider=self)
        else:
            self._ctx = context or zmq.Context.instance()
        self._router = self._ctx.socket(zmq.ROUTER)
        self._router.setsockopt(zmq.LINGER, 0)
        if keys is not None:
            self._router.curve_server = True
            self._router.curve_publickey = keys.public.encode()
            self._router.curve_secretkey = keys.secret.encode()
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
        if self.keys is not None:
            try:
                server_key = self.keys.peers[peer]
            except KeyError:
                sock.close(0)
                raise MailboxError(f"{self.node}: no public key for peer {peer!r}: refusing an "
                                   "unauthenticated link") from None
            sock.curve_serverkey = server_key.encode()
            sock.curve_publickey = self.keys.public.encode()
            sock.curve_secretkey = self.keys.secret.encode()
        sock.connect(address)
        with self._send_lock:
            self._peers[peer] = sock

    def callback(self, domain: str, key: bytes) -> bool:
        """ZAP credentials check (called by the authenticator): only listed peers' keys get in."""
        import zmq.utils.z85

        text = zmq.utils.z85.encode(key).decode() if len(key) == 32 else key.decode(errors="replace")
        if self.keys is not None and text in self.keys.peers.values():
            return True
        self.refused.append(text)
        return False

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
            try:
                if not poller.poll(50):
                    continue
            except zmq.ZMQError:
                break
            try:
                frames = self._router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                continue
            except zmq.ZMQError:
                break
            try:  # anything malformed is dropped; the receive loop must outlive every peer's bytes
                sender, payload = frames
                envelope = msgpack.unpackb(payload, raw=False)
                kind, message = envelope["kind"], envelope["body"]
                handler = self._handlers.get(kind) if isinstance(kind, str) else None
                if handler is not None:
                    handler(sender.decode(), message)
            except Exception:
                self.dropped += 1

    def close(self) -> None:
        self._closed.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1)
        with self._send_lock:
            for sock in self._peers.values():
                sock.close(0)
            self._peers.clear()
        self._router.close(0)
        if self._auth is not None:
            self._auth.stop()
            self._ctx.term()

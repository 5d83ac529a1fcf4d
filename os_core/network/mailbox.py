"""A node's classical endpoint to its peers: ZeroMQ for transport, msgpack for framing.

Each node binds one ROUTER socket (inbound) and opens one DEALER per peer (outbound, identity = own
node name), so messages from one peer arrive in order. A background thread receives and hands each
message to the handler registered for its ``kind``; sends are serialised by a lock because ZeroMQ
sockets are not thread-safe. Nothing here knows what the messages mean.

Every message carries a per-link sequence number and, on a simulated network, the simulated time at
which it is delivered. The mailbox keeps a log of what it sent (drained by the node for the time
coordinator, :meth:`drain_sent`) and drops repeats of a sequence number it has already passed on.

On keyed (CURVE) links a peer is known by its key, not by what it claims: the authenticator names
each connection after the node its public key is registered under, and a message whose sender name
differs from that is dropped. Inbound messages larger than :attr:`Mailbox.MAX_MESSAGE_BYTES` are
refused by ZeroMQ before they are read into memory.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable

import msgpack
import zmq
from zmq.auth.thread import ThreadAuthenticator

from qnodeos.hal.timeline import SentMessage

from .keys import NodeKeys

Handler = Callable[[str, dict[str, Any]], None]
#: ``(sender, kind, body, deliver_ns, seq)`` for every accepted message (simulated networks)
RawHandler = Callable[[str, str, dict[str, Any], "int | None", int], None]


class MailboxError(Exception):
    """A peer is unknown or the endpoint is closed."""


class _NamedAuthenticator(ThreadAuthenticator):
    """Names each CURVE connection after the node its public key belongs to (ZAP User-Id)."""

    def __init__(self, context: zmq.Context, names: dict[str, str]) -> None:
        super().__init__(context)
        self._names = names  # Z85 public key -> node name

    def curve_user_id(self, client_public_key: bytes) -> str:
        import zmq.utils.z85

        return self._names.get(zmq.utils.z85.encode(client_public_key).decode(), "")


class Mailbox:
    """Send messages to named peers; dispatch received ones by kind."""

    #: Largest inbound message (bytes); ZeroMQ disconnects a peer that sends more.
    MAX_MESSAGE_BYTES = 16 << 20
    #: Sent-message records kept for the coordinator between two drains.
    MAX_SENT_LOG = 1 << 20
    #: Sequence numbers remembered per peer to recognise repeats.
    DEDUP_WINDOW = 4096
    #: How long a send may wait for a peer that has no working connection (a refused handshake).
    SEND_TIMEOUT_MS = 5000

    def __init__(self, node: str, bind: str = "tcp://127.0.0.1:*", context: zmq.Context | None = None,
                 keys: NodeKeys | None = None) -> None:
        self.node = node
        self.keys = keys
        self.refused: list[str] = []  # public keys of peers refused at the handshake
        self.dropped = 0  # malformed, impostor or repeated messages dropped
        self._auth: ThreadAuthenticator | None = None
        if keys is not None:
            # CURVE needs its own context: its authenticator answers for every socket of the context.
            self._ctx = zmq.Context()
            self._auth = _NamedAuthenticator(self._ctx, {key: name for name, key in keys.peers.items()})
            self._auth.start()
            self._auth.configure_curve_callback(domain="*", credentials_provider=self)
        else:
            self._ctx = context or zmq.Context.instance()
        self._router = self._ctx.socket(zmq.ROUTER)
        self._router.setsockopt(zmq.LINGER, 0)
        self._router.setsockopt(zmq.MAXMSGSIZE, self.MAX_MESSAGE_BYTES)
        if keys is not None:
            self._router.curve_server = True
            self._router.curve_publickey = keys.public.encode()
            self._router.curve_secretkey = keys.secret.encode()
        self._router.bind(bind)
        self.address: str = self._router.getsockopt_string(zmq.LAST_ENDPOINT)
        self._peers: dict[str, zmq.Socket] = {}
        self._handlers: dict[str, Handler] = {}
        self._raw: RawHandler | None = None
        self._on_sent: Callable[[], None] | None = None
        self._send_lock = threading.Lock()
        self._next_seq: dict[str, int] = {}
        self._sent: deque[SentMessage] = deque(maxlen=self.MAX_SENT_LOG)
        self._seen: dict[str, tuple[int, set[int]]] = {}  # per sender: (all below this seen, seen above)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive_loop, name=f"mailbox-{node}", daemon=True)

    def connect(self, peer: str, address: str) -> None:
        """Open the outbound channel to ``peer`` (its mailbox address)."""
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDTIMEO, self.SEND_TIMEOUT_MS)
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
        del self.refused[:-100]  # bounded: a flood of strangers must not grow memory
        return False

    def on(self, kind: str, handler: Handler) -> None:
        """Call ``handler(sender, message)`` for every received message of ``kind``."""
        self._handlers[kind] = handler

    def on_any(self, handler: RawHandler) -> None:
        """Call ``handler(sender, kind, body, deliver_ns, seq)`` for every accepted message instead of
        the per-kind handlers (a node on a simulated network delivers them at their time)."""
        self._raw = handler

    def start(self) -> None:
        self._thread.start()

    def send(self, peer: str, kind: str, /, *, deliver_ns: int | None = None, **body: Any) -> None:
        """Queue a message to ``peer`` (ZeroMQ delivers once the peer is up); ``deliver_ns``: the
        simulated time at which the peer receives it (recorded for :meth:`drain_sent`)."""
        with self._send_lock:
            if self._closed.is_set():
                raise MailboxError(f"{self.node}: mailbox is closed")
            try:
                sock = self._peers[peer]
            except KeyError:
                raise MailboxError(f"{self.node}: unknown peer node {peer!r} (known: {sorted(self._peers)})") from None
            seq = self._next_seq.get(peer, 0)
            self._next_seq[peer] = seq + 1
            envelope: dict[str, Any] = {"body": body, "kind": kind, "n": seq}
            if deliver_ns is not None:
                envelope["t"] = int(deliver_ns)
                self._sent.append(SentMessage(peer, seq, int(deliver_ns), host=kind == "app"))
            try:
                sock.send(msgpack.packb(envelope, use_bin_type=True))
            except zmq.Again:
                raise MailboxError(f"{self.node}: peer {peer!r} is not reachable (no working connection within "
                                   f"{self.SEND_TIMEOUT_MS / 1000:g} s; a refused handshake?)") from None
        if deliver_ns is not None and self._on_sent is not None:
            self._on_sent()

    def on_sent(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every stamped send (a node waiting for its turn forwards sends
        made meanwhile to its time coordinator)."""
        self._on_sent = callback

    def drain_sent(self) -> list[SentMessage]:
        """Messages sent with a delivery time since the last call (oldest first)."""
        with self._send_lock:
            out = list(self._sent)
            self._sent.clear()
            return out

    @property
    def peers(self) -> list[str]:
        return sorted(self._peers)

    def _repeat(self, sender: str, seq: int) -> bool:
        """Whether ``seq`` from ``sender`` was seen before (remembers a bounded window)."""
        low, above = self._seen.get(sender, (0, set()))
        if seq < low or seq in above:
            return True
        above.add(seq)
        while low in above:
            above.discard(low)
            low += 1
        if len(above) > self.DEDUP_WINDOW:  # a gap that never fills: give up on the oldest numbers
            low = min(above)
            while low in above:
                above.discard(low)
                low += 1
        self._seen[sender] = (low, above)
        return False

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
                frames = self._router.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                continue
            except zmq.ZMQError:
                break
            try:  # anything malformed is dropped; the receive loop must outlive every peer's bytes
                self._accept(frames)
            except Exception:
                self.dropped += 1

    def _accept(self, frames: list[Any]) -> None:
        ident, payload = frames
        sender = ident.bytes.decode()
        if self.keys is not None and payload.get("User-Id") != sender:
            self.dropped += 1  # a keyed peer claiming another node's name
            return
        envelope = msgpack.unpackb(payload.bytes, raw=False)
        kind, message, seq = envelope["kind"], envelope["body"], envelope.get("n")
        if not isinstance(kind, str) or not isinstance(message, dict):
            raise ValueError("malformed envelope")
        if isinstance(seq, int) and not isinstance(seq, bool):
            if self._repeat(sender, seq):
                self.dropped += 1
                return
        else:
            seq = -1
        deliver = envelope.get("t")
        if deliver is not None and (isinstance(deliver, bool) or not isinstance(deliver, int)):
            raise ValueError("malformed delivery time")
        handler = self._handlers.get(kind)
        if handler is not None:  # a kind with its own handler (tools, tests) bypasses the raw handler
            handler(sender, message)
        elif self._raw is not None:
            self._raw(sender, kind, message, deliver, seq)

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

"""Per-run CURVE keys for the sockets between node processes and the world process.

A mock network's world (devices, heralding stations, timeline) serves each node over ZeroMQ. Those
sockets carry qubit states and gates, so they are authenticated and encrypted like the node links: the
runner makes fresh keys for every run (never written to disk; children inherit them when forked), each
node's sockets admit only that node's key (ZAP domain = node name), and a stranger is refused at the
handshake.
"""
from __future__ import annotations

from dataclasses import dataclass

import zmq
import zmq.utils.z85
from zmq.auth.thread import ThreadAuthenticator


@dataclass(frozen=True)
class ClientKeys:
    """What a node needs to reach the world: the server's public key and its own key pair."""

    server_public: str
    public: str
    secret: str


@dataclass(frozen=True)
class ServerKeys:
    """The world's key pair and, per node, the one public key its sockets admit."""

    public: str
    secret: str
    clients: dict[str, str]


def run_keys(nodes: list[str]) -> tuple[ServerKeys, dict[str, ClientKeys]]:
    """Fresh keys for one run."""
    spub, ssec = (k.decode() for k in zmq.curve_keypair())
    clients = {n: tuple(k.decode() for k in zmq.curve_keypair()) for n in nodes}
    server = ServerKeys(spub, ssec, {n: pub for n, (pub, _) in clients.items()})
    return server, {n: ClientKeys(spub, pub, sec) for n, (pub, sec) in clients.items()}


class _PerNodeKeys:
    def __init__(self, allowed: dict[str, str]) -> None:
        self.allowed = allowed
        self.refused = 0

    def callback(self, domain: str, key: bytes) -> bool:
        text = key.decode(errors="replace") if len(key) == 40 else zmq.utils.z85.encode(key).decode()
        ok = self.allowed.get(domain) == text
        if not ok:
            self.refused += 1
        return ok


class WorldAuthenticator:
    """Starts a ZAP handler on ``context`` admitting, on a socket of domain ``node``, only ``node``'s key."""

    def __init__(self, context: zmq.Context, keys: ServerKeys) -> None:
        self.keys = keys
        self._checker = _PerNodeKeys(keys.clients)
        self._auth = ThreadAuthenticator(context)
        self._auth.start()
        for node in keys.clients:
            self._auth.configure_curve_callback(domain=node, credentials_provider=self._checker)

    @property
    def refused(self) -> int:
        return self._checker.refused

    def serve(self, sock: zmq.Socket, node: str) -> None:
        """Make ``sock`` a CURVE server for ``node``'s key only."""
        sock.zap_domain = node.encode()
        sock.curve_server = True
        sock.curve_publickey = self.keys.public.encode()
        sock.curve_secretkey = self.keys.secret.encode()

    def stop(self) -> None:
        self._auth.stop()


def secure_client(sock: zmq.Socket, keys: ClientKeys | None) -> None:
    """Make ``sock`` a CURVE client with ``keys`` (no-op for None: an unauthenticated test set-up)."""
    if keys is None:
        return
    sock.curve_serverkey = keys.server_public.encode()
    sock.curve_publickey = keys.public.encode()
    sock.curve_secretkey = keys.secret.encode()

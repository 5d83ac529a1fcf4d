"""Per-link authentication keys for node mailboxes (ZeroMQ CURVE: Curve25519 keys, encrypted and
authenticated links; the standard mechanism of the transport, not one of ours).

Each node has a key pair; each node knows the public keys of the peers it accepts. A mailbox with
keys accepts a connection only from a listed public key and only connects to a peer whose public key
it knows, so an unauthenticated or wrongly keyed peer is refused at the handshake.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import zmq


@dataclass(frozen=True)
class NodeKeys:
    """A node's own key pair and the public keys of the peers it trusts (Z85 text, 40 characters)."""

    public: str
    secret: str
    peers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for label, key in [("public", self.public), ("secret", self.secret), *self.peers.items()]:
            if not isinstance(key, str) or len(key) != 40:
                raise ValueError(f"key {label!r} is not a 40-character Z85 CURVE key")


def generate_keypair() -> tuple[str, str]:
    """(public, secret) Z85 text of a fresh CURVE key pair."""
    public, secret = zmq.curve_keypair()
    return public.decode(), secret.decode()


def network_keys(nodes: list[str]) -> dict[str, NodeKeys]:
    """Fresh keys for a fully connected network: every node trusts every other node."""
    pairs = {n: generate_keypair() for n in nodes}
    return {n: NodeKeys(pairs[n][0], pairs[n][1], {p: pairs[p][0] for p in nodes if p != n}) for n in nodes}

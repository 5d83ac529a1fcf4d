"""Per-link authentication keys for node mailboxes (ZeroMQ CURVE: Curve25519 keys, encrypted and
authenticated links; the standard mechanism of the transport, not one of ours).

Each node has a key pair; each node knows the public keys of the peers it accepts. A mailbox with
keys accepts a connection only from a listed public key and only connects to a peer whose public key
it knows, so an unauthenticated or wrongly keyed peer is refused at the handshake.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import zmq

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


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


def write_key_files(nodes: list[str], directory: str | Path) -> dict[str, Path]:
    """One TOML file per node (its key pair and its peers' public keys); secrets stay in one file each."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, keys in network_keys(nodes).items():
        lines = ["[keys]", f'public = "{keys.public}"', f'secret = "{keys.secret}"', "", "[keys.peers]"]
        lines += [f'{peer} = "{key}"' for peer, key in sorted(keys.peers.items())]
        path = directory / f"{name}.toml"
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
        paths[name] = path
    return paths


def load_node_keys(path: str | Path) -> NodeKeys:
    """Read a node's keys from TOML (``[keys]`` public/secret, ``[keys.peers]`` name = public key)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())["keys"]
        return NodeKeys(data["public"], data["secret"], dict(data.get("peers", {})))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read node keys {path}: {exc}") from None
    except KeyError as exc:
        raise ValueError(f"{path}: missing {exc.args[0]!r} in the [keys] table") from None

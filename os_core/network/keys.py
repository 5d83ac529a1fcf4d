"""Per-link authentication keys for node mailboxes (ZeroMQ CURVE: Curve25519 keys, encrypted and
authenticated links; the standard mechanism of the transport, not one of ours).

Each node has a key pair; each node knows the public keys of the peers it accepts. A mailbox with
keys accepts a connection only from a listed public key and only connects to a peer whose public key
it knows, so an unauthenticated or wrongly keyed peer is refused at the handshake.
"""
from __future__ import annotations

import os
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
    """A node's own key pair (``public``, ``secret``) and the public keys of the ``peers`` it trusts
    (peer name -> key), all CURVE keys as Z85 text of 40 characters."""

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
    """Fresh keys for a fully connected network of ``nodes``: every node trusts every other node."""
    pairs = {n: generate_keypair() for n in nodes}
    return {n: NodeKeys(pairs[n][0], pairs[n][1], {p: pairs[p][0] for p in nodes if p != n}) for n in nodes}


#: Longest node name written as a key file (file systems allow 255 bytes per name, with ".toml").
MAX_NAME_BYTES = 200


def check_node_name(name: str) -> None:
    """Refuse a node name that cannot be its own key file inside the key directory: empty, ``.``/``..``,
    path separators, control characters, or too long. Anything else (spaces, dots, quotes, non-ASCII)
    is fine: the TOML writer quotes it."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"node name {name!r} is empty")
    if name in (".", "..") or "/" in name or "\\" in name:
        raise ValueError(f"node name {name!r} would leave the key directory (no '/', '\\', '.' or '..')")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError(f"node name {name!r} contains a control character")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise ValueError(f"node name {name[:20]!r}... is longer than {MAX_NAME_BYTES} bytes")


def write_key_files(nodes: list[str], directory: str | Path, *, overwrite: bool = False) -> dict[str, Path]:
    """One ``<node>.toml`` per node of ``nodes`` in ``directory`` (its key pair and its peers' public
    keys): what ``qnodeos keys generate`` writes; returns node -> file.

    All or nothing: names are checked (:func:`check_node_name`, distinct even ignoring case) and, unless
    ``overwrite``, no file may exist yet (``FileExistsError``) before any is written. Each file is
    created owner-only (0600) from its first byte and moved into place whole.
    """
    import tomli_w

    directory = Path(directory)
    for name in nodes:
        check_node_name(name)
    folded: dict[str, str] = {}
    for name in nodes:
        other = folded.setdefault(name.casefold(), name)
        if other != name or nodes.count(name) > 1:
            raise ValueError(f"node names {other!r} and {name!r} are not distinct (key files must differ, "
                             "also on case-insensitive file systems)")
    paths = {name: directory / f"{name}.toml" for name in nodes}
    existing = [str(p) for p in paths.values() if p.exists() or p.is_symlink()]
    if existing and not overwrite:
        raise FileExistsError(f"key file(s) {', '.join(existing)} exist: not overwriting secrets")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name, keys in network_keys(nodes).items():
        text = tomli_w.dumps({"keys": {"public": keys.public, "secret": keys.secret, "peers": keys.peers}})
        _write_owner_only(paths[name], text, overwrite)
    return paths


def _write_owner_only(path: Path, text: str, overwrite: bool) -> None:
    """Create a 0600 file (``O_EXCL``: never an existing file, nor one a symlink points to) and write
    it; when overwriting, write a fresh one next to ``path`` and move it into place whole."""
    target = path.with_name(f".{path.name}.{os.getpid()}.tmp") if overwrite else path
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if overwrite:
            os.replace(target, path)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def load_node_keys(path: str | Path) -> NodeKeys:
    """Read a node's keys from the TOML file ``path`` (``[keys]`` public/secret, ``[keys.peers]`` name =
    public key), as :func:`write_key_files` writes it."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))["keys"]
        peers = data.get("peers", {}) if isinstance(data, dict) else None
        if not isinstance(peers, dict):
            raise ValueError(f"{path}: [keys] and [keys.peers] must be tables")
        return NodeKeys(data["public"], data["secret"], dict(peers))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read node keys {path}: {exc}") from None
    except KeyError as exc:
        raise ValueError(f"{path}: missing {exc.args[0]!r} in the [keys] table") from None

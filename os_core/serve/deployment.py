"""Where the parts of a served network run: the ``[serve]`` table of a network TOML.

A network TOML (:mod:`qnodeos.network.spec`) says what the nodes are; its ``[serve]`` table says where
each runs as a long-lived service, so that the world, the nodes and the hosts can be started
separately — on one machine or several — and find and trust each other::

    [serve]
    keys = "keys"                     # qnodeos keys generate alice bob world hosts --out keys
    world = "tcp://127.0.0.1:7000"    # the mock world; node i's sockets at port + 3i, +1, +2
    seed = 1                          # optional: reproducible physics
    preset = "realistic"              # optional: default of mock nodes without one

    [serve.roles]                     # optional: where applications' roles run when they are not
    sender = "alice"                  # node names (an application's own roles.yaml comes first)

    [serve.nodes.alice]
    mailbox = "tcp://127.0.0.1:7101"  # node-to-node link (CURVE, the node's key)
    hosts = "tcp://127.0.0.1:7102"    # host link: application hosts connect here (the `hosts` key)

Keys (relative paths from the TOML's folder): ``<node>.toml`` per node, ``world.toml`` for the world
and ``hosts.toml`` for application hosts (and the job service), as ``qnodeos keys generate`` writes
them when given all these names: each file lists the others' public keys. The world admits each node's
key on that node's sockets only; a node's mailbox admits only the other nodes; a node's host link
admits only the hosts' key.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlparse

from ..errors import QNodeOSError
from ..network.keys import NodeKeys, load_node_keys
from ..network.spec import NetworkSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

WORLD, HOSTS = "world", "hosts"  # key names of the world and of application hosts
SOCKETS = ("device", "sync", "control")


class DeploymentError(QNodeOSError):
    """The ``[serve]`` table (or a key file it names) is missing or wrong; names file and field."""


@dataclass(frozen=True)
class NodePlace:
    """Where a served node listens: ``name``, its ``mailbox`` (node-to-node link) and ``hosts`` (host
    link) addresses."""

    name: str
    mailbox: str
    hosts: str


@dataclass(frozen=True)
class Deployment:
    """A network specification with where each part runs and the keys they trust each other by.

    Attributes:
        path: the network TOML it was read from (:meth:`load`).
        spec: the network: nodes, links, timing.
        world: the mock world's address (``serve.world``).
        keys_dir: the folder of the key files (``serve.keys``).
        nodes: node name -> where it listens.
        seed: seeds the physics (None: unseeded).
        preset: the noise preset of mock nodes that name none.
        roles: application role -> node, for roles that are not node names (``[serve.roles]``).
    """

    path: Path
    spec: NetworkSpec
    world: str
    keys_dir: Path
    nodes: dict[str, NodePlace]
    seed: int | None = None
    preset: str = "realistic"
    #: application role -> node, for applications whose roles are not node names (``[serve.roles]``)
    roles: dict[str, str] = field(default_factory=dict)

    # ---- loading ---------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> "Deployment":
        """Read the network TOML at ``path`` with its ``[serve]`` table; a missing or wrong field is a
        :class:`DeploymentError` naming it."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise DeploymentError(f"cannot read {path}: {exc}") from None
        serve = data.get("serve")
        if not isinstance(serve, dict):
            raise DeploymentError(f"{path}: no [serve] table (where the world and the nodes run)")
        unknown = sorted(set(serve) - {"keys", "world", "seed", "preset", "nodes", "roles"})
        if unknown:
            raise DeploymentError(f"{path}: serve: unknown key(s) {unknown}")
        network = {k: v for k, v in data.items() if k != "serve"}
        preset = serve.get("preset", "realistic")
        if not isinstance(preset, str):
            raise DeploymentError(f"{path}: serve.preset must be a string")
        spec = NetworkSpec.from_dict(network, str(path), preset=preset).check(preset)
        for key in ("keys", "world"):
            if not isinstance(serve.get(key), str) or not serve[key]:
                raise DeploymentError(f"{path}: serve.{key} must be given (a {'folder' if key == 'keys' else 'tcp:// address'})")
        world = _address(path, "serve.world", serve["world"])
        seed = serve.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise DeploymentError(f"{path}: serve.seed must be a non-negative integer")
        places = serve.get("nodes")
        if not isinstance(places, dict):
            raise DeploymentError(f"{path}: no [serve.nodes.<name>] tables")
        nodes = {}
        for name in spec.nodes:
            place = places.get(name)
            if not isinstance(place, dict):
                raise DeploymentError(f"{path}: serve.nodes.{name} is missing (node {name!r} runs somewhere)")
            extra = sorted(set(place) - {"mailbox", "hosts"})
            if extra:
                raise DeploymentError(f"{path}: serve.nodes.{name}: unknown key(s) {extra}")
            nodes[name] = NodePlace(name, _address(path, f"serve.nodes.{name}.mailbox", place.get("mailbox")),
                                    _address(path, f"serve.nodes.{name}.hosts", place.get("hosts")))
        strangers = sorted(set(places) - set(spec.nodes))
        if strangers:
            raise DeploymentError(f"{path}: serve.nodes names nodes the network does not have: {strangers}")
        roles = serve.get("roles", {})
        if not isinstance(roles, dict) or not all(isinstance(v, str) for v in roles.values()):
            raise DeploymentError(f"{path}: [serve.roles] maps application roles to node names")
        misplaced = sorted(r for r, n in roles.items() if n not in spec.nodes)
        if misplaced:
            raise DeploymentError(f"{path}: serve.roles places {misplaced} on nodes the network does not have "
                                  f"(nodes: {sorted(spec.nodes)})")
        deployment = cls(path, spec, world, (path.parent / serve["keys"]).resolve(), nodes, seed, preset,
                         dict(roles))
        for name in (*spec.nodes, WORLD, HOSTS):
            deployment.keys(name)  # every key file readable, and lists what it must trust
        return deployment

    # ---- keys ------------------------------------------------------------------------------------
    def keys(self, name: str) -> NodeKeys:
        """The keys of ``name`` (a node, ``world`` or ``hosts``) from its key file, which must list the
        public key of every other party."""
        file = self.keys_dir / f"{name}.toml"
        try:
            keys = load_node_keys(file)
        except ValueError as exc:
            raise DeploymentError(f"{self.path}: serve.keys: {exc} (make them with `qnodeos keys generate "
                                  f"{' '.join([*self.spec.nodes, WORLD, HOSTS])} --out {self.keys_dir}`)") from None
        needed = {n for n in (*self.spec.nodes, WORLD, HOSTS) if n != name}
        missing = sorted(needed - set(keys.peers))
        if missing:
            raise DeploymentError(f"{file}: lists no public key for {missing}")
        return keys

    def node_link_keys(self, node: str) -> NodeKeys:
        """A node's keys for the node-to-node links: its pair, and the other nodes' public keys only."""
        keys = self.keys(node)
        return NodeKeys(keys.public, keys.secret, {n: k for n, k in keys.peers.items() if n in self.spec.nodes})

    # ---- addresses -------------------------------------------------------------------------------
    def world_endpoints(self) -> dict[str, dict[str, str]]:
        """node -> socket -> address of the world's sockets (consecutive ports from serve.world)."""
        url = urlparse(self.world)
        if url.port is None:
            raise DeploymentError(f"serve.world={self.world!r} names no port")
        port = url.port
        out = {}
        for i, node in enumerate(self.spec.nodes):
            out[node] = {role: f"tcp://{url.hostname}:{port + 3 * i + k}" for k, role in enumerate(SOCKETS)}
        return out

    @property
    def node_ids(self) -> dict[str, int]:
        """Node name -> its number, in the order of the specification (the world's port offsets)."""
        return {n: i for i, n in enumerate(self.spec.nodes)}

    def bind_address(self, address: str) -> str:
        """What to bind for ``address`` (the same; a name other than loopback binds all interfaces)."""
        url = urlparse(address)
        if url.hostname in ("127.0.0.1", "localhost", "::1"):
            return address
        return f"tcp://*:{url.port}"

    def describe(self) -> Mapping[str, Any]:
        """Where the world and each node listen, as plain data."""
        return {"world": self.world, "nodes": {n: {"mailbox": p.mailbox, "hosts": p.hosts} for n, p in self.nodes.items()}}


def is_served_network(path: str | Path) -> bool:
    """Whether ``path`` is a network TOML with a ``[serve]`` table (its nodes run as services)."""
    path = Path(path)
    if path.suffix.lower() != ".toml":
        return False
    try:
        return isinstance(tomllib.loads(path.read_text(encoding="utf-8")).get("serve"), dict)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # the network loader reports what is wrong with the file


def _address(path: Path, field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise DeploymentError(f"{path}: {field} must be a tcp://HOST:PORT address")
    url = urlparse(value)
    if url.scheme != "tcp" or not url.hostname or url.port is None:
        raise DeploymentError(f"{path}: {field} = {value!r} is not a tcp://HOST:PORT address")
    return value

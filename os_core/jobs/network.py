"""The served network a job service runs applications on: where each node's host link listens, the
node's public key, and the key pair the service's application hosts present.

A :class:`NetworkConfig` is plain data (it crosses into every job's worker process, which connects on
its own); a :class:`ServedNetwork` holds one
:class:`~qnodeos.network.host_link.RemoteNodeService` per node. The file form is TOML::

    [network]
    name = "two-node mock"            # shown on the dashboard (optional)

    [hosts]                           # the key pair of the job service's application hosts;
    public = "..."                    # every node lists this public key among its host keys
    secret = "..."                    # (or: key_file = "keys/jobs.toml", a [keys] file of `qnodeos keys`)

    [nodes.alice]
    address = "tcp://127.0.0.1:6101"  # the node's host link
    public_key = "..."                # the node's CURVE public key

    [placement]                       # optional: application name (role) -> node, as the nodes were
    sender = "alice"                  # started with; roles outside it are refused at submission

Keys are required: a node without ``public_key`` is refused unless ``[network] insecure = true`` (for
throw-away networks on loopback only).

A network TOML with a ``[serve]`` table (what ``qnodeos up`` and ``qnodeos serve`` run, see
:mod:`qnodeos.serve.deployment`) is read as it is: each node's ``hosts`` address and key, the ``hosts``
key pair, and ``[serve.roles]`` as the place of roles that are not node names. Such nodes learn where an
application's roles run from its hosts, so any role placed on one of them is accepted.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import QNodeOSError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class NetworkConfigError(QNodeOSError):
    """The served network's configuration is incomplete or malformed (the message names the field)."""


@dataclass(frozen=True)
class NodeEndpoint:
    """Where one node's host link listens, and the node's CURVE public key (Z85)."""

    address: str
    public_key: str | None = None


@dataclass(frozen=True)
class NetworkConfig:
    nodes: dict[str, NodeEndpoint]
    host_public: str | None = None
    host_secret: str | None = None
    placement: dict[str, str] = field(default_factory=dict)
    name: str = "network"
    insecure: bool = False
    #: only the roles of ``placement`` run (nodes started with a fixed role map); else ``placement`` is
    #: where roles that are not node names run, and a role placed on any node is accepted
    fixed_roles: bool = True

    def __post_init__(self) -> None:
        if not self.nodes:
            raise NetworkConfigError("the network has no nodes ([nodes.<name>] tables)")
        for node, endpoint in self.nodes.items():
            if not endpoint.address.startswith(("tcp://", "ipc://")):
                raise NetworkConfigError(f"node {node!r}: address {endpoint.address!r} is not tcp://HOST:PORT "
                                         "or ipc://PATH")
            if endpoint.public_key is None and not self.insecure:
                raise NetworkConfigError(f"node {node!r} has no public_key (set [network] insecure = true "
                                         "only for throw-away networks)")
            _check_key(endpoint.public_key, f"nodes.{node}.public_key")
        if any(e.public_key for e in self.nodes.values()):
            if not (self.host_public and self.host_secret):
                raise NetworkConfigError("the nodes have keys but [hosts] gives no public/secret key pair")
        _check_key(self.host_public, "hosts.public")
        _check_key(self.host_secret, "hosts.secret")
        for role, node in self.placement.items():
            if node not in self.nodes:
                raise NetworkConfigError(f"placement {role} = {node!r}: no node of that name "
                                         f"(nodes: {', '.join(self.nodes)})")

    def node_of(self, role: str, placed_on: str) -> str:
        """The node a role runs on: where its application places it (``roles.yaml``, else a node of
        the role's own name), or the network's placement when that is not a node of this network."""
        if placed_on not in self.nodes and not self.fixed_roles:
            return self.placement.get(role, placed_on)
        return placed_on

    # ---- forms ---------------------------------------------------------------------------------
    @classmethod
    def from_deployment(cls, path: str | Path) -> "NetworkConfig":
        """The served network of a network TOML with a ``[serve]`` table (``qnodeos up``)."""
        from ..serve.deployment import HOSTS, Deployment

        try:
            deployment = Deployment.load(path)
        except QNodeOSError as exc:
            raise NetworkConfigError(str(exc)) from None
        hosts = deployment.keys(HOSTS)
        nodes = {name: NodeEndpoint(place.hosts, deployment.keys(name).public)
                 for name, place in deployment.nodes.items()}
        where = Path(path).resolve()
        return cls(nodes, hosts.public, hosts.secret, dict(deployment.roles),
                   where.parent.name if where.stem == "network" else where.stem, fixed_roles=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: Path | None = None) -> "NetworkConfig":
        """From the TOML tables (see the module docstring); ``key_file`` paths are relative to ``base``."""
        try:
            network = dict(data.get("network", {}))
            hosts = dict(data.get("hosts", {}))
            if "key_file" in hosts:
                from ..network.keys import load_node_keys

                path = Path(hosts.pop("key_file"))
                keys = load_node_keys(path if path.is_absolute() or base is None else base / path)
                hosts.setdefault("public", keys.public)
                hosts.setdefault("secret", keys.secret)
            nodes = {str(name): NodeEndpoint(str(t["address"]), t.get("public_key"))
                     for name, t in dict(data.get("nodes", {})).items()}
            return cls(nodes, hosts.get("public"), hosts.get("secret"),
                       {str(k): str(v) for k, v in dict(data.get("placement", {})).items()},
                       str(network.get("name", "network")), bool(network.get("insecure", False)),
                       bool(data.get("fixed_roles", True)))
        except KeyError as exc:
            raise NetworkConfigError(f"network configuration: missing {exc.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise NetworkConfigError(f"network configuration: {exc}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> "NetworkConfig":
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise NetworkConfigError(f"cannot read the network configuration {path}: {exc}") from None
        if "serve" in data:
            return cls.from_deployment(path)
        return cls.from_dict(data, base=path.parent)

    def to_dict(self) -> dict[str, Any]:
        """The TOML tables (with the host secret: hand it only to processes of this service)."""
        out: dict[str, Any] = {"network": {"name": self.name, "insecure": self.insecure},
                               "nodes": {n: {"address": e.address, **({"public_key": e.public_key}
                                                                      if e.public_key else {})}
                                         for n, e in self.nodes.items()},
                               "placement": dict(self.placement), "fixed_roles": self.fixed_roles}
        if self.host_public and self.host_secret:
            out["hosts"] = {"public": self.host_public, "secret": self.host_secret}
        return out


def _check_key(key: str | None, label: str) -> None:
    if key is not None and (not isinstance(key, str) or len(key) != 40):
        raise NetworkConfigError(f"{label} is not a 40-character Z85 CURVE key")


class ServedNetwork:
    """A connection to every node of a served network (one ``RemoteNodeService`` each)."""

    def __init__(self, config: NetworkConfig, *, timeout_s: float = 600.0) -> None:
        from ..network.host_link import RemoteNodeService

        self.config = config
        keys = (config.host_public, config.host_secret) if config.host_public and config.host_secret else None
        self.services: dict[str, Any] = {}
        try:
            for name, endpoint in config.nodes.items():
                self.services[name] = RemoteNodeService(endpoint.address, server_key=endpoint.public_key,
                                                        keys=keys if endpoint.public_key else None,
                                                        timeout_s=timeout_s)
        except BaseException:
            self.close()
            raise

    @property
    def nodes(self) -> list[str]:
        return list(self.config.nodes)

    def node_state(self, node: str) -> dict[str, Any]:
        """The node's dashboard data (see ``NodeService.dashboard_state``), within this network's time-out."""
        return self.services[node].node_state()

    def close(self) -> None:
        for service in self.services.values():
            service.close()
        self.services = {}

    def __enter__(self) -> "ServedNetwork":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

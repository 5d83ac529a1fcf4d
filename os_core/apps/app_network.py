"""Which network an application directory runs on.

In order: the ``network`` the caller names (a :class:`~qnodeos.network.spec.NetworkSpec`, or the path
of a qnodeos network TOML or of a netqasm ``network.yaml``); else the directory's own ``network.yaml``,
as netqasm's simulators honour it; else every node on the mock device of ``platform``. The roles are
placed on the network's nodes by ``roles.yaml`` (default: a node per role, named after it); nodes no
role is placed on are not started. Mock devices without a qubit count get the SDK's five qubits.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import QNodeOSError
from ..network.spec import NetworkSpec
from .local_network import APP_DEVICE_SIZE, PLATFORM_FLAVOUR

#: The file netqasm reads from an application directory.
NETWORK_YAML = "network.yaml"


def app_network(app: Any, network: NetworkSpec | str | Path | None, *, platform: str, preset: str,
                device_config: dict[str, Any] | None = None) -> NetworkSpec:
    """The checked network that ``app`` (an :class:`~qnodeos.apps.runner.AppDir`) runs on (see the
    module docstring); ``platform`` also stands for netqasm's Generic hardware, ``preset`` for nodes
    that name none; ``device_config`` applies only to a network of one platform."""
    if platform not in PLATFORM_FLAVOUR:
        raise QNodeOSError(f"unknown platform {platform!r} (nv or trapped_ion)")
    own = Path(app.path) / NETWORK_YAML
    if network is None and own.is_file():
        network = own
    if network is None:
        return NetworkSpec.uniform(platform, app.nodes, {**APP_DEVICE_SIZE[platform], **(device_config or {})})
    if device_config:
        raise QNodeOSError("device_config sets every node of a one-platform network; with a network "
                           "description, give each node's settings there")
    spec = network if isinstance(network, NetworkSpec) else NetworkSpec.load(network, platform=platform, preset=preset)
    return spec.for_nodes(app.nodes).with_default_config(APP_DEVICE_SIZE).check(preset)

"""A mock quantum network inside this Python process: one node service per node, real ZeroMQ links.

Each node runs its own OS loop in a thread (as it would on its own machine); the nodes' mock devices
share one state space and a heralding station per link, so entangled pairs stay physically consistent.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from qnodeos.drivers.mock_network import build_mock_network

from ..network.keys import network_keys
from ..network.mailbox import Mailbox
from ..network.service import NodeService
from ..node import Node
from .connection import HostDirectory
from .sockets import AppMessageRouter

PLATFORM_FLAVOUR = {"nv": "nv", "trapped_ion": "vanilla"}
#: Device sizes for application networks: NetQASM's SDK assumes up to five qubits per node.
APP_DEVICE_SIZE = {"nv": {"carbons": 4}, "trapped_ion": {"ions": 5}}


class LocalNetwork:
    """Nodes ``nodes`` on ``platform`` mock hardware, all in this process."""

    def __init__(self, platform: str, nodes: list[str], *, seed: int | None = None, preset: str = "realistic",
                 request_timeout_s: float = 30.0, device_config: dict[str, Any] | None = None,
                 node_of_role: dict[str, str] | None = None, recv_timeout_s: float = 60.0,
                 secure: bool = True, mailbox_factory: Any = Mailbox,
                 keys: dict[str, Any] | None = None) -> None:
        if platform not in PLATFORM_FLAVOUR:
            raise ValueError(f"unknown platform {platform!r} (nv or trapped_ion)")
        self.platform = platform
        config = dict(APP_DEVICE_SIZE[platform])
        config.update(device_config or {})
        self.devices = build_mock_network(platform, nodes, seed=seed, preset=preset, **config)
        self.node_ids = {name: i for i, name in enumerate(nodes)}
        # Node links are authenticated (CURVE keys per node) unless ``secure=False``; tests can pass a
        # ``mailbox_factory(name, keys=...)`` to inject faults on the links.
        self.keys = keys if keys is not None else (network_keys(nodes) if secure else {})
        self.mailboxes = {name: mailbox_factory(name, keys=self.keys.get(name)) for name in nodes}
        for name, box in self.mailboxes.items():
            for peer, other in self.mailboxes.items():
                if peer != name:
                    box.connect(peer, other.address)
        seeds = np.random.SeedSequence(seed).spawn(len(nodes))
        self.services = {
            name: NodeService(Node(self.devices[name], name=name), self.mailboxes[name], self.node_ids,
                              request_timeout_s=request_timeout_s,
                              seed=int(seeds[i].generate_state(1)[0]))
            for i, name in enumerate(nodes)
        }
        roles = node_of_role or {n: n for n in nodes}
        self.directory = HostDirectory(roles, self.node_ids, self.services,
                                       {n: PLATFORM_FLAVOUR[platform] for n in nodes})
        self.router = AppMessageRouter(self.mailboxes, roles, recv_timeout_s)

    def start(self) -> "LocalNetwork":
        for service in self.services.values():
            service.start()
        return self

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()

    def __enter__(self) -> "LocalNetwork":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

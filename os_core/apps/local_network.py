"""A mock quantum network inside this Python process: one node service per node, real ZeroMQ links.

Each node runs its own OS loop in a thread (as it would on its own machine); the nodes' mock devices
share one world (state space, a heralding station per link, the timeline), so entangled pairs stay
physically consistent and every node's events fall on one causal timeline.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..network.keys import network_keys
from ..network.mailbox import Mailbox
from ..network.service import NodeService
from ..network.spec import NetworkSpec
from ..network.timing import NetworkTiming
from ..network.world import SimulatedWorld
from ..node import Node
from .connection import HostDirectory

PLATFORM_FLAVOUR = {"nv": "nv", "trapped_ion": "vanilla"}


def flavour_of(device: Any) -> str:
    """The NetQASM flavour a node's hosts compile for: NV-flavoured subroutines for NV devices,
    vanilla for the rest (read from the device, so it holds for any driver)."""
    return PLATFORM_FLAVOUR.get(str(getattr(device.capabilities.platform, "value", "")), "vanilla")
#: Device sizes for application networks: NetQASM's SDK assumes up to five qubits per node.
APP_DEVICE_SIZE = {"nv": {"carbons": 4}, "trapped_ion": {"ions": 5}}


def node_seeds(seed: int | None, nodes: list[str]) -> dict[str, int | None]:
    """Per-node seeds for the OS side (random measurement bases) from one run seed."""
    if seed is None:
        return {n: None for n in nodes}
    seqs = np.random.SeedSequence(seed).spawn(len(nodes))
    return {n: int(s.generate_state(1)[0]) for n, s in zip(nodes, seqs)}


class LocalNetwork:
    """Nodes ``nodes`` on ``platform`` mock hardware — or as ``spec`` describes them (mock or shim
    nodes, per-link physics) — all in this process."""

    def __init__(self, platform: str, nodes: list[str], *, seed: int | None = None, preset: str = "realistic",
                 request_timeout_s: float | None = None, device_config: dict[str, Any] | None = None,
                 node_of_role: dict[str, str] | None = None, secure: bool = True, mailbox_factory: Any = Mailbox,
                 keys: dict[str, Any] | None = None, timing: NetworkTiming | None = None,
                 wrap_device: Any = None, spec: NetworkSpec | None = None) -> None:
        if platform not in PLATFORM_FLAVOUR:
            raise ValueError(f"unknown platform {platform!r} (nv or trapped_ion)")
        self.platform = platform
        if spec is None:  # every node on ``platform``'s mock device
            spec = NetworkSpec.uniform(platform, nodes, {**APP_DEVICE_SIZE[platform], **(device_config or {})})
        self.spec = spec.for_nodes(nodes)
        self.timing = timing or self.spec.timing or NetworkTiming()
        self.simulated = SimulatedWorld(self.spec, seed=seed, preset=preset, timing=self.timing)
        self.world = self.simulated.mock
        self.devices = {n: self.simulated.connect(n) for n in nodes}
        if wrap_device is not None:  # tests: put a fault-injecting layer between a node and its device
            self.devices = {n: wrap_device(n, d) for n, d in self.devices.items()}
        self.node_ids = {name: i for i, name in enumerate(nodes)}
        # Node links are authenticated (CURVE keys per node) unless ``secure=False``; tests can pass a
        # ``mailbox_factory(name, keys=...)`` to inject faults on the links.
        self.keys = keys if keys is not None else (network_keys(nodes) if secure else {})
        self.mailboxes = {name: mailbox_factory(name, keys=self.keys.get(name)) for name in nodes}
        for name, box in self.mailboxes.items():
            for peer, other in self.mailboxes.items():
                if peer != name:
                    box.connect(peer, other.address)
        roles = node_of_role or {n: n for n in nodes}
        seeds = node_seeds(seed, nodes)
        self.services = {
            name: NodeService(Node(self.devices[name], name=name), self.mailboxes[name], self.node_ids,
                              coordinator=self.world.timeline, schedule=self.world.schedule, timing=self.timing,
                              node_of_app=roles, request_timeout_s=request_timeout_s, seed=seeds[name])
            for name in nodes
        }
        self.directory = HostDirectory(roles, self.node_ids, self.services,
                                       {n: flavour_of(self.devices[n]) for n in nodes})
        self._started = False
        self._stopped = False

    @property
    def shows_states(self) -> bool:
        """Whether every node's device can show its quantum state (mocks can; a controller shim
        cannot: the controller protocol carries no states), so applications may inspect states."""
        return all(hasattr(d, "density_matrix") for d in self.devices.values())

    def register_hosts(self, roles: list[str]) -> None:
        """Application roles about to run (before :meth:`start`): each node waits for its hosts."""
        for role in roles:
            self.directory.service_of_app(role).register_host(role)

    def start(self) -> "LocalNetwork":
        if not self._started:
            self._started = True
            for service in self.services.values():
                service.start()
        return self

    def stop(self) -> None:
        """Stop every node (answering whatever its hosts wait for); a second call does nothing."""
        if self._stopped:
            return
        self._stopped = True
        for service in self.services.values():
            service.stop()
        for name in self.simulated.controllers:  # shims: let go of their links before the firmware stops
            self.devices[name].close()
        self.simulated.close()

    def __enter__(self) -> "LocalNetwork":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""The long-lived processes of a served network: the mock world and each node.

``qnodeos world NET.toml`` serves the network's simulated world (every node's mock device, the
heralding stations, the schedule and the timeline) on the addresses of ``[serve] world``;
``qnodeos serve NET.toml --node NAME`` runs one node — its OS, network stack and host link — joined to
that world, its peers and its hosts. Both run until SIGINT or SIGTERM; a node that stops leaves the
network's timeline, so its peers are told, and the world takes a node whose process died silently
(no heartbeat for :data:`LIVENESS_S`) as gone.
"""
from __future__ import annotations

import signal
import threading
from typing import Any, Callable

from ..errors import QNodeOSError
from .deployment import HOSTS, WORLD, Deployment

#: A node silent this long (no heartbeat) is taken as gone by the world.
LIVENESS_S = 5.0


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    return stop


def _refuse_shims(deployment: Deployment) -> None:
    shims = [n for n, spec in deployment.spec.nodes.items() if spec.emulator is not None]
    if shims:
        raise QNodeOSError(f"{deployment.path}: node(s) {shims} are driven through controller shims; a served "
                           "network runs mock nodes only (run shim networks with `qnodeos run --network`)")


def run_world(deployment: Deployment, stop: threading.Event | None = None,
              on_ready: Callable[[], None] | None = None) -> None:
    """Serve the world of ``deployment`` until ``stop`` is set (default: SIGINT / SIGTERM)."""
    from qnodeos.drivers.device_server import DeviceServer
    from qnodeos.drivers.world_auth import ServerKeys

    from ..network.world import SimulatedWorld

    _refuse_shims(deployment)
    stop = stop or _stop_on_signals()
    spec = deployment.spec
    world = SimulatedWorld(spec, seed=deployment.seed, preset=deployment.preset, timing=spec.timing)
    keys = deployment.keys(WORLD)
    server_keys = ServerKeys(keys.public, keys.secret, {n: keys.peers[n] for n in spec.nodes})
    server = DeviceServer(world.mock, keys=server_keys, endpoints=deployment.world_endpoints(),
                          liveness_s=LIVENESS_S)
    server.schedule = {f"{a}|{b}": [s.period_ns, s.bin_ns, s.offset_ns, s.attempt_ns, s.overhead_ns]
                       for (a, b), s in world.mock.schedule.links.items()}
    server.start()
    try:
        if on_ready is not None:
            on_ready()
        stop.wait()
    finally:
        server.close()
        world.close()


class ServedNode:
    """One node of ``deployment`` running in this process (see :func:`serve_node`)."""

    def __init__(self, deployment: Deployment, node: str) -> None:
        if node not in deployment.nodes:
            raise QNodeOSError(f"{deployment.path}: no node {node!r} (nodes: {sorted(deployment.nodes)})")
        _refuse_shims(deployment)
        self.deployment, self.name = deployment, node
        self._parts: list[Callable[[], None]] = []  # how to close what is made so far, in reverse
        try:
            self._build(deployment, node)
        except BaseException:
            self.stop()
            raise

    def _build(self, deployment: Deployment, node: str) -> None:
        from qnodeos.drivers.remote_device import RemoteQDevice
        from qnodeos.drivers.remote_timeline import RemoteTimeline
        from qnodeos.drivers.world_auth import ClientKeys

        from ..apps.processes import _schedule
        from ..network.host_link import HostLinkServer
        from ..network.mailbox import Mailbox
        from ..network.service import NodeService
        from ..network.timing import NetworkTiming
        from ..node import Node

        keys = deployment.keys(node)
        client = ClientKeys(keys.peers[WORLD], keys.public, keys.secret)
        endpoints = deployment.world_endpoints()[node]
        self.timeline = RemoteTimeline(node, endpoints["sync"], endpoints["control"], keys=client)
        self._parts.append(self.timeline.close)
        schedule = self.timeline.schedule()  # also: the world is there and admits this node's key
        self._alive = self.timeline.keep_alive(node)
        self._parts.append(self._alive.set)
        self.device = RemoteQDevice(endpoints["device"], keys=client)
        self._parts.append(self.device.close)
        place = deployment.nodes[node]
        self.mailbox = Mailbox(node, bind=deployment.bind_address(place.mailbox), keys=deployment.node_link_keys(node))
        self._parts.append(self.mailbox.close)
        for peer, other in deployment.nodes.items():
            if peer != node:
                self.mailbox.connect(peer, other.mailbox)
        seed = None if deployment.seed is None else deployment.seed * 7919 + deployment.node_ids[node]
        self.service = NodeService(Node(self.device, name=node), self.mailbox, deployment.node_ids,
                                   coordinator=self.timeline, schedule=_schedule(schedule),
                                   timing=deployment.spec.timing or NetworkTiming(), seed=seed)
        self._parts.append(self.service.stop)
        self.hosts = HostLinkServer(self.service, bind=deployment.bind_address(place.hosts), keys=keys,
                                    host_keys={HOSTS: keys.peers[HOSTS]})
        self._parts.append(self.hosts.close)

    def start(self) -> "ServedNode":
        self.service.start()
        self.hosts.start()
        return self

    def stop(self) -> None:
        """Stop taking hosts, leave the network (peers are told), close the links; idempotent."""
        while self._parts:
            self._parts.pop()()


def serve_node(deployment: Deployment, node: str, stop: threading.Event | None = None,
               on_ready: Callable[[], None] | None = None) -> None:
    """Run ``node`` until ``stop`` is set (default: SIGINT / SIGTERM), then leave the network."""
    stop = stop or _stop_on_signals()
    served = ServedNode(deployment, node).start()
    try:
        if on_ready is not None:
            on_ready()
        stop.wait()
    finally:
        served.stop()


"""Mock quantum networks: one shared state space, one device per node, a heralding station per link,
and the timeline that orders every node's events (a *world*)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qnodeos.hal import QDevice
from qnodeos.hal.errors import ConfigError
from qnodeos.hal.timeline import NetworkSchedule

PLATFORMS = ("nv", "trapped_ion", "ion")
#: Default bin length and duty cycle of the network schedule (see qnodeos.network.timing).
DEFAULT_BIN_NS = 1_000_000
DEFAULT_DUTY = 0.5


@dataclass
class MockWorld:
    """Everything physical about a mock network, in one place (one process)."""

    devices: dict[str, QDevice]
    stations: dict[tuple[str, str], Any]
    schedule: NetworkSchedule
    timeline: Any  # qnodeos.drivers.timeline.Timeline

    @property
    def nodes(self) -> list[str]:
        return list(self.devices)


def build_mock_world(platform: str | dict[str, str], nodes: list[str], seed: int | None = None,
                     preset: str = "realistic", links: list[tuple[str, str]] | None = None, *,
                     schedule: NetworkSchedule | None = None, bin_ns: int = DEFAULT_BIN_NS,
                     duty: float = DEFAULT_DUTY, sync_timeout_s: float | None = None, **overrides: Any) -> MockWorld:
    """Mock devices for ``nodes`` (``platform`` for all, or per node) sharing one state space, a
    heralding station per link (default: every pair of nodes), the network schedule (default: fair
    bins of ``bin_ns`` at ``duty``) and the timeline that resolves attempts and orders events."""
    from .heralding import HeraldingStation
    from .mock_ion import MockIonDevice
    from .mock_nv import MockNVDevice
    from .state_space import SharedStateSpace
    from .timeline import Timeline

    classes = {"nv": MockNVDevice, "trapped_ion": MockIonDevice, "ion": MockIonDevice}
    per_node = platform if isinstance(platform, dict) else {n: platform for n in nodes}
    for node in nodes:
        if per_node.get(node) not in classes:
            raise ConfigError(f"mock network: node {node!r} has platform {per_node.get(node)!r} "
                              f"(choose one of {PLATFORMS})")
    space = SharedStateSpace(seed)
    devices = {n: classes[per_node[n]].from_config(node=n, seed=seed, preset=preset, state_space=space, **overrides)
               for n in nodes}
    if links is None:
        links = [(a, b) for i, a in enumerate(nodes) for b in nodes[i + 1:]]
    keyed = [(a, b) if a < b else (b, a) for a, b in links]
    if schedule is None:
        params = {k: devices[k[0]].link_params() for k in keyed}
        attempt = {k: p.attempt_duration_ns for k, p in params.items()}
        overhead = {k: int(round(getattr(p, "batch_overhead_ns", 0))) for k, p in params.items()}
        # a bin holds at least one batch of attempts with its overheads
        batch = max((overhead[k] + attempt[k] * getattr(params[k], "attempts_per_batch", 1) for k in keyed), default=1)
        schedule = NetworkSchedule.fair(keyed, bin_ns=max(bin_ns, batch), duty=duty, attempt_ns=attempt,
                                        overhead_ns=overhead)
    stations = {}
    for k, (a, b) in enumerate(keyed):
        stations[(a, b)] = HeraldingStation(devices[a], devices[b], seed=None if seed is None else seed * 1000 + k,
                                            sync_timeout_s=sync_timeout_s, schedule=schedule.of(a, b))
    timeline = Timeline(list(nodes), stations)
    return MockWorld(devices, stations, schedule, timeline)


def build_mock_network(platform: str, nodes: list[str], seed: int | None = None, preset: str = "realistic",
                       links: list[tuple[str, str]] | None = None, sync_timeout_s: float | None = None,
                       **overrides: Any) -> dict[str, QDevice]:
    """Mock devices for ``nodes`` sharing one state space, with a heralding station per link (default:
    every pair of nodes) in stand-alone mode: attempts rendezvous on the wall clock, as the HAL's
    two-device tests drive them. Networks run by the OS use :func:`build_mock_world`."""
    from .heralding import HeraldingStation
    from .mock_ion import MockIonDevice
    from .mock_nv import MockNVDevice
    from .state_space import SharedStateSpace

    cls = {"nv": MockNVDevice, "trapped_ion": MockIonDevice, "ion": MockIonDevice}[platform]
    space = SharedStateSpace(seed)
    devices = {n: cls.from_config(node=n, seed=seed, preset=preset, state_space=space, **overrides) for n in nodes}
    if links is None:
        links = [(a, b) for i, a in enumerate(nodes) for b in nodes[i + 1:]]
    for k, (a, b) in enumerate(links):
        HeraldingStation(devices[a], devices[b], seed=None if seed is None else seed * 1000 + k,
                         sync_timeout_s=sync_timeout_s)
    return devices

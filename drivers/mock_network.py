"""Mock quantum networks: one shared state space, one device per node, a heralding station per link,
and the timeline that orders every node's events (a *world*)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from qnodeos.hal.errors import ConfigError
from qnodeos.hal.timeline import NetworkSchedule

from .world_links import link_params

if TYPE_CHECKING:
    from .mock_device import MockDevice

PLATFORMS = ("nv", "trapped_ion", "ion")
#: Mock drivers by name, and the platform each simulates.
DRIVER_PLATFORM = {"mock-nv": "nv", "mock-trapped-ion": "trapped_ion"}
#: Default bin length and duty cycle of the network schedule (see qnodeos.network.timing).
DEFAULT_BIN_NS = 1_000_000
DEFAULT_DUTY = 0.5
_KINDS = ("nv", "trapped_ion", "ion")


@dataclass
class MockWorld:
    """Everything physical about a mock network, in one place (one process)."""

    devices: dict[str, MockDevice]
    stations: dict[tuple[str, str], Any]
    schedule: NetworkSchedule
    timeline: Any  # qnodeos.drivers.timeline.Timeline

    @property
    def nodes(self) -> list[str]:
        return list(self.devices)


def build_mock_world(platform: str | Mapping[str, str], nodes: list[str], seed: int | None = None,
                     preset: str = "realistic", links: list[tuple[str, str]] | None = None, *,
                     schedule: NetworkSchedule | None = None, bin_ns: int = DEFAULT_BIN_NS,
                     duty: float = DEFAULT_DUTY, sync_timeout_s: float | None = None,
                     node_config: Mapping[str, Mapping[str, Any]] | None = None,
                     link_config: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
                     **overrides: Any) -> MockWorld:
    """Mock devices for ``nodes`` (``platform`` for all, or per node; a platform or a mock driver
    name) sharing one state space, a heralding station per link (default: every pair of nodes), the
    network schedule (default: fair bins of ``bin_ns`` at ``duty``) and the timeline that resolves
    attempts and orders events.

    Device settings: ``preset`` and ``overrides`` for every node, then ``node_config[node]`` (which
    may name its own ``preset``). Link physics: each link's first node's own link, or for the link
    ``(a, b)`` the overrides ``link_config[(a, b)]`` of :class:`~qnodeos.drivers.link_physics.LinkParams`
    fields, ``a``'s side first (see :mod:`qnodeos.drivers.world_links`; a heterogeneous NV-ion link
    must give its own heralding parameters)."""
    from .heralding import HeraldingStation
    from .mock_ion import MockIonDevice
    from .mock_nv import MockNVDevice
    from .state_space import SharedStateSpace
    from .timeline import Timeline

    classes = {"nv": MockNVDevice, "trapped_ion": MockIonDevice, "ion": MockIonDevice}
    per_node = platform if isinstance(platform, Mapping) else {n: platform for n in nodes}
    kinds = {}
    for node in nodes:
        kind = DRIVER_PLATFORM.get(per_node.get(node), per_node.get(node))  # type: ignore[arg-type]
        if kind not in _KINDS:
            raise ConfigError(f"mock network: node {node!r} has platform {per_node.get(node)!r} "
                              f"(choose one of {PLATFORMS + tuple(DRIVER_PLATFORM)})")
        kinds[node] = kind
    space = SharedStateSpace(seed)
    devices = {}
    for n in nodes:
        reserved = sorted({"node", "seed", "state_space"} & set((node_config or {}).get(n, {})))
        if reserved:
            raise ConfigError(f"mock network: node {n!r}: {reserved} are set by the network, not per node")
        settings = {"preset": preset, **overrides, **dict((node_config or {}).get(n, {}))}
        devices[n] = classes[kinds[n]].from_config(node=n, seed=seed, state_space=space, **settings)
    if links is None:
        links = [(a, b) for i, a in enumerate(nodes) for b in nodes[i + 1:]]
    keyed = [(a, b) if a < b else (b, a) for a, b in links]
    params = {}
    configured = dict(link_config or {})
    stray = [k for k in configured if k not in links and k[::-1] not in links]
    if stray:
        raise ConfigError(f"mock network: physics given for link(s) {stray} that are not links of the network")
    for (a, b), key in zip(links, keyed):
        # whose side is first: as configured; an unconfigured link as its station (names in order)
        ends = (a, b) if (a, b) in configured else (b, a) if (b, a) in configured else key
        p = link_params(ends, (kinds[ends[0]], kinds[ends[1]]), configured.get(ends, {}),
                        base=devices[ends[0]].link_params())
        params[key] = p if ends[0] == key[0] else p.swapped()  # stations hold their ends in name order
    if schedule is None:
        attempt = {k: p.attempt_duration_ns for k, p in params.items()}
        overhead = {k: int(round(p.batch_overhead_ns)) for k, p in params.items()}
        # a bin holds at least one batch of attempts with its overheads
        batch = max((overhead[k] + attempt[k] * params[k].attempts_per_batch for k in keyed), default=1)
        schedule = NetworkSchedule.fair(keyed, bin_ns=max(bin_ns, batch), duty=duty, attempt_ns=attempt,
                                        overhead_ns=overhead)
    stations = {}
    for k, (a, b) in enumerate(keyed):
        stations[(a, b)] = HeraldingStation(devices[a], devices[b], params[(a, b)],
                                            seed=None if seed is None else seed * 1000 + k,
                                            sync_timeout_s=sync_timeout_s, schedule=schedule.of(a, b))
    timeline = Timeline(list(nodes), stations)
    return MockWorld(devices, stations, schedule, timeline)


def build_mock_network(platform: str, nodes: list[str], seed: int | None = None, preset: str = "realistic",
                       links: list[tuple[str, str]] | None = None, sync_timeout_s: float | None = None,
                       **overrides: Any) -> dict[str, MockDevice]:
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

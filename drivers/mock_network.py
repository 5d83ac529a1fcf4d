"""Mock quantum networks: one shared state space, one device per node, a heralding station per link."""
from __future__ import annotations

from typing import Any

from qnodeos.hal import QDevice


def build_mock_network(platform: str, nodes: list[str], seed: int | None = None, preset: str = "realistic",
                       links: list[tuple[str, str]] | None = None, sync_timeout_s: float | None = None,
                       **overrides: Any) -> dict[str, QDevice]:
    """Mock devices for ``nodes`` sharing one state space, with a heralding station per link
    (default: every pair of nodes)."""
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

"""The pytest plugin of qnodeos (registered through the ``pytest11`` entry point): fixtures for mock
hardware in a lab's own tests.

* ``qnodeos_node(platform="nv", preset="ideal", seed=1, **config)``: a :class:`qnodeos.Node` on a mock
  device, closed after the test;
* ``qnodeos_network(platform="nv", nodes=("alice", "bob"), preset="ideal", seed=1, timing=None)``: a
  started in-process mock network (:class:`qnodeos.apps.local_network.LocalNetwork`), stopped after;
* ``qnodeos_run_app``: :func:`qnodeos.testing.run_app` (run an application directory N times);
* ``qnodeos_assert``: the statistical assertions (``.proportion``, ``.mean``).

Tests choose platform, preset, seed and mode through the factories' arguments, or parametrize them.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable, Iterator

import pytest

from .runs import run_app
from .stats import assert_mean, assert_proportion

_DRIVERS = {"nv": "mock-nv", "trapped_ion": "mock-trapped-ion", "ion": "mock-trapped-ion"}


@pytest.fixture
def qnodeos_node() -> Iterator[Callable[..., Any]]:
    from qnodeos import Node

    made: list[Any] = []

    def make(platform: str = "nv", preset: str = "ideal", seed: int | None = 1, **config: Any) -> Any:
        try:
            driver = _DRIVERS[platform]
        except KeyError:
            raise ValueError(f"platform {platform!r}: choose one of {sorted(_DRIVERS)}") from None
        node = Node(driver, seed=seed, config={"preset": preset, **config})
        made.append(node)
        return node

    yield make
    for node in made:
        node.close()


@pytest.fixture
def qnodeos_network() -> Iterator[Callable[..., Any]]:
    from qnodeos.apps.local_network import LocalNetwork

    made: list[Any] = []

    def make(platform: str = "nv", nodes: tuple[str, ...] = ("alice", "bob"), preset: str = "ideal",
             seed: int | None = 1, **kwargs: Any) -> Any:
        network = LocalNetwork(platform, list(nodes), seed=seed, preset=preset, **kwargs).start()
        made.append(network)
        return network

    yield make
    for network in made:
        network.stop()


@pytest.fixture
def qnodeos_run_app() -> Callable[..., Any]:
    return run_app


@pytest.fixture
def qnodeos_assert() -> SimpleNamespace:
    return SimpleNamespace(proportion=assert_proportion, mean=assert_mean)

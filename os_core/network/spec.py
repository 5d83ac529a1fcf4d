"""A network specification: which driver runs each node, the physics of each link, the network's timing.

One data model for every way of describing a network — a qnodeos network TOML file, netqasm's
``network.yaml`` (translated by :mod:`qnodeos.network.netqasm_yaml`), or Python — so that the runner
builds one simulated world from it, whatever the nodes' drivers:

* a **mock node** names a mock driver (``mock-nv``, ``mock-trapped-ion``) and its settings (``preset``,
  device parameters);
* a **shim node** names a controller shim (``visa-controller``, ``serial-controller``) and its options;
  its ``emulator`` is the mock device behind the emulated controller firmware that the world serves
  to it (the node reaches its device through the shim, over real pyvisa / pyserial I/O);
* a **link** names two nodes and overrides any :class:`~qnodeos.drivers.link_physics.LinkParams`
  field, a ``delivered`` pair included; a heterogeneous NV-ion link must bring its own heralding
  parameters (:mod:`qnodeos.drivers.world_links`). Without links every pair of nodes is linked.

The TOML format (every key checked; an error is one line naming the file and the field)::

    [timing]                 # optional: qnodeos.network.timing.NetworkTiming.from_dict keys
    link_length_km = 0.002

    [nodes.alice]
    driver = "mock-nv"
    config = { preset = "ideal", carbons = 2 }

    [nodes.bob]
    driver = "serial-controller"
    config = { timeout = 5.0 }          # the shim's options (its address comes from the world)
    emulator = { driver = "mock-trapped-ion", config = { preset = "ideal" } }

    [[links]]                # optional; a link's physics, the first node's side first
    nodes = ["alice", "bob"]
    scheme = "double-click"
    detection_efficiency = 0.01
    dark_count_probability = 0.0
    visibility = 0.9
    attempt_duration_ns = 10000
    delivered = { kind = "werner", fidelity = 0.9 }   # optional
"""
from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from qnodeos.drivers.mock_network import DRIVER_PLATFORM
from qnodeos.hal.errors import ConfigError

from ..errors import QNodeOSError
from .timing import NetworkTiming

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Controller shims whose firmware the world can emulate, and the option that tells each where it is.
EMULATED_DRIVERS = {"visa-controller": "resource", "serial-controller": "url"}
#: Settings of a mock device that the network, not the node's file, decides.
_RESERVED = ("node", "seed", "state_space")


class NetworkSpecError(QNodeOSError):
    """A network description that cannot be run; the message names the file and the field."""


@dataclass(frozen=True)
class DeviceSpec:
    """A driver by name and its configuration (mock drivers: ``preset`` and device parameters)."""

    driver: str
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeSpec:
    """One node: the driver it loads, that driver's configuration, and — for a controller shim — the
    mock device its emulated controller drives (``emulator``)."""

    name: str
    driver: str
    config: Mapping[str, Any] = field(default_factory=dict)
    emulator: DeviceSpec | None = None

    @property
    def simulated(self) -> DeviceSpec:
        """The mock device that stands for this node in the simulated world."""
        return self.emulator if self.emulator is not None else DeviceSpec(self.driver, self.config)

    @property
    def platform(self) -> str:
        """``nv`` or ``trapped_ion``: the platform of the node's (simulated) device."""
        return DRIVER_PLATFORM.get(self.simulated.driver, "unknown")


@dataclass(frozen=True)
class LinkSpec:
    """A heralded link between two nodes; ``physics`` overrides LinkParams fields (first node's side first)."""

    nodes: tuple[str, str]
    physics: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NetworkSpec:
    """Nodes (in order), links (None: every pair, with its platform's physics), timing and the source
    it was read from (named in errors)."""

    nodes: Mapping[str, NodeSpec]
    links: tuple[LinkSpec, ...] | None = None
    timing: NetworkTiming | None = None
    source: str = "network"

    # ------------------------------------------------------------------------------- building
    @classmethod
    def uniform(cls, platform: str, nodes: Iterable[str], config: Mapping[str, Any] | None = None) -> "NetworkSpec":
        """Every node on the mock device of ``platform`` (``nv`` / ``trapped_ion``) with ``config``."""
        driver = {"nv": "mock-nv", "trapped_ion": "mock-trapped-ion"}.get(platform)
        if driver is None:
            raise NetworkSpecError(f"unknown platform {platform!r} (nv or trapped_ion)")
        return cls({n: NodeSpec(n, driver, dict(config or {})) for n in nodes}, source=f"a mock {platform} network")

    @classmethod
    def load(cls, path: str | Path, *, platform: str = "nv", preset: str = "realistic") -> "NetworkSpec":
        """A qnodeos network TOML file, or netqasm's ``network.yaml`` (``.yaml``/``.yml``: its Generic
        nodes take ``platform``), checked (``preset``: of nodes that name none; see :meth:`check`)."""
        path = Path(path)
        if path.suffix in (".yaml", ".yml"):
            from .netqasm_yaml import load_netqasm_network

            return load_netqasm_network(path, platform=platform).check(preset)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NetworkSpecError(f"network file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise NetworkSpecError(f"cannot read network file {path}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise NetworkSpecError(f"{path}: not valid TOML: {exc}") from None
        return cls.from_dict(data, source=str(path), preset=preset)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "network", preset: str = "realistic") -> "NetworkSpec":
        """From the TOML format's tables (see the module docstring); checked (:meth:`check`), errors
        name ``source``."""
        where = _Where(source)
        where.table(data, "", {"nodes", "links", "timing", "description"})
        nodes_data = data.get("nodes")
        if not isinstance(nodes_data, Mapping) or not nodes_data:
            raise where.error("nodes", "a network needs a [nodes.<name>] table per node")
        nodes = {}
        for name, node in nodes_data.items():
            at = f"nodes.{name}"
            where.table(node, at, {"driver", "config", "emulator"})
            driver = where.string(node, at, "driver")
            config = where.subtable(node, at, "config")
            emulator = None
            if "emulator" in node:
                where.table(node["emulator"], f"{at}.emulator", {"driver", "config"})
                emulator = DeviceSpec(where.string(node["emulator"], f"{at}.emulator", "driver"),
                                      where.subtable(node["emulator"], f"{at}.emulator", "config"))
            nodes[name] = NodeSpec(name, driver, config, emulator)
        links = None
        if "links" in data:
            if not isinstance(data["links"], list):
                raise where.error("links", "expected [[links]] tables")
            found: list[LinkSpec] = []
            for i, link in enumerate(data["links"]):
                at = f"links[{i}]"
                if not isinstance(link, Mapping):
                    raise where.error(at, "expected a table")
                ends = link.get("nodes")
                if not (isinstance(ends, list) and len(ends) == 2 and all(isinstance(n, str) for n in ends)):
                    raise where.error(f"{at}.nodes", f"expected two node names, got {ends!r}")
                found.append(LinkSpec((ends[0], ends[1]), {k: v for k, v in link.items() if k != "nodes"}))
            links = tuple(found)
        timing = None
        if "timing" in data:
            if not isinstance(data["timing"], Mapping):
                raise where.error("timing", "expected a table")
            try:
                timing = NetworkTiming.from_dict(data["timing"])
            except (ConfigError, TypeError) as exc:
                raise where.error("timing", str(exc)) from None
        return cls(nodes, links, timing, source).check(preset)

    # ---------------------------------------------------------------------------------- views
    def link_list(self) -> tuple[LinkSpec, ...]:
        """The links, every pair of nodes when none are given."""
        if self.links is not None:
            return self.links
        names = list(self.nodes)
        return tuple(LinkSpec((a, b)) for i, a in enumerate(names) for b in names[i + 1:])

    def for_nodes(self, names: Iterable[str]) -> "NetworkSpec":
        """The part of the network on ``names`` (in that order): links between them only."""
        names = list(names)
        missing = [n for n in names if n not in self.nodes]
        if missing:
            raise NetworkSpecError(f"{self.source}: no node(s) {missing} for the application's roles "
                                   f"(the network has {list(self.nodes)}; roles.yaml places roles on nodes)")
        links = None if self.links is None else tuple(
            link for link in self.links if link.nodes[0] in names and link.nodes[1] in names)
        return dataclasses.replace(self, nodes={n: self.nodes[n] for n in names}, links=links)

    def with_default_config(self, defaults: Mapping[str, Mapping[str, Any]]) -> "NetworkSpec":
        """Every simulated device's configuration over ``defaults[platform]`` (e.g. qubit counts)."""
        def under(device: DeviceSpec, platform: str) -> DeviceSpec:
            return DeviceSpec(device.driver, {**defaults.get(platform, {}), **device.config})

        nodes = {}
        for name, node in self.nodes.items():
            if node.emulator is not None:
                nodes[name] = dataclasses.replace(node, emulator=under(node.emulator, node.platform))
            else:
                nodes[name] = dataclasses.replace(node, config=under(node.simulated, node.platform).config)
        return dataclasses.replace(self, nodes=nodes)

    def world_arguments(self) -> dict[str, Any]:
        """Keyword arguments of :func:`qnodeos.drivers.mock_network.build_mock_world` for this network."""
        return {"nodes": list(self.nodes), "platform": {n: node.simulated.driver for n, node in self.nodes.items()},
                "node_config": {n: dict(node.simulated.config) for n, node in self.nodes.items()},
                "links": [link.nodes for link in self.link_list()],
                "link_config": {link.nodes: dict(link.physics) for link in self.link_list() if link.physics}}

    # ------------------------------------------------------------------------------ checking
    def check(self, preset: str = "realistic") -> "NetworkSpec":
        """Refuse, one line naming the source and the field, what cannot run: unknown drivers, device
        settings out of range, nodes the world cannot simulate, links to unknown nodes, twice or
        heterogeneous without heralding parameters. ``preset``: of nodes that name none. Returns self."""
        where = _Where(self.source)
        base = {}
        for name, node in self.nodes.items():
            base[name] = self._check_node(where, node, preset)
        seen: set[frozenset[str]] = set()
        from qnodeos.drivers.world_links import link_params

        for i, link in enumerate(self.link_list()):
            at = f"links[{i}]" if self.links is not None else f"link {link.nodes[0]}-{link.nodes[1]}"
            a, b = link.nodes
            for end in (a, b):
                if end not in self.nodes:
                    raise where.error(f"{at}.nodes", f"no node {end!r} (nodes: {list(self.nodes)})")
            if a == b:
                raise where.error(f"{at}.nodes", f"a link joins two different nodes, not {a!r} with itself")
            if frozenset((a, b)) in seen:
                raise where.error(f"{at}.nodes", f"the link {a}-{b} is given twice")
            seen.add(frozenset((a, b)))
            try:
                link_params((a, b), (self.nodes[a].platform, self.nodes[b].platform), link.physics, base=base[a])
            except ConfigError as exc:
                raise where.error(at, str(exc)) from None
        return self

    def _check_node(self, where: "_Where", node: NodeSpec, preset: str) -> Any:
        at = f"nodes.{node.name}"
        if node.emulator is not None:
            if node.driver not in EMULATED_DRIVERS:
                raise where.error(f"{at}.emulator", f"qnodeos emulates the controllers of {sorted(EMULATED_DRIVERS)}, "
                                                    f"not of driver {node.driver!r}")
            address = EMULATED_DRIVERS[node.driver]
            if address in node.config:
                raise where.error(f"{at}.config.{address}", "set by the world, which serves the emulated controller")
            _check_driver_options(where, f"{at}.config", node.driver, {**node.config, address: "-"}, node.name)
            device, device_at = node.emulator, f"{at}.emulator"
        else:
            if node.driver not in DRIVER_PLATFORM:
                if node.driver in EMULATED_DRIVERS:
                    why = (f"driver {node.driver!r} needs an emulator table (the mock device behind its "
                           "emulated controller): networks of real controllers cannot be run yet")
                else:
                    why = (f"driver {node.driver!r} cannot take part in a simulated network (choose "
                           f"{', '.join(DRIVER_PLATFORM)}, or a shim of {', '.join(EMULATED_DRIVERS)} with an emulator)")
                raise where.error(f"{at}.driver", why)
            device, device_at = node.simulated, at
        if device.driver not in DRIVER_PLATFORM:
            raise where.error(f"{device_at}.driver", f"{device.driver!r} is not a mock driver "
                                                     f"(choose {', '.join(DRIVER_PLATFORM)})")
        reserved = sorted(set(_RESERVED) & set(device.config))
        if reserved:
            raise where.error(f"{device_at}.config", f"{reserved} are set by the run, not per node")
        from qnodeos.drivers.config import IonConfig, NVConfig

        cls = NVConfig if DRIVER_PLATFORM[device.driver] == "nv" else IonConfig
        settings = dict(device.config)
        settings.setdefault("preset", preset)
        try:
            config = cls.load(**settings)
        except (ConfigError, TypeError) as exc:
            raise where.error(f"{device_at}.config", str(exc)) from None
        from qnodeos.drivers.mock_ion import MockIonDevice
        from qnodeos.drivers.mock_nv import MockNVDevice

        return (MockNVDevice if cls is NVConfig else MockIonDevice).link_params_of(config)  # type: ignore[arg-type]


def _check_driver_options(where: "_Where", at: str, driver: str, config: Mapping[str, Any], node: str) -> None:
    from qnodeos.hal.options import select_options
    from qnodeos.hal.registry import default_registry

    try:
        info = default_registry().get(driver)
        select_options(driver, info.option_set, config, node=node, seed=None)
    except QNodeOSError:
        raise
    except Exception as exc:  # DriverLoadError, ConfigError: both name the driver
        raise where.error(at, str(exc)) from None


@dataclass(frozen=True)
class _Where:
    """Error messages naming the source file and the field."""

    source: str

    def error(self, at: str, message: str) -> NetworkSpecError:
        text = " ".join(str(message).split())  # one line
        if not at or text.startswith(at):  # the message names the field already
            return NetworkSpecError(f"{self.source}: {text}")
        return NetworkSpecError(f"{self.source}: {at}: {text}")

    def table(self, value: Any, at: str, known: set[str]) -> None:
        if not isinstance(value, Mapping):
            raise self.error(at, f"expected a table, got {value!r}")
        unknown = sorted(set(value) - known)
        if unknown:
            raise self.error(at, f"unknown key(s) {unknown} (known: {', '.join(sorted(known))})")

    def string(self, table: Mapping[str, Any], at: str, key: str) -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value:
            raise self.error(f"{at}.{key}" if at else key, f"expected a name, got {value!r}")
        return value

    def subtable(self, table: Mapping[str, Any], at: str, key: str) -> dict[str, Any]:
        value = table.get(key, {})
        if not isinstance(value, Mapping):
            raise self.error(f"{at}.{key}", f"expected a table of options, got {value!r}")
        for k, v in value.items():
            if isinstance(v, float) and math.isnan(v):
                raise self.error(f"{at}.{key}.{k}", "nan is not a value")
        return dict(value)

"""The driver registry: finds QDevice drivers through pluggy plugins published as entry points.

Every driver, built-in or third-party, arrives the same way: a distribution declares an entry point
in the ``qnodeos.drivers`` group whose value is a module (or object) implementing the
:func:`~qnodeos.hal.hookspecs.qnodeos_drivers` hook. The registry loads each plugin in isolation so
that one broken plugin (cannot be imported, fails pluggy validation, raises, returns the wrong type,
reuses a taken driver name) is reported by name with its reason while all others still load.

Operators choose drivers with two environment variables of comma-separated ``fnmatch`` globs, matched
case-insensitively against driver names *and* entry-point names:

``QNODEOS_DRIVERS_BLOCK``
    Drivers (or whole entry points) to refuse. A blocked entry point is never imported, so blocking
    is also how to silence a plugin that breaks at import time.
``QNODEOS_DRIVERS_ALLOW``
    When set, only matching drivers load. Block wins over allow.

Blocked drivers are listed in :attr:`DriverRegistry.blocked` with the reason, never silently dropped.
There is no global registry to mutate: :func:`default_registry` caches one lazily for convenience,
and anybody can build their own with :meth:`DriverRegistry.load` or ``DriverRegistry()``.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import functools
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .device import QDevice
from .driver_info import DriverInfo
from .errors import ConfigError, DriverLoadError, QDeviceError
from .options import select_options

__all__ = [
    "ALLOW_ENV", "BLOCK_ENV", "ENTRY_POINT_GROUP", "BlockedDriver", "DriverFilter", "DriverRegistry",
    "PluginProblem", "ProblemKind", "build_device", "default_registry",
]

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())  # problems are data (.problems); apps decide whether to log them

ENTRY_POINT_GROUP = "qnodeos.drivers"
ALLOW_ENV = "QNODEOS_DRIVERS_ALLOW"
BLOCK_ENV = "QNODEOS_DRIVERS_BLOCK"
_HOOK = "qnodeos_drivers"
#: Distribution whose entry points load first, so third-party plugins cannot shadow built-in drivers.
_BUILTIN_DIST = "qnodeos"


class ProblemKind:
    """Why a plugin (or one of its drivers) was skipped; plain strings so they serialise as-is."""

    IMPORT = "import"            # loading the entry point raised
    VALIDATION = "validation"    # pluggy refused the hookimpl (wrong signature …)
    NO_HOOK = "no-hook"          # the plugin implements no qnodeos_drivers hook
    HOOK_ERROR = "hook-error"    # qnodeos_drivers() raised
    BAD_RETURN = "bad-return"    # qnodeos_drivers() returned something other than DriverInfo objects
    DUPLICATE = "duplicate"      # plugin or driver name already taken


@dataclass(frozen=True)
class PluginProblem:
    """A plugin that failed to provide (some of) its drivers.

    Attributes:
        name: the plugin's (or entry point's) name.
        kind: why it was skipped, one of :class:`ProblemKind`'s values.
        message: what went wrong, for a person.
        origin: where the plugin comes from (its distribution and entry point, or "registered in-process").
    """

    name: str
    kind: str
    message: str
    origin: str = ""

    def __str__(self) -> str:
        return f"{self.name} [{self.kind}]: {self.message}"

    def to_dict(self) -> dict[str, str]:
        """The problem as plain data (``qnodeos drivers --json``)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class BlockedDriver:
    """A driver refused by the allow/block lists. ``info`` is None when its whole entry point was
    blocked (then it was never imported and ``name`` is the entry-point name); ``reason`` names the
    pattern that refused it, ``origin`` where the driver comes from."""

    name: str
    reason: str
    origin: str = ""
    info: DriverInfo | None = None


def _patterns(value: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (value or "").split(",") if p.strip())


def _matching(names: Iterable[str], patterns: tuple[str, ...]) -> str | None:
    """The first pattern matching any of ``names`` (case-insensitive, same on every OS)."""
    for pattern in patterns:
        if any(fnmatch.fnmatchcase(n.lower(), pattern.lower()) for n in names if n):
            return pattern
    return None


@dataclass(frozen=True)
class DriverFilter:
    """The operator's allow/block lists (fnmatch globs over driver and entry-point names)."""

    allow: tuple[str, ...] = ()
    block: tuple[str, ...] = ()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "DriverFilter":
        """The lists that ``environ``'s allow and block variables set (comma-separated globs)."""
        return cls(allow=_patterns(environ.get(ALLOW_ENV)), block=_patterns(environ.get(BLOCK_ENV)))

    def entry_point_refusal(self, entry_point: str) -> str | None:
        """Reason to skip the entry point named ``entry_point`` without importing it (only an explicit
        block does that: allow patterns may match driver names we only learn by loading the plugin)."""
        pattern = _matching([entry_point], self.block)
        return None if pattern is None else f"entry point matches {BLOCK_ENV} pattern {pattern!r}"

    def driver_refusal(self, driver: str, entry_point: str | None) -> str | None:
        """Reason to refuse the driver named ``driver`` (published by ``entry_point``, if any), or None
        when it may load."""
        names = [driver, entry_point or ""]
        pattern = _matching(names, self.block)
        if pattern is not None:
            return f"matches {BLOCK_ENV} pattern {pattern!r}"
        if self.allow and _matching(names, self.allow) is None:
            return f"not matched by {ALLOW_ENV}={','.join(self.allow)}"
        return None


class _Skip(Exception):
    """Internal: a plugin is broken; carries the problem kind and reason."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _describe(exc: BaseException) -> str:
    """One line naming the exception type and its message (pluggy's messages span lines)."""
    text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _entry_point_origin(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    where = f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"
    return f"{where} (entry point {ep.name})"


def _dist_name(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return "" if dist is None else dist.name.lower().replace("_", "-")


def _discover(group: str) -> list[metadata.EntryPoint]:
    """Entry points of ``group`` in a stable order: built-ins first, then by distribution and name
    (importlib.metadata's own order follows directory listings, which differ between machines)."""
    eps = list(metadata.entry_points(group=group))
    return sorted(eps, key=lambda ep: (_dist_name(ep) != _BUILTIN_DIST, _dist_name(ep), ep.name))


class DriverRegistry:
    """Known drivers by name, the plugins that failed to load and the drivers the operator blocked.

    Build one with :meth:`load` (every installed driver plugin); an empty one (``driver_filter``: the
    operator's allow/block lists, default none) takes plugins through :meth:`register`.
    """

    def __init__(self, driver_filter: DriverFilter | None = None) -> None:
        self._filter = driver_filter or DriverFilter()
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._drivers: dict[str, DriverInfo] = {}
        self._blocked: list[BlockedDriver] = []
        self._problems: list[PluginProblem] = []

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def load(cls, group: str = ENTRY_POINT_GROUP, environ: Mapping[str, str] | None = None) -> "DriverRegistry":
        """A new registry holding every driver published in entry-point ``group``, filtered by the
        allow/block variables of ``environ`` (default: ``os.environ``)."""
        registry = cls(DriverFilter.from_environ(os.environ if environ is None else environ))
        registry.load_entry_points(group)
        return registry

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load every plugin of ``group``; broken ones end up in :attr:`problems`."""
        for ep in _discover(group):
            origin = _entry_point_origin(ep)
            refusal = self._filter.entry_point_refusal(ep.name)
            if refusal is not None:
                self._blocked.append(BlockedDriver(ep.name, refusal, origin))
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001 - any failure of third-party import code
                self._problem(ep.name, ProblemKind.IMPORT, f"cannot load {ep.value!r}: {_describe(exc)}", origin)
                continue
            try:
                self._add_plugin(plugin, ep.name, origin, entry_point=ep.name)
            except _Skip as skip:
                self._problem(ep.name, skip.kind, skip.message, origin)

    def register(self, plugin: object, name: str | None = None) -> list[str]:
        """Register an in-process ``plugin`` (a module, class or instance with the hookimpl) under
        ``name`` (default: its ``__name__``).

        Returns the names of the drivers it added. Unlike discovered plugins, a broken one raises
        :class:`DriverLoadError` right away since its author is the caller. Duplicate driver names are
        still only skipped and recorded in :attr:`problems`, as for discovered plugins.
        """
        plugin_name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        try:
            return self._add_plugin(plugin, plugin_name, f"registered in-process (plugin {plugin_name})")
        except _Skip as skip:
            raise DriverLoadError(f"plugin {plugin_name!r} [{skip.kind}]: {skip.message}") from None

    # -- loading one plugin in isolation -----------------------------------------------------------

    def _add_plugin(self, plugin: object, name: str, origin: str, entry_point: str | None = None) -> list[str]:
        self._register_with_pluggy(plugin, name)
        try:
            infos = self._call_hook(plugin)
        except _Skip:
            self._pm.unregister(plugin=plugin, name=name)
            raise
        added: list[str] = []
        for info in infos:
            if self._accept(info, name, origin, entry_point):
                added.append(info.name)
        return added

    def _register_with_pluggy(self, plugin: object, name: str) -> None:
        if self._pm.has_plugin(name):
            raise _Skip(ProblemKind.DUPLICATE, f"a plugin named {name!r} is already registered")
        try:
            self._pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            self._forget(name)
            raise _Skip(ProblemKind.VALIDATION, f"invalid hook implementation: {_describe(exc)}") from None
        except ValueError:  # pluggy: the same object is already registered under another name
            other = self._pm.get_name(plugin)
            self._forget(name)
            raise _Skip(ProblemKind.DUPLICATE, f"the same plugin object is already registered as {other!r}") from None
        except Exception as exc:  # noqa: BLE001 - attribute access on odd plugin objects can raise
            self._forget(name)
            raise _Skip(ProblemKind.VALIDATION, f"cannot register plugin: {_describe(exc)}") from None

    def _forget(self, name: str) -> None:
        """Undo a half-done registration (older pluggy versions register before validating)."""
        if self._pm.get_plugin(name) is not None:
            self._pm.unregister(name=name)

    def _call_hook(self, plugin: object) -> list[DriverInfo]:
        """Call this plugin's hook alone, so its exception cannot hide other plugins' drivers."""
        impls = [i for i in self._pm.hook.qnodeos_drivers.get_hookimpls() if i.plugin is plugin]
        if not impls:
            unknown = sorted(c.name for c in self._pm.get_hookcallers(plugin) or () if not c.has_spec())
            hint = f" (unknown hooks: {', '.join(unknown)})" if unknown else ""
            raise _Skip(ProblemKind.NO_HOOK, f"implements no @hookimpl {_HOOK}(){hint}")
        others = [p for p in self._pm.get_plugins() if p is not plugin]
        caller = self._pm.subset_hook_caller(_HOOK, remove_plugins=others)
        try:
            results = caller()
        except Exception as exc:  # noqa: BLE001 - plugin code
            raise _Skip(ProblemKind.HOOK_ERROR, f"{_HOOK}() raised {_describe(exc)}") from None
        if not results:  # pluggy drops None results
            raise _Skip(ProblemKind.BAD_RETURN, f"{_HOOK}() returned None, expected a list of DriverInfo")
        infos: list[DriverInfo] = []
        for result in results:
            infos.extend(_check_result(result))
        return infos

    def _accept(self, info: DriverInfo, plugin: str, origin: str, entry_point: str | None) -> bool:
        """File one driver as loaded or blocked; a taken name is a problem of the later plugin."""
        info = dataclasses.replace(info, origin=origin)
        taken = self._drivers.get(info.name) or next(
            (b.info for b in self._blocked if b.info is not None and b.info.name == info.name), None)
        if taken is not None:
            self._problem(plugin, ProblemKind.DUPLICATE,
                          f"driver name {info.name!r} is already provided by {taken.origin}; skipped", origin)
            return False
        refusal = self._filter.driver_refusal(info.name, entry_point)
        if refusal is not None:
            self._blocked.append(BlockedDriver(info.name, refusal, origin, info))
            return False
        self._drivers[info.name] = info
        return True

    def _problem(self, name: str, kind: str, message: str, origin: str) -> None:
        problem = PluginProblem(name, kind, message, origin)
        log.warning("qnodeos driver plugin %s", problem)
        self._problems.append(problem)

    # -- queries ---------------------------------------------------------------------------------

    @property
    def drivers(self) -> dict[str, DriverInfo]:
        """Loaded drivers by name (a copy: the registry only changes through its own methods)."""
        return dict(self._drivers)

    @property
    def problems(self) -> list[PluginProblem]:
        """Plugins (or drivers) that failed to load, and why; the registry loads the others."""
        return list(self._problems)

    @property
    def blocked(self) -> list[BlockedDriver]:
        """Drivers and entry points the operator's allow/block lists refused."""
        return list(self._blocked)

    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        """The underlying pluggy manager (for tools that want to inspect plugins)."""
        return self._pm

    def __contains__(self, name: object) -> bool:
        return name in self._drivers

    def __iter__(self) -> Iterator[DriverInfo]:
        return iter(self._drivers.values())

    def __len__(self) -> int:
        return len(self._drivers)

    def get(self, name: str) -> DriverInfo:
        """The driver called ``name``; :class:`DriverLoadError` names it and lists the known ones."""
        try:
            return self._drivers[name]
        except KeyError:
            raise DriverLoadError(self._why_missing(name)) from None

    def _why_missing(self, name: str) -> str:
        for b in self._blocked:
            if b.name == name:
                return f"driver {name!r} is blocked ({b.reason}; {b.origin})"
        known = ", ".join(sorted(self._drivers)) or "none"
        msg = f"unknown driver {name!r}; known drivers: {known}"
        broken = [p for p in self._problems if p.name == name]
        if broken:
            msg += f" (plugin {name!r} failed to load: {broken[0].message})"
        return msg

    def create(self, name: str, **config: Any) -> QDevice:
        """Instantiate driver ``name``; ``node`` and ``seed`` in ``config`` are handed over as in
        :meth:`build`, the rest are driver options."""
        node = config.pop("node", None)
        seed = config.pop("seed", None)
        return self.build(name, config, node=node, seed=seed)

    def build(self, name: str, config: Mapping[str, Any] | None = None, *, node: str | None = None,
              seed: int | None = None) -> QDevice:
        """A device of driver ``name`` for node ``node``, from its configuration ``config``, with
        randomness seeded by ``seed`` (drivers that declare a seed option; None: unseeded).

        The factory gets only the options it declares (see :mod:`qnodeos.hal.options`): an option it
        cannot take is a :class:`ConfigError` naming the driver and the option. Configuration errors
        (:class:`~qnodeos.hal.errors.QDeviceError` subclasses) from the factory pass through;
        anything else it raises becomes a :class:`DriverLoadError` naming the driver.
        """
        info = self.get(name)
        if config is not None and not isinstance(config, Mapping):
            raise ConfigError(f"driver {name!r}: its configuration must be a table of options, "
                              f"not {type(config).__name__}")
        options = info.option_set
        kwargs = select_options(name, options, config or {}, node=node, seed=seed)
        try:
            device = info.create(**kwargs)
        except QDeviceError:
            raise
        except Exception as exc:  # noqa: BLE001 - driver code
            raise DriverLoadError(f"driver {name!r} ({info.origin}) could not be created: {_describe(exc)}") from exc
        if not isinstance(device, QDevice):
            raise DriverLoadError(
                f"driver {name!r} ({info.origin}) returned {type(device).__name__}, not a QDevice")
        if node is not None and "node" not in kwargs:
            try:
                device.node = node
            except AttributeError as exc:
                device.close()
                raise DriverLoadError(f"driver {name!r} takes no node name and its device refuses one: {exc}") from exc
        return device


def build_device(driver: str, config: Mapping[str, Any] | None = None, *, node: str | None = None,
                 seed: int | None = None, registry: DriverRegistry | None = None) -> QDevice:
    """A device from (``driver`` name, driver ``config``, ``node`` name, ``seed``) — what a node or
    network configuration file names per node — through ``registry`` (default: the installed drivers)."""
    return (registry or default_registry()).build(driver, config, node=node, seed=seed)


def _check_result(result: object) -> list[DriverInfo]:
    """One hookimpl's return value as DriverInfo objects, or :class:`_Skip` saying what is wrong."""
    if isinstance(result, DriverInfo):
        result = [result]
    if isinstance(result, (str, bytes, Mapping)) or not isinstance(result, Iterable):
        raise _Skip(ProblemKind.BAD_RETURN,
                    f"{_HOOK}() returned {type(result).__name__}, expected a list of DriverInfo")
    infos = list(result)
    for item in infos:
        if not isinstance(item, DriverInfo):
            raise _Skip(ProblemKind.BAD_RETURN,
                        f"{_HOOK}() returned a list containing {type(item).__name__} ({item!r:.60}), "
                        "expected only DriverInfo")
        if not isinstance(item.name, str) or not item.name.strip():
            raise _Skip(ProblemKind.BAD_RETURN, f"{_HOOK}() returned a DriverInfo with empty name {item.name!r}")
        if not callable(item.factory):
            raise _Skip(ProblemKind.BAD_RETURN, f"driver {item.name!r} has a factory that is not callable")
    return infos


@functools.lru_cache(maxsize=1)
def default_registry() -> DriverRegistry:
    """A registry of the installed drivers under ``os.environ``, built on first use.

    Cached for convenience only; call ``default_registry.cache_clear()`` to rebuild, or build a
    private one with :meth:`DriverRegistry.load`.
    """
    return DriverRegistry.load()

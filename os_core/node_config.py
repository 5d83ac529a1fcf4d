"""A node's TOML file: which driver, its options, and the node's own settings.

::

    [node]
    name = "alice"              # optional; default "node"
    driver = "visa-controller"  # optional; default mock-nv
    seed = 7                    # optional; only for drivers that take a seed
    min_fidelity = 0.0          # optional
    trace = true                # optional
    trace_rows = 200000         # optional; the trace keeps the latest this many instructions

    [driver]                    # the driver's options (`qnodeos drivers --json` lists them)
    resource = "TCPIP::10.0.0.5::5025::SOCKET"

Every key is checked here, with the file named in the error; the driver's options are checked by the
registry when the device is built (:meth:`~qnodeos.hal.registry.DriverRegistry.build`).
"""
from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import QNodeOSError
from .trace import DEFAULT_MAX_ROWS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_NODE_KEYS = {"name": (str,), "driver": (str,), "seed": (int,), "trace": (bool,), "min_fidelity": (int, float),
              "trace_rows": (int,)}
#: Integer keys where TOML's true/false (a Python int subclass) is a mistake, not a number.
_NO_BOOL = ("seed", "trace_rows")


@dataclass(frozen=True)
class NodeConfig:
    """The contents of a node file (``qnodeos run --config FILE``; :meth:`qnodeos.Node.from_config`).

    Attributes:
        driver: the driver's name (``[node] driver``).
        driver_config: the driver's options (the ``[driver]`` table).
        name: the node's name.
        seed: seeds the device's randomness (None: unseeded).
        min_fidelity: entangled pairs below this estimated fidelity are discarded.
        trace: whether the node records executed instructions.
        trace_rows: how many of the latest instructions the trace keeps.
    """

    driver: str = "mock-nv"
    driver_config: dict[str, Any] = field(default_factory=dict)
    name: str = "node"
    seed: int | None = None
    min_fidelity: float = 0.0
    trace: bool = True
    trace_rows: int = DEFAULT_MAX_ROWS

    @classmethod
    def load(cls, path: str | Path) -> "NodeConfig":
        """Read the node file (TOML) at ``path``; an unknown key or a value of the wrong type is refused
        by name."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise QNodeOSError(f"cannot read node config {path}: {exc}") from None
        stray = sorted(set(data) - {"node", "driver"})
        if stray:
            raise QNodeOSError(f"{path}: unknown top-level key(s) {stray}: a node file has a [node] table "
                               "(name, driver, seed, min_fidelity, trace, trace_rows) and a [driver] table "
                               "of driver options")
        node, driver = data.get("node", {}), data.get("driver", {})
        if not isinstance(node, dict) or not isinstance(driver, dict):
            raise QNodeOSError(f"{path}: [node] and [driver] must be tables")
        unknown = set(node) - set(_NODE_KEYS)
        if unknown:
            raise QNodeOSError(f"{path}: unknown [node] key(s) {sorted(unknown)}")
        clash = {"node", "seed"} & set(driver)
        if clash:
            raise QNodeOSError(f"{path}: set {sorted(clash)} in [node] (name, seed), not in [driver]")
        for key, types in _NODE_KEYS.items():
            if key in node and (not isinstance(node[key], types) or (key in _NO_BOOL and isinstance(node[key], bool))):
                raise QNodeOSError(f"{path}: [node] {key} = {node[key]!r} has the wrong type")
        if not 0.0 <= float(node.get("min_fidelity", 0.0)) <= 1.0:
            raise QNodeOSError(f"{path}: [node] min_fidelity = {node['min_fidelity']!r} is outside 0..1")
        if node.get("trace_rows", 1) < 1:
            raise QNodeOSError(f"{path}: [node] trace_rows = {node['trace_rows']!r} must be at least 1")
        return cls(driver_config=dict(driver), **node)

    def with_overrides(self, *, driver_config: dict[str, Any] | None = None, **node: Any) -> "NodeConfig":
        """A copy with the ``[node]`` values in ``node`` replaced (None leaves one as it is) and the
        options of ``driver_config`` added."""
        changes = {k: v for k, v in node.items() if v is not None}
        return dataclasses.replace(self, driver_config={**self.driver_config, **(driver_config or {})}, **changes)

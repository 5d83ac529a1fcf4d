"""pluggy hook specifications of the driver registry (project name ``qnodeos``).

A driver package exposes a module through the ``qnodeos.drivers`` entry-point group; that module
implements :func:`qnodeos_drivers` with ``@hookimpl``. Built-in drivers register exactly the same way.
"""
from __future__ import annotations

import pluggy

from .driver_info import DriverInfo

PROJECT = "qnodeos"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def qnodeos_drivers() -> list[DriverInfo]:  # type: ignore[empty-body]
    """Return the drivers this plugin provides (one :class:`DriverInfo` per driver)."""

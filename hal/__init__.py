"""qnodeos.hal: the versioned QDevice contract between the OS and any quantum device driver.

Public pieces: physical instruction types, :class:`Capabilities`, :class:`Response`, the error
hierarchy, the :class:`QDevice` ABC, pluggy hook markers and the driver registry.

The names load on first use (PEP 562): importing ``qnodeos.hal.errors`` (as the console script does)
does not pull in pluggy, the instruction types and the rest of the contract.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names as type checkers see them
    from .capabilities import (
        HAL_VERSION,
        Capabilities,
        EntanglementInfo,
        NativeOperation,
        Platform,
        QubitInfo,
        QubitRole,
        pair_targets,
        single_targets,
    )
    from .device import QDevice
    from .driver_info import DriverInfo
    from .errors import (
        ConfigError,
        DeviceFault,
        DeviceTimeout,
        DriverLoadError,
        InvalidQubit,
        QDeviceError,
        UnsupportedInstruction,
    )
    from .hookspecs import hookimpl, hookspec
    from .options import NODE, SEED, DriverOption, OptionSet
    from .instructions import (
        Axis,
        ControlledRotate,
        EntangleAttempt,
        Init,
        Measure,
        MolmerSorensen,
        PhysicalInstruction,
        Rotate,
        Wait,
        instruction_name,
        qubits_of,
    )
    from .responses import BellState, Response, Status

#: public name -> the submodule that defines it
_HOME = {
    **dict.fromkeys([
        "HAL_VERSION", "Capabilities", "EntanglementInfo", "NativeOperation", "Platform",
        "QubitInfo", "QubitRole", "pair_targets", "single_targets",
    ], "capabilities"),
    **dict.fromkeys(["QDevice"], "device"),
    **dict.fromkeys(["DriverInfo"], "driver_info"),
    **dict.fromkeys([
        "ConfigError", "DeviceFault", "DeviceTimeout", "DriverLoadError", "InvalidQubit",
        "QDeviceError", "UnsupportedInstruction",
    ], "errors"),
    **dict.fromkeys(["hookimpl", "hookspec"], "hookspecs"),
    **dict.fromkeys([
        "Axis", "ControlledRotate", "EntangleAttempt", "Init", "Measure", "MolmerSorensen",
        "PhysicalInstruction", "Rotate", "Wait", "instruction_name", "qubits_of",
    ], "instructions"),
    **dict.fromkeys(["BellState", "Response", "Status"], "responses"),
    **dict.fromkeys(["NODE", "SEED", "DriverOption", "OptionSet"], "options"),
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])


__all__ = [
    "HAL_VERSION", "Capabilities", "EntanglementInfo", "NativeOperation", "Platform", "QubitInfo",
    "QubitRole", "pair_targets", "single_targets", "QDevice", "DriverInfo", "ConfigError", "DeviceFault",
    "DeviceTimeout", "DriverLoadError", "InvalidQubit", "QDeviceError", "UnsupportedInstruction",
    "hookimpl", "hookspec", "Axis", "ControlledRotate", "EntangleAttempt", "Init", "Measure",
    "MolmerSorensen", "PhysicalInstruction", "Rotate", "Wait", "instruction_name", "qubits_of",
    "BellState", "Response", "Status", "NODE", "SEED", "DriverOption", "OptionSet",
]

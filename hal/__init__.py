"""qnodeos.hal: the versioned QDevice contract between the OS and any quantum device driver.

Public pieces: physical instruction types, :class:`Capabilities`, :class:`Response`, the error
hierarchy, the :class:`QDevice` ABC, pluggy hook markers and the driver registry.
"""
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

__all__ = [
    "HAL_VERSION", "Capabilities", "EntanglementInfo", "NativeOperation", "Platform", "QubitInfo",
    "QubitRole", "pair_targets", "single_targets", "QDevice", "DriverInfo", "ConfigError", "DeviceFault",
    "DeviceTimeout", "DriverLoadError", "InvalidQubit", "QDeviceError", "UnsupportedInstruction",
    "hookimpl", "hookspec", "Axis", "ControlledRotate", "EntangleAttempt", "Init", "Measure",
    "MolmerSorensen", "PhysicalInstruction", "Rotate", "Wait", "instruction_name", "qubits_of",
    "BellState", "Response", "Status", "NODE", "SEED", "DriverOption", "OptionSet",
]

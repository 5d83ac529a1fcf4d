"""The HAL's error hierarchy: every failure a driver can report, each naming its cause."""
from __future__ import annotations


class QDeviceError(Exception):
    """Base class of everything a QDevice driver raises."""


class UnsupportedInstruction(QDeviceError):
    """The device (or the chosen qubit/pair) cannot perform this instruction."""


class InvalidQubit(QDeviceError):
    """The instruction names a qubit the device does not have."""


class DeviceFault(QDeviceError):
    """The hardware (or the link to it) failed; the state of the device may be lost."""


class DeviceTimeout(DeviceFault):
    """The device did not answer in time."""


class ConfigError(QDeviceError, ValueError):
    """A driver configuration value is missing, of the wrong type or out of range."""


class DriverLoadError(QDeviceError):
    """A driver plugin could not be loaded or is not known."""

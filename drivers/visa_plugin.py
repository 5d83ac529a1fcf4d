"""Built-in plugin for the VISA controller shim (driver ``visa-controller``).

Platform is ``generic`` here because the real one is only known once the controller answers
``CAPS?``. The shim module is imported inside the factory so listing drivers needs no pyvisa import.
"""
from __future__ import annotations

from typing import Any

from qnodeos import __version__
from qnodeos.hal import ConfigError, DriverInfo, Platform, QDevice, hookimpl


def create(resource: str | None = None, timeout: float = 2.0, node: str = "node", **options: Any) -> QDevice:
    """Connect to the controller at VISA ``resource`` (e.g. ``TCPIP::10.0.0.5::5025::SOCKET``)."""
    if not resource:
        raise ConfigError("visa-controller needs resource=... (e.g. TCPIP::10.0.0.5::5025::SOCKET)")
    from qnodeos.drivers.visa_shim import VisaControllerDevice

    return VisaControllerDevice(resource, timeout=timeout, node=node, **options)


@hookimpl
def qnodeos_drivers() -> list[DriverInfo]:
    return [
        DriverInfo(
            name="visa-controller",
            version=__version__,
            platform=Platform.GENERIC.value,
            factory=create,
            description="Real-time controller (ADwin/FPGA sequencer) over VISA; config: resource, timeout, node",
        )
    ]

"""Built-in plugin for the serial controller shim (driver ``serial-controller``).

Platform is ``generic`` here because the real one is only known once the controller answers
``CAPS?``. The shim module is imported inside the factory so listing drivers needs no pyserial import.
"""
from __future__ import annotations

from typing import Any

from qnodeos import __version__
from qnodeos.hal import ConfigError, DriverInfo, Platform, QDevice, hookimpl


def create(url: str | None = None, timeout: float = 2.0, node: str = "node", **options: Any) -> QDevice:
    """Connect to the controller at pyserial ``url`` (``/dev/ttyUSB0``, ``socket://host:port`` …)."""
    if not url:
        raise ConfigError("serial-controller needs url=... (e.g. /dev/ttyUSB0 or socket://10.0.0.5:4000)")
    from qnodeos.drivers.serial_shim import SerialControllerDevice

    return SerialControllerDevice(url, timeout=timeout, node=node, **options)


@hookimpl
def qnodeos_drivers() -> list[DriverInfo]:
    return [
        DriverInfo(
            name="serial-controller",
            version=__version__,
            platform=Platform.GENERIC.value,
            factory=create,
            description="Real-time controller on a serial line (framed, CRC-checked); config: url, timeout, node",
        )
    ]

"""Registers the ``template-visa`` driver with qnodeos (entry point group ``qnodeos.drivers``)."""
from __future__ import annotations

from typing import Any

from qnodeos.hal import ConfigError, DriverInfo, Platform, QDevice, hookimpl

from . import __version__


def create(resource: str | None = None, timeout: float = 5.0, node: str = "node", **options: Any) -> QDevice:
    """Factory the registry calls with the node's driver configuration."""
    if not resource:
        raise ConfigError("template-visa needs resource=... (e.g. TCPIP::192.168.1.50::5025::SOCKET)")
    from .device import AcmeSequencerDevice  # imported on use: listing drivers stays cheap

    return AcmeSequencerDevice(resource, timeout=timeout, node=node, **options)


@hookimpl
def qnodeos_drivers() -> list[DriverInfo]:
    return [
        DriverInfo(
            name="template-visa",
            version=__version__,
            platform=Platform.GENERIC.value,  # the real platform comes from the controller's CAPS?
            factory=create,
            description="ACME SEQ-9000 sequencer over VISA (template driver)",
        )
    ]

"""Registers the ``template-seq9000`` driver with qnodeos (entry point group ``qnodeos.drivers``)."""
from __future__ import annotations

from typing import Any

from qnodeos.hal import NODE, DriverInfo, DriverOption, Platform, QDevice, hookimpl

from . import __version__

#: What the factory accepts; the registry passes nothing else (and, say, refuses a seed by name).
OPTIONS = (
    DriverOption("resource", "VISA resource of the SEQ-9000, e.g. TCPIP::192.168.1.50::5025::SOCKET", required=True),
    DriverOption("calibration", "the setup's capabilities file (JSON, as `qnodeos drivers --describe` prints)",
                 required=True),
    DriverOption("timeout", "seconds per exchange (default 5)"),
    DriverOption("resource_manager", "pyvisa backend (default @py)"),
    NODE,
)


def create(**options: Any) -> QDevice:
    """Factory the registry calls with the node's driver options."""
    from .device import Seq9000Device  # imported on use: listing drivers stays cheap

    return Seq9000Device(**options)


@hookimpl
def qnodeos_drivers() -> list[DriverInfo]:
    return [DriverInfo(name="template-seq9000", version=__version__, platform=Platform.GENERIC.value, factory=create,
                       description="ACME SEQ-9000 sequencer, own command set over VISA (template driver)",
                       options=OPTIONS)]

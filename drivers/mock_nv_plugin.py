"""Built-in plugin for the mock NV driver.

Registered through the ``qnodeos.drivers`` entry point exactly like a third-party driver, so the
registry has a single discovery path. The device class is imported inside the factory: listing
drivers must not pay for (or depend on) the compiled physics engine.
"""
from __future__ import annotations

from typing import Any

from qnodeos import __version__
from qnodeos.hal import DriverInfo, Platform, QDevice, hookimpl


def create(**config: Any) -> QDevice:
    """Build a :class:`~qnodeos.drivers.mock_nv.MockNVDevice` from keyword configuration."""
    from qnodeos.drivers.mock_nv import MockNVDevice

    return MockNVDevice.from_config(**config)


@hookimpl
def qnodeos_drivers() -> list[DriverInfo]:
    return [
        DriverInfo(
            name="mock-nv",
            version=__version__,
            platform=Platform.NV.value,
            factory=create,
            description="Simulated NV-centre node: electron communication qubit plus carbon memory qubits",
        )
    ]

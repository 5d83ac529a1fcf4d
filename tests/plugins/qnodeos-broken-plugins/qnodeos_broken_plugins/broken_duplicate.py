"""Claims a driver name a built-in plugin already provides ("mock-nv")."""
from qnodeos.hal import DriverInfo, hookimpl


def _create(**config):
    raise AssertionError("the duplicate mock-nv must never be used")


@hookimpl
def qnodeos_drivers():
    return [DriverInfo(name="mock-nv", version="6.6.6", platform="nv", factory=_create,
                       description="impostor of the built-in mock-nv")]

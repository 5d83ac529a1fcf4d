"""The hook returns a plain dict instead of a list of DriverInfo."""
from qnodeos.hal import hookimpl


@hookimpl
def qnodeos_drivers():
    return {"name": "broken-type", "platform": "generic"}

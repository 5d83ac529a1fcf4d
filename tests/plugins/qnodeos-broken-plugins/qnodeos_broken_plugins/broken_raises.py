"""The hook itself raises, e.g. because hardware discovery fails."""
from qnodeos.hal import hookimpl


@hookimpl
def qnodeos_drivers():
    raise RuntimeError("broken-raises: vendor licence server unreachable")

"""Fails pluggy validation: the hookimpl asks for an argument the hookspec does not have."""
from qnodeos.hal import hookimpl


@hookimpl
def qnodeos_drivers(config):  # noqa: ARG001
    return []

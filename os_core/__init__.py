"""qnodeos: an operating system for quantum network nodes.

The OS core (this package) runs NetQASM programs of many processes on one QDevice; ``qnodeos.hal`` is
the device contract and driver registry; ``qnodeos.drivers`` holds the built-in drivers.
"""
__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any  # noqa: E402

from .errors import (  # noqa: E402
    DeadlockError,
    ExecutionError,
    OutOfQubits,
    PlatformError,
    ProgramError,
    QNodeOSError,
    QubitAccessError,
)


if TYPE_CHECKING:  # type checkers see the real classes; at run time they load on first use
    from .node import Node, ProgramResult


def __getattr__(name: str) -> Any:  # lazy: `import qnodeos` stays cheap for drivers and plugins
    if name in ("Node", "ProgramResult"):
        from . import node

        return getattr(node, name)
    raise AttributeError(name)


__all__ = ["Node", "ProgramResult", "QNodeOSError", "ProgramError", "PlatformError", "QubitAccessError",
           "OutOfQubits", "ExecutionError", "DeadlockError", "__version__"]

"""Subcommands of the ``qnodeos`` console script, one module each.

A command module provides ``register(subparsers)``: it adds its parser with
``subparsers.add_parser(...)`` and sets ``handler=`` via ``set_defaults``; the handler takes the
parsed ``argparse.Namespace`` and returns the exit code. To add a command, write the module and append
its name to :data:`qnodeos.cli.COMMANDS`.

Handlers signal user errors (bad input, unknown names) by raising :class:`CommandError` or any
:class:`~qnodeos.hal.errors.QDeviceError`; ``qnodeos.cli.main`` prints those as one line on stderr
and exits with :data:`USAGE_ERROR`. Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

#: Exit code for user errors (argparse uses the same for bad arguments).
USAGE_ERROR = 2


class CommandError(Exception):
    """A user error a command reports as one line, without a traceback."""

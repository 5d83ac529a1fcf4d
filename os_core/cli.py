"""The ``qnodeos`` console script: a thin argparse front over the command modules.

Each subcommand lives in ``qnodeos.commands.<name>`` (see :mod:`qnodeos.commands`), so adding one
means writing a module and appending its name to :data:`COMMANDS`. ``main`` turns user errors into a
one-line message on stderr and exit code 2 instead of a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
from collections.abc import Sequence

from qnodeos import __version__
from qnodeos.commands import USAGE_ERROR, CommandError
from qnodeos.hal.errors import QDeviceError

#: Command modules under ``qnodeos.commands``, in the order ``--help`` lists them.
COMMANDS: list[str] = ["drivers", "run", "conformance", "trace", "demo", "keys", "validate"]

PROG = "qnodeos"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="An operating system for quantum network nodes.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"qnodeos.commands.{name}").register(subparsers)
    return parser


def _one_line(exc: BaseException) -> str:
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the console script with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else USAGE_ERROR
    try:
        return int(args.handler(args) or 0)
    except (CommandError, QDeviceError) as exc:
        print(f"{PROG} {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `qnodeos ... | head`: the reader left, which is not an error of ours
        _silence_stdout()
        return 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # stdout is not a real file (tests)
        pass


if __name__ == "__main__":
    sys.exit(main())

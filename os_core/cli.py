"""The ``qnodeos`` console script: a thin argparse front over the command modules.

Each subcommand lives in ``qnodeos.commands.<name>`` (see :mod:`qnodeos.commands`), so adding one
means writing a module and appending its name to :data:`COMMANDS`. ``main`` turns user errors into a
one-line message on stderr and exit code 2 instead of a traceback, Ctrl-C and SIGTERM into one line too
(exit codes 130 and 143, after the command's clean-up has run); ``--debug`` (before or after the
command) shows the traceback too and logs at debug level; ``--log-level`` sets how much the ``qnodeos``
and ``netqasm`` loggers write to stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

from qnodeos import __version__
from qnodeos.commands import USAGE_ERROR, CommandError
from qnodeos.hal.errors import QDeviceError

#: Command modules under ``qnodeos.commands``, in the order ``--help`` lists them.
COMMANDS: list[str] = ["drivers", "run", "conformance", "trace", "demo", "keys", "validate", "serve", "jobs"]

PROG = "qnodeos"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    """``--log-level`` and ``--debug``, accepted before and after the command (``SUPPRESS``: a later
    parser's default does not undo an earlier parser's value)."""
    parser.add_argument("--log-level", choices=LOG_LEVELS, default=argparse.SUPPRESS,
                        help="write log records of the qnodeos and netqasm loggers from this level on to stderr "
                             "(default: none; commands report their errors themselves)")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks of errors, and qnodeos's log records from debug level on")


def _leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [parser]
    return [leaf for action in subs for child in dict.fromkeys(action.choices.values())
            for leaf in _leaf_parsers(child)]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="An operating system for quantum network nodes.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"qnodeos.commands.{name}").register(subparsers)
    _add_common_options(parser)
    for leaf in _leaf_parsers(parser):
        _add_common_options(leaf)
    return parser


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes (redirections and test harnesses swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(level: str) -> None:
    """Send the ``qnodeos`` loggers' records of ``level`` and above to stderr (other libraries keep
    the root logger's level); a second call only changes the level."""
    root = logging.getLogger()
    if not any(isinstance(h, _CurrentStderr) for h in root.handlers):
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    logging.getLogger("qnodeos").setLevel(level.upper())


def _one_line(exc: BaseException) -> str:
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the console script with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else USAGE_ERROR
    debug = getattr(args, "debug", False)
    level = getattr(args, "log_level", None) or ("debug" if debug else None)
    if level is not None:  # else commands report their own errors, and library loggers stay quiet
        configure_logging(level)
    try:
        with _sigterm_raises():
            return int(args.handler(args) or 0)
    except Terminated:
        print(f"{PROG} {args.command}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except (CommandError, QDeviceError) as exc:
        if debug:  # the error's own traceback, and the one it was raised from
            traceback.print_exception(exc.__cause__ or exc.__context__ or exc, file=sys.stderr)
        print(f"{PROG} {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `qnodeos ... | head`: the reader left, which is not an error of ours
        _silence_stdout()
        return 0


class Terminated(BaseException):
    """SIGTERM arrived: raised like KeyboardInterrupt, so that a run's clean-up (its child processes,
    its scratch directory) happens before the command ends."""


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While the command runs, SIGTERM raises :class:`Terminated` (only the console script does this,
    and only on the main thread; the previous handler is restored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum: int, frame: Any) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # stdout is not a real file (tests)
        pass


if __name__ == "__main__":
    sys.exit(main())

"""Child processes that never outlive their parent.

Forked children of the runner (the world process, node processes) must end when the runner ends,
however it ends: on Linux the kernel sends them SIGKILL when their parent dies (``PR_SET_PDEATHSIG``);
elsewhere, and as a second line, a watchdog thread notices that the parent process is gone. A child
that must clean up after its parent (the world process removes the run's scratch directory when the
runner was killed) gets SIGTERM instead, and handles it. A child also closes the pipe ends it
inherited but does not own, so that its parent's death reads as EOF, and ignores Ctrl-C: the terminal
sends SIGINT to the whole process group, and it is the parent's to handle (it stops its children), not
a reason for each child to print a KeyboardInterrupt traceback.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Iterable

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, on_parent_death: Callable[[], None] | None = None) -> None:
    """Make this (child) process end when ``parent_pid`` ends; ``on_parent_death()`` runs first if
    given (the kernel then sends SIGTERM instead of SIGKILL, handled here)."""
    def end() -> None:
        try:
            if on_parent_death is not None:
                on_parent_death()
        finally:
            os._exit(1)

    if on_parent_death is not None:
        signal.signal(signal.SIGTERM, lambda signum, frame: end())
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL if on_parent_death is None else signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before we could ask
        end()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                end()

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def close_inherited(ends: Iterable[Any]) -> None:
    """Close pipe ends this child inherited but must not hold (its parent's ends)."""
    for end in ends:
        try:
            end.close()
        except OSError:
            pass


def leave_interrupts_to_parent() -> None:
    """Ignore SIGINT in this (child) process: its parent handles Ctrl-C and ends its children."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

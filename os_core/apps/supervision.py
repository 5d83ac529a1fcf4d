"""Child processes that never outlive their parent.

Forked children of the runner (the world process, node processes) must end when the runner ends,
however it ends: on Linux the kernel sends them SIGKILL when their parent dies (``PR_SET_PDEATHSIG``);
elsewhere, and as a second line, a watchdog thread notices that the parent process is gone. A child
also closes the pipe ends it inherited but does not own, so that its parent's death reads as EOF.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from typing import Any, Iterable

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Make this (child) process end when ``parent_pid`` ends."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before we could ask
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def close_inherited(ends: Iterable[Any]) -> None:
    """Close pipe ends this child inherited but must not hold (its parent's ends)."""
    for end in ends:
        try:
            end.close()
        except OSError:
            pass

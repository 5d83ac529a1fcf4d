"""Ending a role's thread that outlived its run (threads mode).

Python cannot kill a thread. What it can do — CPython's ``PyThreadState_SetAsyncExc``, part of its
stable C API — is raise an exception inside another thread at that thread's next Python instruction.
That ends a role stuck in an endless Python loop; a role blocked on its node is woken by the node
shutting down. A role blocked inside C code (``time.sleep``, a foreign socket) sees the exception only
when that call returns: such a thread is reported, not hidden. Roles that may hang for good belong in
processes mode, where the node process is killed at the deadline.
"""
from __future__ import annotations

import ctypes
import threading
import time
from typing import Iterable


class RoleStopped(BaseException):
    """Raised inside a role's thread to end it (the run's deadline passed, or the run was interrupted).

    A ``BaseException``, so that an application's ``except Exception`` does not swallow it."""


def interrupt(thread: threading.Thread, exc: type[BaseException] = RoleStopped) -> bool:
    """Make ``thread`` raise ``exc`` at its next Python instruction; False if it is not running."""
    if thread.ident is None or not thread.is_alive():
        return False
    hit = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exc))
    if hit > 1:  # cannot happen for a live ident; undo rather than hit another thread
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), None)
        return False
    return hit == 1


def join_all(threads: Iterable[threading.Thread], deadline: float) -> list[threading.Thread]:
    """Join ``threads`` until the monotonic ``deadline``; returns those still alive."""
    alive = []
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            alive.append(t)
    return alive

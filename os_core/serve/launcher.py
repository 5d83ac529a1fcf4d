"""``qnodeos up NET``: every part of a served network as a child process of one command.

The world starts first, then each node (each says ``ready`` on its first line of output once it
listens), then any extra service (the job service). The children die with the launcher
(``PR_SET_PDEATHSIG``: SIGTERM, so a node still leaves the network cleanly); Ctrl-C or SIGTERM stops
them in reverse order, each within :data:`STOP_S` before it is killed. If an essential child (the
world) ends on its own, the launcher stops the others; another that ends is reported and the rest keep
running, so the job service can tell its users which node went.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

from ..errors import QNodeOSError

#: How long a child has to say it is ready, and to end after SIGTERM.
READY_S, STOP_S = 60.0, 10.0
READY_LINE = "ready"
MAX_LINE = 65536  # a longer line of a child's output is cut into pieces of this size


class LaunchError(QNodeOSError):
    """A part of the network did not start (the message names it and quotes its last words)."""


def _die_with_launcher() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


def _bounded(pending: bytes) -> bytes:
    """Unread output, with a line break forced into a line longer than :data:`MAX_LINE`."""
    if b"\n" not in pending and len(pending) > MAX_LINE:
        return pending[:MAX_LINE] + b"\n" + pending[MAX_LINE:]
    return pending


@dataclass
class Child:
    """One started part: its name, command and process, and the output it wrote before ``ready``."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    said: list[str] = field(default_factory=list)

    def start(self, out: TextIO) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                        preexec_fn=_die_with_launcher, start_new_session=True)
        rest = self._wait_ready()
        threading.Thread(target=self._relay, args=(rest, out), name=f"relay-{self.name}", daemon=True).start()

    def _wait_ready(self) -> bytes:
        """Read the child's output until its ``ready`` line; returns what it wrote after it."""
        assert self.process is not None and self.process.stdout is not None
        fd, pending = self.process.stdout.fileno(), b""
        deadline = time.monotonic() + READY_S
        while True:
            while b"\n" in pending:
                raw, pending = pending.split(b"\n", 1)
                line = raw.decode(errors="replace").rstrip()
                self.said = [*self.said[-19:], line]
                if line.startswith(READY_LINE):
                    return pending
            left = deadline - time.monotonic()
            if left <= 0:
                raise LaunchError(f"{self.name} did not say it was ready within {READY_S:g} s{self._last_words()}")
            if not select.select([fd], [], [], left)[0]:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                code = self.process.wait(timeout=STOP_S)
                raise LaunchError(f"{self.name} ended (exit code {code}) before it was ready{self._last_words()}")
            pending = _bounded(pending + chunk)

    def _last_words(self) -> str:
        return (": " + " | ".join(self.said[-5:])) if self.said else ""

    def _relay(self, pending: bytes, out: TextIO) -> None:
        """Copy the child's later output to ``out``, each line marked with the part's name."""
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while True:
            while b"\n" in pending:
                raw, pending = pending.split(b"\n", 1)
                print(f"[{self.name}] {raw.decode(errors='replace').rstrip()}", file=out, flush=True)
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            pending = _bounded(pending + chunk)

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=STOP_S)


def part_commands(network: Path, nodes: list[str], extra: dict[str, list[str]] | None = None
                  ) -> list[tuple[str, list[str]]]:
    """(name, argv) of each part, in starting order: the world, the nodes, then ``extra`` (name ->
    qnodeos command line, e.g. the job service)."""
    cli = [sys.executable, "-m", "qnodeos.cli"]
    parts = [("world", [*cli, "world", str(network)])]
    parts += [(f"node {n}", [*cli, "serve", str(network), "--node", n]) for n in nodes]
    parts += [(name, [*cli, *argv]) for name, argv in (extra or {}).items()]
    return parts


class Launcher:
    """Start the parts in order; :meth:`wait` until told to stop or a part ends; :meth:`stop` all."""

    def __init__(self, parts: list[tuple[str, list[str]]], out: TextIO = sys.stderr) -> None:
        self.children = [Child(name, argv) for name, argv in parts]
        self.out = out

    def start(self, on_ready: Callable[[Child], None] | None = None) -> None:
        try:
            for child in self.children:
                child.start(self.out)
                if on_ready is not None:
                    on_ready(child)
        except BaseException:
            self.stop()
            raise

    def wait(self, stop: threading.Event, essential: set[str] | None = None,
             on_lost: Callable[[Child], None] | None = None) -> Child | None:
        """Until ``stop`` is set (returns None) or an ``essential`` child (default: any) ends on its own
        (returns it). Another child that ends is reported once to ``on_lost`` and the wait goes on."""
        lost: set[str] = set()
        while not stop.wait(0.2):
            for child in self.children:
                if child.name in lost or child.process is None or child.process.poll() is None:
                    continue
                if essential is None or child.name in essential:
                    return child
                lost.add(child.name)
                if on_lost is not None:
                    on_lost(child)
        return None

    @property
    def lost(self) -> list[Child]:
        """The children that have ended."""
        return [c for c in self.children if c.process is not None and c.process.poll() is not None]

    def stop(self) -> dict[str, int | None]:
        return {child.name: child.stop() for child in reversed(self.children)}

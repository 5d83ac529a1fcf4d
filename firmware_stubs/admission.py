"""Admit a loopback TCP connection only from named processes.

A lab controller's raw socket has no authentication of its own, and neither has the controller
protocol; the stubs bind the loopback interface only, which keeps other machines out but not other
processes of this one. Where a stub stands in for one node's controller inside a simulated network,
the world knows which process is that node: :class:`ProcessAdmission` lets the serving loop accept a
connection only when the socket at its other end belongs to one of the allowed process ids, found
through Linux's ``/proc`` (the kernel's table of TCP sockets, then the process's open descriptors).
Anything else is refused at accept, before a byte is read.
"""
from __future__ import annotations

import os
import socket
import sys
import threading
from pathlib import Path

PROC_TCP = Path("/proc/net/tcp")


class AdmissionUnavailable(RuntimeError):
    """This system cannot tell which process holds a socket (no Linux ``/proc``)."""


def check_available() -> None:
    """Raise :class:`AdmissionUnavailable` unless peer processes can be identified here."""
    if not PROC_TCP.is_file() or not Path(f"/proc/{os.getpid()}/fd").is_dir():
        raise AdmissionUnavailable("admitting connections by process needs Linux's /proc (/proc/net/tcp and "
                                   "/proc/<pid>/fd)")


class ProcessAdmission:
    """A serving loop's ``admit`` callback: True for a connection from an allowed process."""

    def __init__(self, pids: set[int] | None = None) -> None:
        check_available()
        self._pids = set(pids or ())
        self._lock = threading.Lock()
        self.refused = 0

    def allow(self, pid: int) -> None:
        with self._lock:
            self._pids.add(int(pid))

    def __call__(self, conn: socket.socket) -> bool:
        with self._lock:
            pids = set(self._pids)
        ok = bool(pids) and peer_socket_held_by(conn, pids)
        if not ok:
            self.refused += 1
        return ok


def peer_socket_held_by(conn: socket.socket, pids: set[int]) -> bool:
    """Whether the other end of loopback IPv4 connection ``conn`` is a socket one of ``pids`` holds."""
    try:
        here, there = conn.getsockname(), conn.getpeername()
    except OSError:
        return False
    inode = _socket_inode(local=_endpoint(*there[:2]), remote=_endpoint(*here[:2]))
    if inode is None:
        return False
    target = f"socket:[{inode}]"
    for pid in pids:
        fds = Path(f"/proc/{pid}/fd")
        try:
            names = os.listdir(fds)
        except OSError:  # gone, or not ours to read
            continue
        for name in names:
            try:
                if os.readlink(fds / name) == target:
                    return True
            except OSError:
                continue
    return False


def _endpoint(host: str, port: int) -> str:
    """An IPv4 endpoint as /proc/net/tcp writes it: the address in host byte order, then the port."""
    value = int.from_bytes(socket.inet_aton(host), sys.byteorder)
    return f"{value:08X}:{port:04X}"


def _socket_inode(local: str, remote: str) -> str | None:
    try:
        lines = PROC_TCP.read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 9 and fields[1] == local and fields[2] == remote:
            return fields[9]
    return None

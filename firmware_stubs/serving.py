"""The one serving loop every stub server runs: one thread, one selector, bounded everything.

A :class:`ServingLoop` accepts connections on loopback listeners (or serves a pty's master side),
feeds each link's bytes to its :class:`~.sessions.Session` and writes the replies back without ever
blocking. Its bounds are what keep a stub answering under abuse:

* **connections** — at most ``max_connections`` at once. When full, a newcomer takes the place of the
  oldest connection that has not sent a byte yet (idle sockets opened by the thousand cannot lock a
  real host out); if every connection has spoken, the newcomer is refused. At most ``accept_batch``
  connections are accepted per turn, so a host that connected is read before a flood can evict it.
* **idle time** — a connection that says nothing for ``first_request_timeout_s`` after connecting,
  or nothing for ``idle_timeout_s`` later on, is closed.
* **threads** — one, whatever the number of connections.
* **sending** — replies wait in a per-link buffer; a reader that takes longer than ``send_limit_s``
  to drain it loses the connection (a pty, which cannot hang up, loses the reply).
* **input** — the sessions bound line and frame sizes (see :mod:`.sessions`).

A reply delayed by the ``reply_delay_s`` fault is scheduled, not slept on, so it holds up only its
own link. Every blocking call has a timeout, so :meth:`ServingLoop.stop` always returns.
"""
from __future__ import annotations

import errno
import logging
import os
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from typing import Callable

from .sessions import Output, Session

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

_READ_SIZE = 65536
_MAX_WAIT_S = 0.25
_LINGER_S = 1.0
_LINGER_BYTES = 1 << 20


@dataclass(frozen=True)
class Limits:
    """The serving loop's bounds (see the module docstring)."""

    max_connections: int = 64
    accept_batch: int = 16
    first_request_timeout_s: float = 10.0
    idle_timeout_s: float = 300.0
    send_limit_s: float = 2.0
    max_pending_output: int = 4 << 20


class _Link:
    """One connection (a socket) or the pty master (an fd that cannot hang up)."""

    def __init__(self, handle: socket.socket | int, session: Session, new_session: Callable[[], Session]) -> None:
        self.handle = handle
        self.session = session
        self.new_session = new_session
        self.is_socket = isinstance(handle, socket.socket)
        now = time.monotonic()
        self.opened = now
        self.last_activity = now
        self.spoke = False
        self.out = bytearray()
        self.send_at: float | None = None     # delayed reply: start sending then
        self.send_deadline: float | None = None
        self.close_after_send = False
        self.linger_until: float | None = None  # closing: our last words sent, the peer's input drained
        self.drained = 0

    def fileno(self) -> int:
        return self.handle.fileno() if isinstance(self.handle, socket.socket) else self.handle

    def read(self) -> bytes | None:
        """Bytes available now; b"" at end of stream; None if nothing after all."""
        try:
            if isinstance(self.handle, socket.socket):
                return self.handle.recv(_READ_SIZE)
            return os.read(self.handle, _READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return None

    def write(self) -> None:
        if isinstance(self.handle, socket.socket):
            sent = self.handle.send(self.out)
        else:
            sent = os.write(self.handle, self.out)
        del self.out[:sent]

    def close(self) -> None:
        if isinstance(self.handle, socket.socket):
            try:
                self.handle.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.handle.close()


class ServingLoop:
    """Serve sessions on listeners and channels from one background thread."""

    def __init__(self, name: str, limits: Limits | None = None,
                 admit: Callable[[socket.socket], bool] | None = None) -> None:
        """``admit``: called with each accepted connection; False closes it at once (e.g. a
        :class:`~.admission.ProcessAdmission` that admits only one node's process)."""
        self.name = name
        self.limits = limits or Limits()
        self.admit = admit
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._listeners: dict[socket.socket, Callable[[], Session]] = {}
        self._links: dict[int, _Link] = {}
        self._calls: list[tuple[Callable[[], None], threading.Event]] = []
        self._calls_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Connections accepted so far, and those refused because every place was taken by a
        #: connection that had spoken (tests and the attack script read them).
        self.connections = 0
        self.refused = 0
        self.evicted = 0
        self._open_sockets = 0  # kept by the loop's thread; read from any

    # ---------------------------------------------------------------------------- configuration
    def listen(self, listener: socket.socket, new_session: Callable[[], Session]) -> None:
        """Accept connections on ``listener``, each with its own ``new_session()``."""
        listener.setblocking(False)
        self._listeners[listener] = new_session
        self._sel.register(listener, selectors.EVENT_READ, listener)

    def attach(self, fd: int, new_session: Callable[[], Session]) -> None:
        """Serve a channel that cannot hang up (a pty master): on a 'close' its session restarts."""
        os.set_blocking(fd, False)
        self._add_link(_Link(fd, new_session(), new_session))

    # ---------------------------------------------------------------------------------- control
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"stub-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        for link in list(self._links.values()):
            self._close(link)
        for listener in self._listeners:
            listener.close()
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()

    def call(self, fn: Callable[[], None], timeout_s: float = 5.0) -> None:
        """Run ``fn`` in the loop's thread and wait for it (so callers see its effect at once)."""
        if self._thread is None or not self._thread.is_alive():
            fn()
            return
        done = threading.Event()
        with self._calls_lock:
            self._calls.append((fn, done))
        self._wake()
        if not done.wait(timeout_s):
            raise TimeoutError(f"stub {self.name}: the serving loop did not run a request within {timeout_s} s")

    def drop_connections(self) -> None:
        """Close every open connection now (a cable pulled out)."""
        def close_sockets() -> None:
            for link in list(self._links.values()):
                if link.is_socket:
                    self._close(link)

        self.call(close_sockets)

    @property
    def open_connections(self) -> int:
        """Connections open now."""
        return self._open_sockets

    # -------------------------------------------------------------------------------- the loop
    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                events = self._sel.select(self._wait_s())
            except OSError:  # the selector was closed under us by stop()
                return
            for key, mask in events:
                if self._stop.is_set():
                    return
                if key.data is None:
                    self._run_calls()
                elif isinstance(key.data, socket.socket):
                    self._accept(key.data)
                else:
                    self._serve(key.data, mask)
            self._run_timers()

    def _wait_s(self) -> float:
        now = time.monotonic()
        wait = _MAX_WAIT_S
        for link in self._links.values():
            for t in (link.send_at, link.send_deadline, link.linger_until):
                if t is not None:
                    wait = min(wait, t - now)
        return max(0.0, wait)

    def _run_calls(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        with self._calls_lock:
            calls, self._calls = self._calls, []
        for fn, done in calls:
            try:
                fn()
            finally:
                done.set()

    # -------------------------------------------------------------------------------- accepting
    def _accept(self, listener: socket.socket) -> None:
        for _ in range(self.limits.accept_batch):
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of descriptors, or the listener closed: try again next turn
                log.warning("stub %s: accept failed: %s", self.name, exc)
                return
            if self.admit is not None and not self.admit(conn):
                self.refused += 1
                conn.close()
                continue
            if self.open_connections >= self.limits.max_connections and not self._evict_silent():
                self.refused += 1
                conn.close()
                continue
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connections += 1
            new_session = self._listeners[listener]
            self._add_link(_Link(conn, new_session(), new_session))

    def _evict_silent(self) -> bool:
        """Make room by closing the oldest connection that never sent a byte."""
        silent = [link for link in self._links.values() if link.is_socket and not link.spoke]
        if not silent:
            return False
        self._close(min(silent, key=lambda link: link.opened))
        self.evicted += 1
        return True

    def _add_link(self, link: _Link) -> None:
        self._links[link.fileno()] = link
        self._open_sockets += link.is_socket
        self._sel.register(link.fileno(), selectors.EVENT_READ, link)

    # -------------------------------------------------------------------------------- serving
    def _serve(self, link: _Link, mask: int) -> None:
        try:
            if mask & selectors.EVENT_WRITE:
                self._flush(link)
            elif mask & selectors.EVENT_READ:
                self._receive(link)
        except OSError as exc:
            if exc.errno not in (errno.ECONNRESET, errno.EPIPE, errno.EBADF, errno.EIO):
                log.warning("stub %s: link error: %s", self.name, exc)
            self._hang_up(link)

    def _receive(self, link: _Link) -> None:
        data = link.read()
        if data is None:
            return
        if not data:
            self._hang_up(link)
            return
        if link.linger_until is not None:  # closing: input is read only so that closing does not reset
            link.drained += len(data)       # the connection, and only so much of it
            if link.drained > _LINGER_BYTES:
                self._close(link)
            return
        link.spoke = True
        link.last_activity = time.monotonic()
        try:
            output = link.session.feed(data)
        except Exception:  # noqa: BLE001 - a stub bug costs this link, never the server
            log.exception("stub %s: session failed; closing the link", self.name)
            self._hang_up(link)
            return
        self._queue(link, output)

    def _queue(self, link: _Link, output: Output) -> None:
        link.out += output.data
        link.close_after_send = output.close
        if len(link.out) > self.limits.max_pending_output:
            self._hang_up(link)
            return
        if output.delay_s > 0 and link.out:
            link.send_at = time.monotonic() + output.delay_s
            self._interest(link, 0)  # nothing is read from a link until its delayed reply is out
        else:
            self._start_sending(link)

    def _start_sending(self, link: _Link) -> None:
        link.send_at = None
        if not link.out:
            if link.close_after_send:
                self._linger(link)
            else:
                self._interest(link, selectors.EVENT_READ)
            return
        link.send_deadline = time.monotonic() + self.limits.send_limit_s
        self._flush(link)

    def _flush(self, link: _Link) -> None:
        if link.out:
            try:
                link.write()
            except (BlockingIOError, InterruptedError):
                pass
        if link.out:
            self._interest(link, selectors.EVENT_WRITE)
            return
        link.send_deadline = None
        link.last_activity = time.monotonic()
        if link.close_after_send:
            self._linger(link)
        else:
            self._interest(link, selectors.EVENT_READ)

    def _linger(self, link: _Link) -> None:
        """Close after the last reply: say we are done writing, then drain what the peer still sends
        (for at most ``_LINGER_S`` and ``_LINGER_BYTES``), so closing with unread input does not reset the connection and
        destroy the reply we just sent (an error line, say, refusing an overlong line)."""
        if not isinstance(link.handle, socket.socket) or link.linger_until is not None:
            self._hang_up(link)
            return
        try:
            link.handle.shutdown(socket.SHUT_WR)
        except OSError:
            self._hang_up(link)
            return
        link.linger_until = time.monotonic() + _LINGER_S
        self._interest(link, selectors.EVENT_READ)

    def _interest(self, link: _Link, events: int) -> None:
        """Watch ``link`` for ``events`` (0: not at all, while its delayed reply waits)."""
        fd = link.fileno()
        if fd not in self._links:
            return
        try:
            key = self._sel.get_key(fd)
        except KeyError:
            key = None
        if not events:
            if key is not None:
                self._sel.unregister(fd)
        elif key is None:
            self._sel.register(fd, events, link)
        elif key.events != events:
            self._sel.modify(fd, events, link)

    def _hang_up(self, link: _Link) -> None:
        """Close a connection; a pty cannot hang up, so it forgets its output and half-read input."""
        if link.is_socket:
            self._close(link)
            return
        link.out.clear()
        link.send_at = link.send_deadline = None
        link.close_after_send = False
        link.session = link.new_session()
        self._interest(link, selectors.EVENT_READ)

    def _close(self, link: _Link) -> None:
        fd = link.fileno()
        if self._links.pop(fd, None) is None:
            return
        self._open_sockets -= link.is_socket
        try:
            self._sel.unregister(fd)
        except (KeyError, ValueError, OSError):
            pass
        link.close()

    # -------------------------------------------------------------------------------- timers
    def _run_timers(self) -> None:
        now = time.monotonic()
        for link in list(self._links.values()):
            if link.linger_until is not None:
                if now >= link.linger_until:
                    self._close(link)
            elif link.send_at is not None and now >= link.send_at:
                try:
                    self._start_sending(link)
                except OSError:
                    self._hang_up(link)
            elif link.send_deadline is not None and now >= link.send_deadline:
                log.warning("stub %s: reader too slow, reply dropped", self.name)
                self._hang_up(link)
            elif link.is_socket and not link.out and link.send_at is None:
                quiet = now - link.last_activity
                if quiet > (self.limits.idle_timeout_s if link.spoke else self.limits.first_request_timeout_s):
                    self._close(link)

"""A stub on a link: loopback TCP (text or framed) or a pty (framed), all on one :class:`ServingLoop`.

* :class:`ControllerTCPServer` — the text protocol on 127.0.0.1; pyvisa-py reaches it as
  ``TCPIP::127.0.0.1::<port>::SOCKET``, the resource kind a lab uses for an ADwin/FPGA controller with
  a raw socket interface.
* :class:`SocketControllerServer` — the framed protocol on 127.0.0.1, for pyserial's
  ``socket://127.0.0.1:<port>`` URL (and for dropping the link, which a pty cannot do).
* :class:`PtyControllerServer` — the framed protocol on a pty pair from ``os.openpty()``; pyserial
  opens :attr:`~PtyControllerServer.url` (the slave path) exactly like a USB-serial adapter.

Any :class:`~.stub.FirmwareStub` can be served, qnodeos's :class:`~.controller.Controller` or a driver
author's own command set. Servers bind the loopback interface only.
"""
from __future__ import annotations

import os
import socket
import tty
import threading
from typing import Callable, ClassVar, TypeVar

from .serving import Limits, ServingLoop
from .sessions import FramedSession, TextSession
from .stub import FirmwareStub

_Server = TypeVar("_Server", bound="_StubServer")
_BACKLOG = 1024  # a flood of connects queues in the kernel instead of having its SYNs dropped


class _StubServer:
    """Start/stop plumbing shared by every link kind."""

    def __init__(self, stub: FirmwareStub, name: str, limits: Limits | None,
                 admit: Callable[[socket.socket], bool] | None = None) -> None:
        self.stub = stub
        self.loop = ServingLoop(name, limits, admit)

    @property
    def controller(self) -> FirmwareStub:
        """The stub being served (named for qnodeos's controller, the common case)."""
        return self.stub

    @property
    def connections(self) -> int:
        """Connections accepted so far (tests read it to see a shim reconnect)."""
        return self.loop.connections

    def start(self: _Server) -> _Server:
        self.loop.start()
        return self

    def stop(self) -> None:
        self.loop.stop()

    def __enter__(self: _Server) -> _Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _TCPStubServer(_StubServer):
    """A stub on a loopback TCP port, each connection with its own ``session_class`` session."""

    session_class: ClassVar[type[TextSession] | type[FramedSession]]

    def __init__(self, stub: FirmwareStub, host: str = "127.0.0.1", port: int = 0, *,
                 limits: Limits | None = None, admit: Callable[[socket.socket], bool] | None = None) -> None:
        """``admit``: see :class:`~.serving.ServingLoop` (default: every loopback connection)."""
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"stub servers bind the loopback interface only, not {host!r}")
        listener = socket.create_server((host, port), backlog=_BACKLOG)
        self.host, self.port = listener.getsockname()[:2]
        super().__init__(stub, f"tcp-{self.port}", limits, admit)
        self.loop.listen(listener, lambda: self.session_class(stub))

    def drop_clients(self) -> None:
        """Close every open connection now (a cable pulled out)."""
        self.loop.drop_connections()


class ControllerTCPServer(_TCPStubServer):
    """The text protocol on a loopback TCP port; open :attr:`resource` (a VISA resource) with pyvisa."""

    session_class = TextSession

    @property
    def resource(self) -> str:
        return f"TCPIP::{self.host}::{self.port}::SOCKET"


class SocketControllerServer(_TCPStubServer):
    """The framed protocol on a loopback TCP port; open :attr:`url` (``socket://…``) with pyserial."""

    session_class = FramedSession

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"


class PtyControllerServer(_StubServer):
    """The framed protocol on the master side of a pty; open :attr:`url` with pyserial."""

    def __init__(self, stub: FirmwareStub, *, limits: Limits | None = None) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line discipline: a clean 8-bit link
        self.port = os.ttyname(self._slave)
        super().__init__(stub, "pty", limits)
        self.loop.attach(self._master, lambda: FramedSession(stub))

    @property
    def url(self) -> str:
        return self.port

    def stop(self) -> None:
        super().stop()
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass


#: The link kinds by name, for the command line and the harness.
SERVERS: dict[str, Callable[[FirmwareStub], _StubServer]] = {
    "tcp": ControllerTCPServer, "socket": SocketControllerServer, "pty": PtyControllerServer,
}


def address_of(server: _StubServer) -> str:
    """What a host opens to reach ``server``: a VISA resource or a pyserial URL."""
    return server.resource if isinstance(server, ControllerTCPServer) else server.url  # type: ignore[attr-defined]


def serve_until_interrupted(server: _StubServer, description: str) -> None:
    """Run an already started ``server`` until Ctrl-C (for stubs started by hand), then stop it."""
    print(f"serving {description} on {address_of(server)} (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()

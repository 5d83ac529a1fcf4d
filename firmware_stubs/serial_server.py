"""Serve the controller's framed protocol over a pseudo-terminal or a loopback socket.

* :class:`PtyControllerServer` — a pty pair from ``os.openpty()``; pyserial opens :attr:`port` (the
  slave path) exactly like a USB-serial adapter's ``/dev/ttyUSB0``.
* :class:`SocketControllerServer` — the same bytes over TCP on 127.0.0.1, for pyserial's
  ``socket://127.0.0.1:<port>`` URL (and for dropping the link, which a pty cannot do).

Both only move bytes: :class:`FramedEndpoint` turns them into frames, asks the :class:`Controller`,
and applies the fault knobs (garbage before a reply, corrupted CRC, delay, mute, lost reply).

Manual use (prints the port to give the serial shim)::

    python -m qnodeos.firmware_stubs.serial_server --transport pty --device mock-nv --seed 1
"""
from __future__ import annotations

import argparse
import os
import select
import socket
import threading
import time
import tty
from typing import Callable

from qnodeos.drivers import controller_protocol as proto

from .controller import Controller
from .serve import serve_until_interrupted

_POLL_S = 0.05


class FramedEndpoint:
    """Bytes in, reply bytes out, for one link. ``feed`` returns (bytes to send, keep the link?)."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.decoder = proto.FrameDecoder()

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        faults = self.controller.faults
        out = bytearray()
        for frame in self.decoder.feed(data):
            if frame.reply or faults.mute:
                continue  # our own echo, or a controller that never answers
            reply = self.controller.handle_framed(frame.seq, frame.text)
            if faults.take_drop():
                return bytes(out), False
            if faults.reply_delay_s:
                time.sleep(faults.reply_delay_s)
            out += faults.take_garbage()
            encoded = bytearray(proto.encode_frame(frame.seq, reply, reply=True))
            if faults.take_garble():
                encoded[-1] ^= 0xFF  # the CRC no longer matches: the host must drop it and retry
            out += encoded
        return bytes(out), True


class _ThreadedServer:
    """Start/stop plumbing shared by both transports."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        t = threading.Thread(target=target, args=args, daemon=True, name=type(self).__name__)
        t.start()
        self._threads = [x for x in self._threads if x.is_alive()] + [t]

    def start(self):  # -> Self
        raise NotImplementedError

    def stop(self) -> None:
        self._stop.set()
        for t in list(self._threads):
            t.join(timeout=2.0)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PtyControllerServer(_ThreadedServer):
    """The framed protocol on the master side of a pty; open :attr:`url` with pyserial."""

    def __init__(self, controller: Controller) -> None:
        super().__init__(controller)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line discipline: a clean 8-bit link
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)

    @property
    def url(self) -> str:
        return self.port

    def start(self) -> "PtyControllerServer":
        self._spawn(self._loop)
        return self

    def stop(self) -> None:
        super().stop()
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def _loop(self) -> None:
        endpoint = FramedEndpoint(self.controller)
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], _POLL_S)
            if not ready:
                continue
            try:
                data = os.read(self._master, 65536)
            except BlockingIOError:
                continue
            except OSError:
                return
            out, keep = endpoint.feed(data)
            if out:
                self._write(out)
            if not keep:  # a pty cannot hang up; forget the half-read input instead
                endpoint = FramedEndpoint(self.controller)

    def _write(self, data: bytes, limit_s: float = 2.0) -> None:
        """Write without ever blocking for good: a pty buffers only a few KiB, and a host that
        gave up no longer reads — then the reply is dropped, as a real line would lose it."""
        view = memoryview(data)
        deadline = time.monotonic() + limit_s
        while view and not self._stop.is_set() and time.monotonic() < deadline:
            _, ready, _ = select.select([], [self._master], [], _POLL_S)
            if ready:
                try:
                    view = view[os.write(self._master, view):]
                except BlockingIOError:
                    continue
                except OSError:
                    return


class SocketControllerServer(_ThreadedServer):
    """The framed protocol on 127.0.0.1; open :attr:`url` (``socket://…``) with pyserial."""

    def __init__(self, controller: Controller, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(controller)
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(_POLL_S)
        self.host, self.port = self._listener.getsockname()[:2]
        self.connections = 0

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    def start(self) -> "SocketControllerServer":
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()
        super().stop()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                return
            conn.settimeout(_POLL_S)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connections += 1
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        endpoint = FramedEndpoint(self.controller)
        try:
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except (socket.timeout, TimeoutError):
                    continue
                if not data:
                    return
                out, keep = endpoint.feed(data)
                if out:
                    conn.sendall(out)
                if not keep:
                    return
        except OSError:
            return
        finally:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


def main(argv: list[str] | None = None) -> None:
    from .tcp_server import build_device

    parser = argparse.ArgumentParser(description="Emulated qnodeos controller on a pty or socket:// port")
    parser.add_argument("--transport", choices=("pty", "socket"), default="pty")
    parser.add_argument("--port", type=int, default=0, help="TCP port for --transport socket (0: any free)")
    parser.add_argument("--device", default="mock-nv", help="mock-nv or mock-trapped-ion")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    controller = Controller(build_device(args.device, args.seed))
    server = (PtyControllerServer(controller) if args.transport == "pty"
              else SocketControllerServer(controller, port=args.port)).start()
    serve_until_interrupted(server, f"{args.device} on {server.url}")


if __name__ == "__main__":
    main()

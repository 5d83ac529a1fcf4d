"""Serve the controller's text protocol on a loopback TCP socket, in background threads.

pyvisa-py reaches it as ``TCPIP::127.0.0.1::<port>::SOCKET`` — the same resource kind a lab uses for
an ADwin/FPGA controller with a raw socket interface — so the VISA shim is tested over real I/O.
Binds 127.0.0.1 only; every blocking call has a timeout so :meth:`stop` always returns.

Manual use (serves a mock NV node, or a tiny fake device if the mock is unavailable)::

    python -m qnodeos.firmware_stubs.tcp_server --port 5025 --device mock-nv --seed 1
"""
from __future__ import annotations

import argparse
import socket
import threading
import time

from qnodeos.drivers import controller_protocol as proto

from .controller import Controller
from .faults import garble_text
from .serve import serve_until_interrupted

_POLL_S = 0.05
_SEND_LIMIT_S = 2.0


class ControllerTCPServer:
    """Line-based TCP front end of a :class:`Controller` (one thread per connection)."""

    def __init__(self, controller: Controller, host: str = "127.0.0.1", port: int = 0) -> None:
        self.controller = controller
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(_POLL_S)
        self.host, self.port = self._listener.getsockname()[:2]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        #: Connections accepted so far (tests read it to see a shim reconnect).
        self.connections = 0

    @property
    def resource(self) -> str:
        """The VISA resource string pyvisa-py opens to reach this server."""
        return f"TCPIP::{self.host}::{self.port}::SOCKET"

    def start(self) -> "ControllerTCPServer":
        t = threading.Thread(target=self._accept_loop, name=f"ctl-tcp-{self.port}", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()
        self.drop_clients()
        for t in list(self._threads):
            t.join(timeout=2.0)

    def drop_clients(self) -> None:
        """Close every open connection now (a cable pulled out)."""
        with self._lock:
            clients, self._clients = set(self._clients), set()
        for c in clients:
            _close(c)

    def __enter__(self) -> "ControllerTCPServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------- internals
    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(_POLL_S)
            with self._lock:
                self._clients.add(conn)
                self.connections += 1
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True, name=f"ctl-conn-{self.port}")
            t.start()
            self._threads = [x for x in self._threads if x.is_alive()] + [t]

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        try:
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except (socket.timeout, TimeoutError):
                    continue
                if not data:
                    return
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not self._answer(conn, line.decode("utf-8", errors="replace").rstrip("\r")):
                        return
        except OSError:
            return
        finally:
            with self._lock:
                self._clients.discard(conn)
            _close(conn)

    def _answer(self, conn: socket.socket, line: str) -> bool:
        """Run one program message (``;``-separated commands) and send the replies of its queries
        as one line, with the faults applied; False closes the link."""
        faults = self.controller.faults
        if faults.mute:
            return True
        replies: list[str] = []
        for command in proto.split_program(line):
            reply = self.controller.handle(command)
            if faults.take_drop():
                return False
            if reply is not None:
                replies.append(reply)
        if not replies:
            return True
        if faults.reply_delay_s:
            time.sleep(faults.reply_delay_s)
        text = proto.join_program(replies)
        if faults.take_garble():
            text = garble_text(text)
        conn.settimeout(_SEND_LIMIT_S)  # a slow reader gets time; a vanished one loses the reply
        try:
            conn.sendall(text.encode("utf-8") + b"\n")
        finally:
            conn.settimeout(_POLL_S)
        return True


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def build_device(name: str, seed: int):  # -> QDevice
    """The device behind a manually started stub: a registered mock driver by name."""
    from qnodeos.drivers import mock_ion_plugin, mock_nv_plugin

    factories = {"mock-nv": mock_nv_plugin.create, "mock-trapped-ion": mock_ion_plugin.create}
    if name not in factories:
        raise SystemExit(f"unknown device {name!r}; choose from {sorted(factories)}")
    return factories[name](seed=seed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Emulated qnodeos controller on a loopback TCP socket")
    parser.add_argument("--port", type=int, default=5025)
    parser.add_argument("--device", default="mock-nv", help="mock-nv or mock-trapped-ion")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    server = ControllerTCPServer(Controller(build_device(args.device, args.seed)), port=args.port).start()
    serve_until_interrupted(server, f"{args.device} on {server.resource}")


if __name__ == "__main__":
    main()

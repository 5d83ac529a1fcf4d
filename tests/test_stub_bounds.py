"""Firmware stubs and the frame decoder cannot be starved (issue 10, item 8): a line without end is
refused, idle connections are capped and timed out without a thread each, and crafted partial frame
headers cost linear work in the decoder the serial shim also uses."""
from __future__ import annotations

import select
import socket
import sys
import threading
import time

import pytest

from qnodeos.drivers.controller_shim import VisaControllerDevice
from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.drivers.protocol import framing
from qnodeos.firmware_stubs.controller import Controller
from qnodeos.firmware_stubs.serving import Limits
from qnodeos.firmware_stubs.servers import ControllerTCPServer, SocketControllerServer
from qnodeos.hal import Init


def controller() -> Controller:
    return Controller(MockNVDevice.from_config(seed=1, preset="ideal"))


def read_until_closed(sock: socket.socket, limit_s: float = 5.0) -> bytes:
    """Everything the server sends until it hangs up (bounded: fails after ``limit_s``)."""
    sock.settimeout(limit_s)
    data = bytearray()
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return bytes(data)
        if not chunk:
            return bytes(data)
        data += chunk
    pytest.fail(f"the server did not hang up within {limit_s} s; got {bytes(data[:200])!r}")


def test_a_line_without_end_is_refused_and_the_link_closed():
    with ControllerTCPServer(controller()) as server:
        with socket.create_connection((server.host, server.port)) as sock:
            limit = server.stub.max_line_bytes
            budget = 64 * limit  # the server must hang up long before (kernel buffers hold a few MiB)
            sent = 0
            try:
                while sent < budget and not select.select([sock], [], [], 0)[0]:  # until the server speaks
                    sock.sendall(b"A" * 65536)
                    sent += 65536
            except (BrokenPipeError, ConnectionResetError):
                pass
            reply = read_until_closed(sock)
        assert reply.startswith(b'ERR -223,"line longer than 1048576 bytes') and reply.endswith(b"\n")
        assert limit < sent < budget
        with VisaControllerDevice(server.resource, timeout=2.0) as shim:  # and the stub still serves
            assert shim.execute(Init(0)).ok


def ask_line(host: str, port: int, line: bytes, limit_s: float = 2.0) -> bytes:
    """A fresh connection's answer to one line (pyvisa-py cannot be used here: it select()s on its
    socket, and with thousands of sockets open the descriptor is out of select's range)."""
    with socket.create_connection((host, port), timeout=limit_s) as sock:
        sock.sendall(line)
        reply = bytearray()
        while not reply.endswith(b"\n"):
            chunk = sock.recv(4096)
            assert chunk, f"hung up without answering {line!r}"
            reply += chunk
        return bytes(reply)


def test_idle_connections_neither_starve_a_host_nor_cost_a_thread_each():
    with ControllerTCPServer(controller()) as server:
        with VisaControllerDevice(server.resource, timeout=2.0) as shim:  # a host already at work
            threads_before = threading.active_count()
            idle: list[socket.socket] = []
            try:
                for _ in range(3000):
                    idle.append(socket.create_connection((server.host, server.port), timeout=2.0))
                assert threading.active_count() == threads_before
                assert ask_line(server.host, server.port, b"*IDN?\n").startswith(b"QNODEOS,QCTRL-EMU")
                assert shim.execute(Init(0)).ok
                assert server.loop.open_connections <= server.loop.limits.max_connections
                assert server.loop.evicted >= 3000 - server.loop.limits.max_connections
            finally:
                for sock in idle:
                    sock.close()


def test_silent_and_idle_connections_are_closed_after_their_timeouts():
    limits = Limits(first_request_timeout_s=0.2, idle_timeout_s=0.4)
    with SocketControllerServer(controller(), limits=limits) as server:
        with socket.create_connection((server.host, server.port)) as silent:
            t0 = time.monotonic()
            assert read_until_closed(silent) == b""
            assert 0.15 < time.monotonic() - t0 < 3.0
        with socket.create_connection((server.host, server.port)) as quiet:
            quiet.sendall(framing.encode_frame(1, "*IDN?"))
            (reply,) = framing.FrameDecoder().feed(read_until_closed(quiet))
            assert reply.text.startswith("QNODEOS,QCTRL-EMU") and reply.reply


def test_a_full_stub_refuses_newcomers_only_when_every_connection_has_spoken():
    limits = Limits(max_connections=2)
    with ControllerTCPServer(controller(), limits=limits) as server:
        shims = [VisaControllerDevice(server.resource, timeout=2.0) for _ in range(2)]
        try:
            with socket.create_connection((server.host, server.port)) as third:
                assert read_until_closed(third) == b""  # refused: both places are held by hosts that spoke
            assert server.loop.refused == 1 and all(s.execute(Init(0)).ok for s in shims)
        finally:
            for shim in shims:
                shim.close()


class _CountingCRC:
    """Stands in for ``binascii`` in the framing module: counts checksum work and stops the test as
    soon as it exceeds ``budget`` bytes (so quadratic code fails fast instead of running for minutes)."""

    def __init__(self, real, budget: int) -> None:
        self.real = real
        self.budget = budget
        self.bytes = 0

    def _spend(self, n: int) -> None:
        self.bytes += n
        if self.bytes > self.budget:
            raise AssertionError(f"checksummed {self.bytes} bytes, more than the linear budget {self.budget}")

    def crc_hqx(self, data, value):
        self._spend(len(data))
        return self.real.crc_hqx(data, value)

    def crc32(self, data, value=0):
        self._spend(len(data))
        return self.real.crc32(data, value)


@pytest.mark.parametrize("claimed", [framing.MAX_PAYLOAD, 40], ids=["never-ending", "short-bad-crc"])
def test_crafted_partial_frame_headers_cost_linear_work(monkeypatch, claimed):
    """2 MiB of valid headers whose bodies never come (or come wrong), fed as a serial port delivers
    them: every byte is checksummed a bounded number of times, and a real frame still gets through."""
    header = framing.encode_frame(7, b"x" * claimed)[:framing.HEADER_SIZE]
    unit = header + b"\x00" * (0 if claimed == framing.MAX_PAYLOAD else claimed)
    stream = unit * ((2 << 20) // len(unit))
    good = framing.encode_frame(9, "*IDN?")
    budget = (framing.OPEN_CANDIDATES + 1) * (len(stream) + len(good))
    counting = _CountingCRC(framing.binascii, budget)
    monkeypatch.setattr(framing, "binascii", counting)
    decoder = framing.FrameDecoder()
    frames = []
    for i in range(0, len(stream), 4096):
        frames += decoder.feed(stream[i:i + 4096])
    frames += decoder.feed(good)
    assert frames == [framing.Frame(9, b"*IDN?")]
    assert decoder.pending <= framing.HEADER_SIZE + framing.MAX_PAYLOAD + framing.TRAILER_SIZE + 4096


def _attack_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "attack.py"
    spec = importlib.util.spec_from_file_location("qnodeos_attack_script", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def test_attack_script_targets_loopback_only_and_reports_refusals(capsys):
    attack = _attack_script()
    with pytest.raises(SystemExit, match="loopback addresses only"):
        attack.Target(host="10.1.2.3", text_port=5025)
    assert attack.main(["--only", "stub-partial-headers", "--only", "stub-long-line", "--seconds", "10"]) == 0
    out = capsys.readouterr().out
    assert out.count("REFUSED ") == 2 and "NOT REFUSED" not in out


def test_attack_script_replays_the_world_and_link_attacks(capsys):
    """Issue 10 items 1, 2 and 7 against a world process and keyed mailboxes the script starts itself."""
    attack = _attack_script()
    names = ["world-unkeyed", "world-malformed", "link-name-spoof", "link-oversized"]
    argv = [arg for name in names for arg in ("--only", name)]
    assert attack.main([*argv, "--seconds", "10", "--mib", "32"]) == 0
    out = capsys.readouterr().out
    assert out.count("REFUSED ") == 4 and "NOT REFUSED" not in out and "SKIPPED" not in out, out

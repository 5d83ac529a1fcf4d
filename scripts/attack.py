"""Replay known attacks against a running qnodeos endpoint on loopback and report each as refused or not.

    python scripts/attack.py                      # starts its own firmware stubs, runs every attack
    python scripts/attack.py --only stub-idle-flood --seconds 20
    python scripts/attack.py --text-port 5025 --framed-port 5026   # against stubs you started
                                                  # (python -m qnodeos.firmware_stubs --link tcp ...)

Every attack is bounded in time (``--seconds`` each) and in count, and talks to loopback addresses only
(anything else is refused before a packet is sent). An attack is *refused* when the endpoint stays
healthy — it still answers a normal request promptly — and, where it should, cuts the attacker off.
Exit code 0 when every attack was refused.

Attacks are plain functions ``attack(target, budget) -> Result`` registered in :data:`ATTACKS` with
:func:`attack`; add new kinds (the device server, node links …) the same way.
"""
from __future__ import annotations

import argparse
import ipaddress
import select
import socket
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Callable

from qnodeos.drivers.protocol import framing


@dataclass(frozen=True)
class Target:
    """Where the endpoints under attack listen (loopback only)."""

    host: str = "127.0.0.1"
    text_port: int | None = None      # a stub's text protocol (the VISA shim's)
    framed_port: int | None = None    # a stub's framed protocol on socket:// (the serial shim's)

    def __post_init__(self) -> None:
        if not ipaddress.ip_address(socket.gethostbyname(self.host)).is_loopback:
            raise SystemExit(f"attack.py attacks loopback addresses only, not {self.host!r}")


@dataclass(frozen=True)
class Budget:
    """How long one attack may take, and how much it may send or open."""

    seconds: float = 30.0
    connections: int = 3000
    bytes: int = 200 << 20


@dataclass
class Result:
    name: str
    refused: bool
    detail: str
    seconds: float = 0.0
    numbers: dict[str, float] = field(default_factory=dict)


Attack = Callable[[Target, Budget], Result]
ATTACKS: dict[str, tuple[str, Attack]] = {}


def attack(name: str, what: str) -> Callable[[Attack], Attack]:
    """Register an attack under ``name`` with a one-line description."""

    def register(fn: Attack) -> Attack:
        ATTACKS[name] = (what, fn)
        return fn

    return register


# -------------------------------------------------------------------------------------- probes
def text_idn(target: Target, limit_s: float = 2.0) -> str | None:
    """A fresh connection's answer to ``*IDN?`` on the text port, or None."""
    try:
        with socket.create_connection((target.host, target.text_port), timeout=limit_s) as sock:
            sock.sendall(b"*IDN?\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    return None
                reply += chunk
            return reply.decode(errors="replace").strip()
    except OSError:
        return None


def framed_idn(target: Target, limit_s: float = 2.0) -> str | None:
    """A fresh connection's answer to a framed ``*IDN?`` on the framed port, or None."""
    try:
        with socket.create_connection((target.host, target.framed_port), timeout=limit_s) as sock:
            sock.sendall(framing.encode_frame(1, "*IDN?"))
            decoder = framing.FrameDecoder()
            deadline = time.monotonic() + limit_s
            while time.monotonic() < deadline:
                chunk = sock.recv(4096)
                if not chunk:
                    return None
                for frame in decoder.feed(chunk):
                    if frame.reply and frame.seq == 1:
                        return frame.text
    except OSError:
        return None
    return None


def _read_until_closed(sock: socket.socket, limit_s: float) -> tuple[bytes, bool]:
    """What the endpoint still sends, and whether it hung up within ``limit_s``."""
    data = bytearray()
    deadline = time.monotonic() + limit_s
    sock.settimeout(limit_s)
    try:
        while time.monotonic() < deadline and len(data) < (1 << 20):
            chunk = sock.recv(65536)
            if not chunk:
                return bytes(data), True
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        return bytes(data), True
    except OSError:
        pass
    return bytes(data), False


def _healthy(probe: Callable[[Target], str | None], target: Target) -> tuple[bool, float]:
    t0 = time.monotonic()
    answer = probe(target)
    return answer is not None and not answer.startswith("ERR"), time.monotonic() - t0


# ------------------------------------------------------------------------------------- attacks
@attack("stub-long-line", "text stub: up to 200 MiB without a newline")
def long_line(target: Target, budget: Budget) -> Result:
    start, sent, reply = time.monotonic(), 0, b""
    chunk = b"A" * (1 << 16)
    with socket.create_connection((target.host, target.text_port), timeout=2.0) as sock:
        try:
            while sent < budget.bytes and time.monotonic() - start < budget.seconds:
                if select.select([sock], [], [], 0)[0]:
                    break  # the endpoint answered (or hung up)
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # cut off: what we want
        reply, closed = _read_until_closed(sock, limit_s=2.0)
    healthy, probe_s = _healthy(text_idn, target)
    cut_off = sent < budget.bytes and reply.startswith(b"ERR -223") and closed
    return Result("stub-long-line", cut_off and healthy,
                  f"cut off after {sent / 2**20:.1f} MiB with {reply[:60]!r} and {'' if closed else 'NOT '}hung up; "
                  f"*IDN? afterwards "
                  f"{'answered' if healthy else 'NOT answered'} in {probe_s * 1e3:.0f} ms",
                  time.monotonic() - start, {"mib_sent": sent / 2**20})


@attack("stub-idle-flood", "text stub: 3,000 idle connections, then a normal *IDN?")
def idle_flood(target: Target, budget: Budget) -> Result:
    start = time.monotonic()
    opened, failed = [], 0
    try:
        while len(opened) + failed < budget.connections and time.monotonic() - start < budget.seconds:
            try:
                opened.append(socket.create_connection((target.host, target.text_port), timeout=1.0))
            except OSError:
                failed += 1
        healthy, probe_s = _healthy(text_idn, target)
        alive = sum(_still_open(s) for s in opened)
    finally:
        for s in opened:
            s.close()
    refused = healthy and probe_s < 2.0
    return Result("stub-idle-flood", refused,
                  f"{len(opened)} connections opened ({failed} failed), {alive} still open at the end; *IDN? "
                  f"{'answered' if healthy else 'NOT answered'} in {probe_s * 1e3:.0f} ms",
                  time.monotonic() - start, {"opened": len(opened), "still_open": alive})


def _still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


@attack("stub-partial-headers", "framed stub: 2 MiB of valid frame headers whose bodies never come")
def partial_headers(target: Target, budget: Budget) -> Result:
    start = time.monotonic()
    header = framing.encode_frame(7, b"x" * framing.MAX_PAYLOAD)[:framing.HEADER_SIZE]
    stream = header * ((2 << 20) // len(header))
    with socket.create_connection((target.host, target.framed_port), timeout=2.0) as sock:
        try:
            for i in range(0, len(stream), 4096):
                sock.sendall(stream[i:i + 4096])
                if time.monotonic() - start > budget.seconds:
                    break
            sock.sendall(framing.encode_frame(2, "*IDN?"))  # on the same, poisoned, connection
            decoder, answered = framing.FrameDecoder(), False
            while not answered and time.monotonic() - start < budget.seconds:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answered = any(f.seq == 2 and f.reply for f in decoder.feed(chunk))
        except OSError:
            answered = False
    took = time.monotonic() - start
    healthy, _ = _healthy(framed_idn, target)
    return Result("stub-partial-headers", answered and healthy,
                  f"the *IDN? behind 2 MiB of crafted headers {'answered' if answered else 'NOT answered'} "
                  f"after {took:.2f} s; a fresh connection {'answered' if healthy else 'NOT answered'}", took)


# ----------------------------------------------------------------------------------------- main
def _own_stubs(stack: ExitStack) -> Target:
    """Start a text and a framed stub in this process, backed by a mock NV device."""
    from qnodeos.drivers.mock_nv import MockNVDevice
    from qnodeos.firmware_stubs.controller import Controller
    from qnodeos.firmware_stubs.servers import ControllerTCPServer, SocketControllerServer

    text = stack.enter_context(ControllerTCPServer(Controller(MockNVDevice.from_config(seed=1))))
    framed = stack.enter_context(SocketControllerServer(Controller(MockNVDevice.from_config(seed=2))))
    return Target(text_port=text.port, framed_port=framed.port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(ATTACKS), help="run only these attacks")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address of the endpoints")
    parser.add_argument("--text-port", type=int, help="a running stub's text port (default: start one)")
    parser.add_argument("--framed-port", type=int, help="a running stub's framed port (default: start one)")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit of each attack")
    args = parser.parse_args(argv)
    budget = Budget(seconds=args.seconds)
    with ExitStack() as stack:
        if args.text_port is None and args.framed_port is None:
            target = _own_stubs(stack)
        else:
            target = Target(args.host, args.text_port, args.framed_port)
        results = []
        for name in args.only or sorted(ATTACKS):
            what, fn = ATTACKS[name]
            needs = "framed_port" if "framed" in what else "text_port"
            if getattr(target, needs) is None:
                print(f"SKIPPED      {name}: no {needs.replace('_', ' ')} given")
                continue
            result = fn(target, budget)
            results.append(result)
            print(f"{'REFUSED' if result.refused else 'NOT REFUSED':<12} {name}: {what} — {result.detail} "
                  f"({result.seconds:.1f} s)", flush=True)
    return 0 if results and all(r.refused for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Replay known attacks against running qnodeos endpoints on loopback and report each as refused or not.

    python scripts/attack.py                      # starts its own endpoints, runs every attack
    python scripts/attack.py --only stub-idle-flood --seconds 20
    python scripts/attack.py --text-port 5025 --framed-port 5026   # against stubs you started
                                                  # (python -m qnodeos.firmware_stubs --link tcp ...)

The endpoints (issue 10): firmware stubs (item 8); the world process of a processes-mode network, with
its per-node device, timeline and control sockets (items 1 and 2), started exactly as ``qnodeos run``
starts it; and keyed node mailboxes (item 7). Every attack is bounded in time (``--seconds`` each) and
in count or bytes (``--mib``), and talks to loopback addresses only (anything else is refused before a
packet is sent). An attack is *refused* when the endpoint stays healthy — it still answers a normal
request promptly — and, where it should, cuts the attacker off. Exit code 0 when every attack was refused.

Attacks are plain functions ``attack(target, budget) -> Result`` registered in :data:`ATTACKS` with
:func:`attack`, naming the endpoint they need; add new kinds the same way.
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
from typing import Any, Callable

from qnodeos.drivers.protocol import framing


@dataclass(frozen=True)
class Target:
    """Where the endpoints under attack listen (loopback only)."""

    host: str = "127.0.0.1"
    text_port: int | None = None      # a stub's text protocol (the VISA shim's)
    framed_port: int | None = None    # a stub's framed protocol on socket:// (the serial shim's)
    world: Any = None                 # a running WorldProcess (its sockets and its nodes' keys)
    links: bool = False               # whether to start keyed node mailboxes to attack

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
#: name -> (one-line description, the Target field it needs, the attack)
ATTACKS: dict[str, tuple[str, str, Attack]] = {}


def attack(name: str, what: str, needs: str) -> Callable[[Attack], Attack]:
    """Register an attack under ``name`` with a one-line description and the endpoint it needs
    (a :class:`Target` field: text_port, framed_port, world or links)."""

    def register(fn: Attack) -> Attack:
        ATTACKS[name] = (what, needs, fn)
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
@attack("stub-long-line", "text stub: up to 200 MiB without a newline", needs="text_port")
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


@attack("stub-idle-flood", "text stub: 3,000 idle connections, then a normal *IDN?", needs="text_port")
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


@attack("stub-partial-headers", "framed stub: 2 MiB of valid frame headers whose bodies never come",
        needs="framed_port")
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


# ------------------------------------------------------------------- the world process (items 1, 2)
def _world_exchange(address: str, frames: list[bytes], keys: Any, limit_s: float = 3.0) -> tuple[str, Any]:
    """One request to a world socket: ("reply", map), ("refused", None) at the CURVE handshake, or
    ("silent", None) when nothing came back within ``limit_s``."""
    import msgpack
    import zmq
    from zmq.utils.monitor import recv_monitor_message

    from qnodeos.drivers.world_auth import secure_client

    failed = (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
              | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    secure_client(sock, keys)
    monitor = sock.get_monitor_socket()
    try:
        sock.connect(address)
        sock.send_multipart(frames)
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        end = time.monotonic() + limit_s
        while time.monotonic() < end:
            ready = dict(poller.poll(50))
            if sock in ready:
                try:
                    return "reply", msgpack.unpackb(sock.recv(), raw=False)
                except ValueError:
                    return "reply", {"error": "undecodable reply"}
            if monitor in ready and recv_monitor_message(monitor)["event"] & failed:
                return "refused", None
        return "silent", None
    finally:
        sock.disable_monitor()
        monitor.close(0)
        sock.close(0)


def _world_healthy(world: Any, node: str = "alice") -> tuple[bool, float]:
    import msgpack

    t0 = time.monotonic()
    outcome, reply = _world_exchange(world.addresses[node]["device"], [msgpack.packb({"op": "capabilities"})],
                                     world.client_keys[node])
    return outcome == "reply" and reply.get("node") == node, time.monotonic() - t0


@attack("world-unkeyed", "world process: no key, a stranger's key and bob's key against alice's device, "
        "timeline and control sockets (read a state, flip a qubit, take alice's turn, make her leave)", needs="world")
def world_unkeyed(target: Target, budget: Budget) -> Result:
    import math

    import msgpack
    import zmq

    from qnodeos.drivers.world_auth import ClientKeys
    from qnodeos.hal import Axis, Rotate
    from qnodeos.hal.instructions import to_dict

    start, world = time.monotonic(), target.world
    public, secret = (k.decode() for k in zmq.curve_keypair())
    attackers = {"no key": None, "a stranger's key": ClientKeys(world.client_keys["alice"].server_public, public, secret),
                 "bob's key": world.client_keys["bob"]}
    requests = {"device": [{"op": "density_matrix", "q": [0]}, {"op": "execute", "i": to_dict(Rotate(0, Axis.X, math.pi))}],
                "sync": [{"op": "sync", "node": "alice", "report": {"qnpu": None, "host": None, "sent": [], "attempts": []}}],
                "control": [{"op": "leave", "node": "alice"}]}
    outcomes: dict[str, int] = {}
    for keys in attackers.values():
        for role, reqs in requests.items():
            for req in reqs:
                if time.monotonic() - start > budget.seconds:
                    break
                outcome, _ = _world_exchange(world.addresses["alice"][role], [msgpack.packb(req)], keys)
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    healthy, probe_s = _world_healthy(world)
    tried = sum(outcomes.values())
    refused = outcomes.get("refused", 0) == tried == 12 and healthy
    return Result("world-unkeyed", refused,
                  f"{outcomes.get('refused', 0)} of {tried} requests refused at the handshake "
                  f"({outcomes.get('reply', 0)} answered); alice's own key "
                  f"{'served' if healthy else 'NOT served'} in {probe_s * 1e3:.0f} ms",
                  time.monotonic() - start, {"tried": tried, "answered": outcomes.get("reply", 0)})


def _malformed_requests() -> dict[str, list[bytes]]:
    import msgpack

    return {"multipart": [msgpack.packb({"op": "now"}), b"more"], "not msgpack": [b"\xc1\xc1"],
            "trailing bytes": [msgpack.packb({"op": "now"}) + b"junk"], "a list": [msgpack.packb([1, 2])],
            "no op": [msgpack.packb({})], "unknown op": [msgpack.packb({"op": "self_destruct"})],
            "bad instruction": [msgpack.packb({"op": "execute", "i": "X on everything"})],
            "bad qubit": [msgpack.packb({"op": "density_matrix", "q": [10**6]})],
            "deeply nested": [b"\x91" * 100_000 + b"\xc0"], "empty": [b""]}


@attack("world-malformed", "world process: malformed requests (multipart, not msgpack, not a map, unknown op, "
        "bad fields, deep nesting) from a keyed node, on all three sockets, then 8 MiB in one frame", needs="world")
def world_malformed(target: Target, budget: Budget) -> Result:
    start, world = time.monotonic(), target.world
    keys, sent, errors, other = world.client_keys["alice"], 0, 0, []
    rounds = 0
    while time.monotonic() - start < min(budget.seconds, 10.0) and rounds < 10:
        rounds += 1
        for role in ("device", "sync", "control"):
            for name, frames in _malformed_requests().items():
                outcome, reply = _world_exchange(world.addresses["alice"][role], frames, keys)
                sent += 1
                if outcome == "reply" and set(reply) == {"error"}:
                    errors += 1
                else:
                    other.append(f"{role}/{name}: {outcome}")
    oversized, _ = _world_exchange(world.addresses["alice"]["device"], [b"\0" * (8 << 20)], keys, limit_s=1.0)
    healthy, probe_s = _world_healthy(world)
    refused = errors == sent and not other and oversized == "silent" and healthy
    return Result("world-malformed", refused,
                  f"{errors} of {sent} malformed requests answered with an error ({', '.join(other[:3]) or 'all'}); "
                  f"the 8 MiB frame {'cut off' if oversized == 'silent' else 'NOT cut off: ' + oversized}; a normal "
                  f"request {'served' if healthy else 'NOT served'} in {probe_s * 1e3:.0f} ms afterwards",
                  time.monotonic() - start, {"sent": sent, "errors": errors})


# -------------------------------------------------------------------------- node links (item 7)
@attack("link-name-spoof", "node link: a peer holding bob's valid key sends as carol", needs="links")
def link_name_spoof(target: Target, budget: Budget) -> Result:
    from qnodeos.network.keys import NodeKeys, network_keys
    from qnodeos.network.mailbox import Mailbox

    start = time.monotonic()
    keys = network_keys(["alice", "bob", "carol"])
    alice = Mailbox("alice", keys=keys["alice"])
    got: list[str] = []
    alice.on("egp", lambda sender, msg: got.append(sender))
    alice.start()
    bob_key = keys["bob"]
    impostor = Mailbox("carol", keys=NodeKeys(bob_key.public, bob_key.secret, {"alice": keys["alice"].public}))
    bob = Mailbox("bob", keys=bob_key)
    tries = 0
    try:
        impostor.connect("alice", alice.address)
        while tries < 100 and time.monotonic() - start < budget.seconds:
            impostor.send("alice", "egp", what="abort", rid=["carol", tries], reason="spoofed")
            tries += 1
        while alice.dropped < tries and time.monotonic() - start < budget.seconds:
            time.sleep(0.01)
        bob.connect("alice", alice.address)
        bob.send("alice", "egp", what="hello")
        while "bob" not in got and time.monotonic() - start < budget.seconds:
            time.sleep(0.01)
    finally:
        for box in (impostor, bob, alice):
            box.close()
    refused = "carol" not in got and alice.dropped == tries and got == ["bob"]
    return Result("link-name-spoof", refused,
                  f"{tries} messages claiming carol: {alice.dropped} dropped, {got.count('carol')} delivered as carol; "
                  f"bob's own message {'delivered as bob' if 'bob' in got else 'NOT delivered'}",
                  time.monotonic() - start, {"sent": tries, "dropped": alice.dropped})


def _receiver(keys: Any, conn: Any) -> None:
    from qnodeos.network.mailbox import Mailbox

    box = Mailbox("alice", keys=keys)
    got: list[str] = []
    box.on("probe", lambda sender, msg: got.append(sender))
    box.start()
    conn.send(box.address)
    while conn.recv() == "report":
        conn.send(list(got))
    box.close()


def _peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


@attack("link-oversized", "node link: one frame of --mib MiB (default 200) from a peer with a valid key",
        needs="links")
def link_oversized(target: Target, budget: Budget) -> Result:
    import multiprocessing

    import zmq
    from zmq.utils.monitor import recv_monitor_message

    from qnodeos.network.keys import network_keys
    from qnodeos.network.mailbox import Mailbox

    start = time.monotonic()
    keys = network_keys(["alice", "bob"])
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_receiver, args=(keys["alice"], child), daemon=True)
    proc.start()
    cut_off, heard, grown = False, False, float("nan")
    try:
        if not parent.poll(budget.seconds):
            return Result("link-oversized", False, "the receiving mailbox did not start", time.monotonic() - start)
        address = parent.recv()
        before = _peak_rss_mib(proc.pid)
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt_string(zmq.IDENTITY, "bob")
        sock.curve_serverkey = keys["alice"].public.encode()
        sock.curve_publickey = keys["bob"].public.encode()
        sock.curve_secretkey = keys["bob"].secret.encode()
        monitor = sock.get_monitor_socket()
        sock.connect(address)
        sock.send(b"\0" * budget.bytes, copy=False)
        while not cut_off and time.monotonic() - start < budget.seconds:
            if monitor.poll(50):
                cut_off = recv_monitor_message(monitor)["event"] == zmq.EVENT_DISCONNECTED
        sock.disable_monitor()
        monitor.close(0)
        sock.close(0)
        grown = _peak_rss_mib(proc.pid) - before
        bob = Mailbox("bob", keys=keys["bob"])
        bob.connect("alice", address)
        bob.send("alice", "probe")
        while not heard and time.monotonic() - start < budget.seconds:
            parent.send("report")
            heard = parent.poll(2) and parent.recv() == ["bob"]
        bob.close()
    finally:
        try:
            parent.send("stop")
        except OSError:
            pass
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
    cap = Mailbox.MAX_MESSAGE_BYTES / 2**20
    refused = cut_off and grown < cap and heard
    return Result("link-oversized", refused,
                  f"{budget.bytes / 2**20:.0f} MiB frame {'cut off' if cut_off else 'NOT cut off'} "
                  f"(cap {cap:.0f} MiB); the receiver's peak memory grew by {grown:.1f} MiB; bob "
                  f"{'heard' if heard else 'NOT heard'} afterwards",
                  time.monotonic() - start, {"peak_growth_mib": grown})


# ----------------------------------------------------------------------------------------- main
def _own_stubs(stack: ExitStack) -> tuple[int, int]:
    """Start a text and a framed stub in this process, backed by a mock NV device."""
    from qnodeos.drivers.mock_nv import MockNVDevice
    from qnodeos.firmware_stubs.controller import Controller
    from qnodeos.firmware_stubs.servers import ControllerTCPServer, SocketControllerServer

    text = stack.enter_context(ControllerTCPServer(Controller(MockNVDevice.from_config(seed=1))))
    framed = stack.enter_context(SocketControllerServer(Controller(MockNVDevice.from_config(seed=2))))
    return text.port, framed.port


def _own_world(stack: ExitStack) -> Any:
    """A processes-mode world (alice, bob) forked from this process, as ``qnodeos run`` starts it."""
    from qnodeos.apps.world_process import WorldProcess

    world = WorldProcess("nv", ["alice", "bob"], seed=1, preset="ideal").start(deadline=time.monotonic() + 60)
    stack.callback(world.stop)
    return world


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(ATTACKS), help="run only these attacks")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address of the endpoints")
    parser.add_argument("--text-port", type=int, help="a running stub's text port (default: start one)")
    parser.add_argument("--framed-port", type=int, help="a running stub's framed port (default: start one)")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit of each attack")
    parser.add_argument("--mib", type=int, default=200, help="bytes an attack may send in one go, MiB")
    args = parser.parse_args(argv)
    budget = Budget(seconds=args.seconds, bytes=args.mib << 20)
    names = args.only or sorted(ATTACKS)
    needs = {ATTACKS[name][1] for name in names}
    with ExitStack() as stack:
        text_port, framed_port = args.text_port, args.framed_port
        if text_port is None and framed_port is None and needs & {"text_port", "framed_port"}:
            text_port, framed_port = _own_stubs(stack)
        world = _own_world(stack) if "world" in needs else None
        target = Target(args.host, text_port, framed_port, world=world, links="links" in needs)
        results = []
        for name in names:
            what, need, fn = ATTACKS[name]
            if not getattr(target, need):
                print(f"SKIPPED      {name}: no {need.replace('_', ' ')} given")
                continue
            result = fn(target, budget)
            results.append(result)
            print(f"{'REFUSED' if result.refused else 'NOT REFUSED':<12} {name}: {what} — {result.detail} "
                  f"({result.seconds:.1f} s)", flush=True)
    return 0 if results and all(r.refused for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

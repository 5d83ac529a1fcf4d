"""The world process of processes mode (issue 10 items 1 and 2): its device, timeline and control
sockets admit only their own node's per-run CURVE key — an unkeyed local client, a stranger's key or
another node's key cannot read a qubit's state, apply a gate or touch the timeline — and its serving
loops answer every malformed request with an error and go on serving.

The world here is started exactly as ``run_app_dir(mode="processes")`` starts it
(:class:`qnodeos.apps.world_process.WorldProcess`: forked, per-run keys, loopback)."""
from __future__ import annotations

import math
import time

import msgpack
import numpy as np
import pytest
import zmq
from zmq.utils.monitor import recv_monitor_message

from qnodeos.apps.world_process import WorldProcess
from qnodeos.drivers.world_auth import ClientKeys, secure_client
from qnodeos.hal import Axis, Init, Rotate
from qnodeos.hal.instructions import to_dict

HANDSHAKE_FAILED = (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
                    | zmq.EVENT_HANDSHAKE_FAILED_AUTH)


@pytest.fixture(scope="module")
def world():
    w = WorldProcess("nv", ["alice", "bob"], seed=1, preset="ideal").start(deadline=time.monotonic() + 60)
    yield w
    w.stop()
    assert not w.process.is_alive()


@pytest.fixture(scope="module")
def ctx():
    context = zmq.Context()
    yield context
    context.term()


def exchange(ctx, address: str, frames: list[bytes], keys: ClientKeys | None, limit_s: float = 5.0):
    """Send ``frames`` as one request; ("reply", map) or ("refused", handshake event) or ("silent", None)."""
    sock = ctx.socket(zmq.REQ)
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
                return "reply", msgpack.unpackb(sock.recv(), raw=False)
            if monitor in ready:
                event = recv_monitor_message(monitor)["event"]
                if event & HANDSHAKE_FAILED:
                    return "refused", event
        return "silent", None
    finally:
        sock.disable_monitor()
        monitor.close(0)
        sock.close(0)


def call(ctx, world, node: str, role: str, request: dict, keys: ClientKeys | None) -> tuple:
    return exchange(ctx, world.addresses[node][role], [msgpack.packb(request, use_bin_type=True)], keys)


def density(reply: dict) -> np.ndarray:
    return np.frombuffer(reply["data"], dtype=np.complex128).reshape(reply["shape"])


def stranger(world) -> ClientKeys:
    public, secret = (k.decode() for k in zmq.curve_keypair())
    return ClientKeys(world.client_keys["alice"].server_public, public, secret)


ATTACKERS = {
    "no key": lambda world: None,
    "a stranger's key": stranger,
    "bob's key": lambda world: world.client_keys["bob"],
}
# what an attacker would ask of alice's sockets: read a state, flip a qubit, take alice's timeline
# turn, make alice leave the network
ATTACKS = {
    "device": [{"op": "density_matrix", "q": [0]},
               {"op": "execute", "i": to_dict(Rotate(0, Axis.X, math.pi))}],
    "sync": [{"op": "sync", "node": "alice", "report": {"qnpu": None, "host": None, "sent": [], "attempts": []}}],
    "control": [{"op": "leave", "node": "alice"}],
}


@pytest.mark.parametrize("attacker", ATTACKERS)
@pytest.mark.parametrize("role", ATTACKS)
def test_only_the_nodes_own_key_is_admitted(ctx, world, attacker, role):
    alice = world.client_keys["alice"]
    assert call(ctx, world, "alice", "device", {"op": "execute", "i": to_dict(Init(0))}, alice)[0] == "reply"
    for request in ATTACKS[role]:
        outcome, detail = call(ctx, world, "alice", role, request, ATTACKERS[attacker](world))
        assert outcome == "refused", (attacker, role, request["op"], outcome, detail)
    # Nothing the attacker sent took effect: qubit 0 is still |0>, alice is still on the timeline.
    outcome, reply = call(ctx, world, "alice", "device", {"op": "density_matrix", "q": [0]}, alice)
    assert outcome == "reply" and np.allclose(density(reply), np.diag([1, 0])), reply
    outcome, reply = call(ctx, world, "alice", "control", {"op": "wake", "node": "alice"}, alice)
    assert outcome == "reply" and "now" in reply, reply


def test_a_nodes_key_opens_only_its_own_sockets(ctx, world):
    alice = world.client_keys["alice"]
    assert call(ctx, world, "alice", "device", {"op": "capabilities"}, alice)[0] == "reply"
    for role in ATTACKS:  # alice's key on every one of bob's sockets
        outcome, _ = call(ctx, world, "bob", role, {"op": "capabilities", "node": "bob"}, alice)
        assert outcome == "refused", role


MALFORMED = {
    "multipart": [b"\x81\xa2op\xa3now", b"second frame"],
    "not msgpack": [b"\xc1\xc1\xc1"],
    "trailing bytes": [msgpack.packb({"op": "now"}) + b"junk"],
    "a list": [msgpack.packb([1, 2, 3])],
    "a number": [msgpack.packb(7)],
    "no op": [msgpack.packb({"q": 0})],
    "unknown op": [msgpack.packb({"op": "self_destruct"})],
    "op of another type": [msgpack.packb({"op": ["execute"]})],
    "instruction not a map": [msgpack.packb({"op": "execute", "i": "X on everything"})],
    "unknown instruction": [msgpack.packb({"op": "execute", "i": {"op": "teleport_me"}})],
    "qubit out of range": [msgpack.packb({"op": "density_matrix", "q": [10**6]})],
    "qubit of another type": [msgpack.packb({"op": "joint_density_matrix", "q": "zero"})],
    "deeply nested": [b"\x91" * 100_000 + b"\xc0"],
    "empty frame": [b""],
}


@pytest.mark.parametrize("role", ["device", "sync", "control"])
def test_every_malformed_request_is_answered_with_an_error_and_serving_goes_on(ctx, world, role):
    keys = world.client_keys["bob"]
    address = world.addresses["bob"][role]
    for name, frames in MALFORMED.items():
        outcome, reply = exchange(ctx, address, frames, keys)
        assert outcome == "reply" and set(reply) == {"error"} and reply["error"], (role, name, outcome, reply)
    # ... and a well-formed request is still served on the same socket
    probe = {"device": {"op": "now"}, "sync": None, "control": {"op": "wake", "node": "bob"}}[role]
    if probe is not None:
        outcome, reply = exchange(ctx, address, [msgpack.packb(probe)], keys)
        assert outcome == "reply" and "error" not in reply, reply
    outcome, reply = call(ctx, world, "bob", "device", {"op": "capabilities"}, keys)
    assert outcome == "reply" and reply["node"] == "bob"


def test_an_oversized_request_is_cut_off_without_harming_the_server(ctx, world):
    keys = world.client_keys["bob"]
    outcome, _ = exchange(ctx, world.addresses["bob"]["device"], [b"\0" * (8 << 20)], keys, limit_s=1.0)
    assert outcome == "silent"  # ZeroMQ drops the connection at the size header: nothing to answer
    outcome, reply = call(ctx, world, "bob", "device", {"op": "now"}, keys)
    assert outcome == "reply" and "t" in reply

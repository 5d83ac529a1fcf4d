"""Node links (issue 10 item 7): a sender's name is the one its CURVE key is registered under, and an
oversized message is refused by ZeroMQ before it is read into memory."""
from __future__ import annotations

import multiprocessing
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

from qnodeos.network.keys import NodeKeys, network_keys
from qnodeos.network.mailbox import Mailbox


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_a_peer_holding_bobs_key_cannot_speak_as_carol():
    keys = network_keys(["alice", "bob", "carol"])
    alice = Mailbox("alice", keys=keys["alice"])
    got: list = []
    alice.on("egp", lambda sender, msg: got.append((sender, msg)))
    alice.start()
    bob_key = keys["bob"]
    # bob's real key pair, trusted by alice, but the mailbox says it is carol (its ZeroMQ identity)
    impostor = Mailbox("carol", keys=NodeKeys(bob_key.public, bob_key.secret, {"alice": keys["alice"].public}))
    bob = Mailbox("bob", keys=bob_key)
    try:
        impostor.connect("alice", alice.address)
        impostor.send("alice", "egp", what="abort", rid=["carol", 1], reason="spoofed")
        assert _wait_for(lambda: alice.dropped == 1), "the message claiming to be carol was not dropped"
        bob.connect("alice", alice.address)
        bob.send("alice", "egp", what="hello")
        assert _wait_for(lambda: got != [])
        assert got == [("bob", {"what": "hello"})]  # the key's owner is heard, under its own name only
    finally:
        for box in (impostor, bob, alice):
            box.close()


def _receiver(keys: NodeKeys, conn) -> None:
    """alice's mailbox in a process of its own, so that its memory can be measured alone."""
    box = Mailbox("alice", keys=keys)
    got: list = []
    box.on("probe", lambda sender, msg: got.append(sender))
    box.start()
    conn.send(box.address)
    while conn.recv() == "report":
        conn.send(list(got))
    box.close()


def _peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def test_an_oversized_frame_is_refused_without_growing_the_receivers_memory():
    oversized = 4 * Mailbox.MAX_MESSAGE_BYTES
    keys = network_keys(["alice", "bob"])
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_receiver, args=(keys["alice"], child), daemon=True)
    proc.start()
    zctx = zmq.Context()
    try:
        assert parent.poll(30)
        address = parent.recv()
        before = _peak_rss_kib(proc.pid)
        # a keyed peer (bob's real key) sends one frame four times the cap
        sock = zctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt_string(zmq.IDENTITY, "bob")
        sock.curve_serverkey = keys["alice"].public.encode()
        sock.curve_publickey = keys["bob"].public.encode()
        sock.curve_secretkey = keys["bob"].secret.encode()
        monitor = sock.get_monitor_socket()
        sock.connect(address)
        sock.send(b"\0" * oversized, copy=False)
        cut_off = False
        end = time.monotonic() + 20
        while not cut_off and time.monotonic() < end:
            if monitor.poll(50):
                cut_off = recv_monitor_message(monitor)["event"] == zmq.EVENT_DISCONNECTED
        sock.disable_monitor()
        monitor.close(0)
        sock.close(0)
        assert cut_off, "alice did not drop the connection that sent an oversized frame"
        grown_mib = (_peak_rss_kib(proc.pid) - before) / 1024
        assert grown_mib < Mailbox.MAX_MESSAGE_BYTES / 2**20, f"alice's peak memory grew by {grown_mib:.0f} MiB"
        # bob is still heard afterwards
        bob = Mailbox("bob", keys=keys["bob"])
        bob.connect("alice", address)
        bob.send("alice", "probe")

        def heard() -> bool:
            parent.send("report")
            return parent.poll(5) and parent.recv() == ["bob"]

        assert _wait_for(heard, timeout=10)
        bob.close()
    finally:
        parent.send("stop")
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
        zctx.term()

"""Authenticated node links, isolation between processes, and per-application limits."""
from __future__ import annotations

import time
from pathlib import Path

import msgpack
import netqasm
import pytest
import zmq

from qnodeos.apps.local_network import LocalNetwork
from qnodeos.apps.runner import run_app_dir
from qnodeos.network.keys import NodeKeys, generate_keypair, network_keys
from qnodeos.network.mailbox import Mailbox, MailboxError
from qnodeos.process import ProcessState

from os_helpers import HEADER, make_node

APPS = Path(netqasm.__file__).parent / "examples" / "apps"


def _wait_for(predicate, timeout=3.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def two_keyed_mailboxes():
    keys = network_keys(["alice", "bob"])
    alice, bob = Mailbox("alice", keys=keys["alice"]), Mailbox("bob", keys=keys["bob"])
    alice.connect("bob", bob.address)
    got: list = []
    bob.on("egp", lambda sender, msg: got.append((sender, msg)))
    alice.start(), bob.start()
    yield keys, alice, bob, got
    alice.close(), bob.close()


def test_keyed_peer_is_heard_and_wrong_key_is_refused(two_keyed_mailboxes):
    keys, alice, bob, got = two_keyed_mailboxes
    alice.send("bob", "egp", what="hello")
    assert _wait_for(lambda: got == [("alice", {"what": "hello"})])
    # an impostor that knows bob's public key but signs with its own key pair
    public, secret = generate_keypair()
    impostor = Mailbox("alice", keys=NodeKeys(public, secret, {"bob": keys["bob"].public}))
    impostor.connect("bob", bob.address)
    impostor.start()
    impostor.send("bob", "egp", what="abort", rid=["alice", 1], reason="spoofed")
    assert _wait_for(lambda: public in bob.refused)
    # Not "nothing arrived yet": a message alice sends after the refusal arrives, the spoof never did.
    alice.send("bob", "egp", what="after the impostor")
    assert _wait_for(lambda: len(got) == 2)
    assert got == [("alice", {"what": "hello"}), ("alice", {"what": "after the impostor"})]
    impostor.close()


def test_unauthenticated_plain_peer_gets_nothing_through(two_keyed_mailboxes):
    keys, alice, bob, got = two_keyed_mailboxes
    ctx = zmq.Context()
    plain = ctx.socket(zmq.DEALER)
    plain.setsockopt(zmq.LINGER, 0)
    plain.setsockopt_string(zmq.IDENTITY, "alice")
    monitor = plain.get_monitor_socket()
    plain.connect(bob.address)
    plain.send(msgpack.packb({"kind": "egp", "body": {"what": "create"}}))
    assert _handshake_refused(monitor), "bob did not refuse the plain (unauthenticated) connection"
    # Not "nothing arrived yet": a message alice sends after the refusal arrives, the plain one never did.
    alice.send("bob", "egp", what="after the plain peer")
    assert _wait_for(lambda: got != [])
    assert got == [("alice", {"what": "after the plain peer"})]
    plain.disable_monitor()
    monitor.close(0)
    plain.close(0)
    ctx.term()


def _handshake_refused(monitor, timeout: float = 5.0) -> bool:
    """Wait for the monitored socket to see its handshake refused (a ZeroMQ socket-monitor event)."""
    from zmq.utils.monitor import recv_monitor_message

    failed = zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if monitor.poll(50) and recv_monitor_message(monitor)["event"] & failed:
            return True
    return False


def test_a_keyed_node_refuses_to_link_to_a_peer_without_a_key():
    keys = network_keys(["alice", "bob"])
    alice = Mailbox("alice", keys=keys["alice"])
    with pytest.raises(MailboxError, match="no public key for peer 'mallory'"):
        alice.connect("mallory", "tcp://127.0.0.1:1")
    alice.close()


def test_applications_run_over_authenticated_links_in_both_modes():
    for mode in ("threads", "processes"):
        run = run_app_dir(APPS / "teleport", "trapped_ion", seed=4, mode=mode, timeout_s=60)
        assert run.ok, (mode, run.errors)


def test_links_really_are_keyed_in_a_local_network():
    network = LocalNetwork("nv", ["alice", "bob"], seed=1)
    try:
        assert all(box.keys is not None for box in network.mailboxes.values())
        assert network.keys["alice"].peers["bob"] == network.keys["bob"].public
    finally:
        network.stop()


# ---- isolation between processes ------------------------------------------------------------------
WRITER = HEADER + """set R0 {value}
set R1 2
array R1 @0
set R2 0
store R0 @0[R2]
ret_reg R0
ret_arr @0
"""


def test_registers_arrays_and_results_are_per_process():
    node = make_node("ion")
    pids = {v: node.submit(WRITER.format(value=v)) for v in (7, 11, 13)}
    node.run()
    for value, pid in pids.items():
        result = node.result(pid)
        assert result.registers == {"R0": value}
        assert result.arrays[0] == [value, None]
    processes = {p.pid: p for p in node.processes()}
    assert len({id(p.regs) for p in processes.values()}) == 3
    assert len({id(p.arrays[0]) for p in processes.values()}) == 3


def test_a_process_cannot_free_or_measure_another_process_qubit():
    holder = HEADER + "set Q0 0\nqalloc Q0\ninit Q0\nx Q0\n"
    read_back = HEADER + "meas Q0 M0\nret_reg M0\nqfree Q0\n"
    thief = HEADER + "set Q0 0\nqfree Q0\n"
    node = make_node("ion")
    owner = node.submit([holder, read_back], host_delay_ns=1_000_000)
    bad = node.submit(thief)
    node.run()
    assert node.result(bad).state is ProcessState.FAILED
    assert "has no qubit with virtual id 0" in node.result(bad).error
    assert node.result(owner).registers == {"M0": 1}
    assert node.memory.allocated() == {}


# ---- limits ---------------------------------------------------------------------------------------
def test_limit_on_open_epr_requests_per_process():
    network = LocalNetwork("trapped_ion", ["alice", "bob"], seed=1)
    network.services["alice"].egp.max_pending_per_process = 2
    program = HEADER + """array 22 @1
set R5 0
set R6 1
store R5 @1[R5]
store R6 @1[R6]
array 10 @2
array 1 @3
set R7 0
store R7 @3[R7]
set R0 1
set R1 0
set R2 3
set R3 1
set R4 2
create_epr R0 R1 R2 R3 R4
create_epr R0 R1 R2 R3 R4
create_epr R0 R1 R2 R3 R4
"""
    with network:
        service = network.services["alice"]
        pid = service.call(lambda: service.node.submit(program))
        assert _wait_for(lambda: service.snapshot(lambda: service.node.result(pid)).state is ProcessState.FAILED)
        result = service.snapshot(lambda: service.node.result(pid))
        assert "open EPR requests (limit 2)" in result.error and "`create_epr" in result.error
        assert service.snapshot(lambda: service.node.memory.allocated()) == {}


def test_key_files_from_the_cli_configure_a_network(tmp_path):
    from qnodeos.cli import main
    from qnodeos.network.keys import load_node_keys

    assert main(["keys", "generate", "alice", "bob", "--out", str(tmp_path)]) == 0
    keys = {n: load_node_keys(tmp_path / f"{n}.toml") for n in ("alice", "bob")}
    assert keys["alice"].peers["bob"] == keys["bob"].public
    assert (tmp_path / "alice.toml").stat().st_mode & 0o077 == 0  # secrets readable by the owner only
    network = LocalNetwork("trapped_ion", ["alice", "bob"], keys=keys)
    with network:
        got = []
        network.mailboxes["bob"].on("probe", lambda sender, msg: got.append(sender))
        network.mailboxes["alice"].send("bob", "probe")
        assert _wait_for(lambda: got == ["alice"])
    broken = tmp_path / "broken.toml"
    broken.write_text("[keys]\npublic = 'x'\n")
    with pytest.raises(ValueError, match="missing 'secret'"):
        load_node_keys(broken)

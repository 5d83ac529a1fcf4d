"""A node that leaves the timeline while its last report is still on the way: the messages that report
lists are delivered, once. (A node stopped while it waits for its turn leaves from another thread; a
remote timeline takes syncs and leaves on different sockets, so the leave can overtake the sync that
carries the node's last messages. Seen as a receiver failing with "node sender left the network" in
about 1 % of processes-mode runs on a loaded machine.)"""
from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from qnodeos.apps.local_network import LocalNetwork
from qnodeos.drivers.timeline import Timeline
from qnodeos.hal.timeline import Grant, LeftNetwork, SentMessage, SyncReport

WAIT_S = 30.0
LAST = SyncReport(None, None, sent=(SentMessage("b", 0, 1_000, host=True),), now_ns=0)


def deliveries_to_b(timeline: Timeline, pool: ThreadPoolExecutor) -> list[Any]:
    """What b is handed until the network is quiet (b itself has nothing to do)."""
    got: list[Any] = []
    while True:
        grant: Grant = pool.submit(timeline.sync, "b", SyncReport(None, None), WAIT_S).result(WAIT_S)
        got += [(d.src, d.seq, d.deliver_ns) for d in grant.deliveries]
        if grant.quiescent:
            return got


def test_a_leave_that_overtakes_the_sync_delivers_its_messages():
    timeline = Timeline(["a", "b"])
    with ThreadPoolExecutor(2) as pool:
        timeline.leave("a", LAST)  # the leave comes first ...
        with pytest.raises(LeftNetwork):
            timeline.sync("a", LAST, timeout_s=WAIT_S)  # ... the sync it repeats after it
        assert deliveries_to_b(timeline, pool) == [("a", 0, 1_000)]


def test_a_leave_that_repeats_an_arrived_sync_delivers_nothing_twice():
    timeline = Timeline(["a", "b"])
    with ThreadPoolExecutor(2) as pool:
        waiting = pool.submit(timeline.sync, "a", LAST, WAIT_S)  # a's sync arrives first
        first = pool.submit(timeline.sync, "b", SyncReport(None, None), WAIT_S).result(WAIT_S)
        got = [(d.src, d.seq, d.deliver_ns) for d in first.deliveries]
        timeline.leave("a", LAST)  # then its leave, repeating that sync's report
        got += deliveries_to_b(timeline, pool)
        with contextlib.suppress(LeftNetwork):
            waiting.result(WAIT_S)
    assert got == [("a", 0, 1_000)]


class OvertakenSyncs:
    """A timeline whose syncs from ``node`` that carry messages arrive only after that node's leave
    (the order a loaded world process may see them in)."""

    def __init__(self, timeline: Timeline, node: str) -> None:
        self.timeline, self.node = timeline, node
        self.left, self.holding = threading.Event(), threading.Event()

    def sync(self, node: str, report: SyncReport, timeout_s: float | None = None) -> Grant:
        if node == self.node and report.sent:
            self.holding.set()
            assert self.left.wait(WAIT_S), "the node never left"
        return self.timeline.sync(node, report, timeout_s)

    def leave(self, node: str, report: SyncReport | None = None) -> None:
        self.timeline.leave(node, report)
        if node == self.node:
            self.left.set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.timeline, name)


def test_a_node_stopped_while_its_last_message_is_reported_still_delivers_it():
    network = LocalNetwork("trapped_ion", ["alice", "bob"], seed=1, preset="ideal",
                           node_of_role={"sender": "alice", "receiver": "bob"})
    alice, bob = network.services["alice"], network.services["bob"]
    overtaken = alice.coordinator = OvertakenSyncs(network.world.timeline, "alice")
    network.register_hosts(["sender", "receiver"])
    network.start()
    try:
        with ThreadPoolExecutor(1) as pool:
            received = pool.submit(bob.recv_app_message, "receiver", (("receiver", "sender", 0),), True, None, WAIT_S)
            alice.send_app_message("sender", "receiver", 0, (False, None, "hello"))  # while alice's loop waits
            alice.host_done("sender")  # for its host: the message goes into alice's next report
            assert overtaken.holding.wait(WAIT_S), "alice never reported her message"
            alice.stop()  # as a node process does once its roles are done, while that report is on its way
            key, item = received.result(WAIT_S)
        assert key == ("receiver", "sender", 0) and item[2] == "hello"
        bob.host_done("receiver")
    finally:
        network.stop()

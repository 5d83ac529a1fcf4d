"""A node woken while another node holds a turn gets its own turn soon, however busy the other is.

Found by the soak (RELIABILITY.md): bob was granted while alice had nothing scheduled, so without
bound; bob's own program hosts kept it busy for ever, and hosts connecting to alice meanwhile waited
at simulated time 0 (a wake could not shorten a turn already granted). A grant now reaches at most
``Timeline.max_lead_ns`` past its start, so the busy node reports back and the woken one is chosen.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from qnodeos.apps.local_network import LocalNetwork
from qnodeos.drivers.timeline import Timeline
from qnodeos.hal.errors import ConfigError
from qnodeos.hal.timeline import SyncReport

from os_helpers import X_MEASURE

WAIT_S = 30.0
LEAD_NS = 1_000_000


def test_a_grant_while_every_other_node_idles_is_bounded_by_the_lead():
    timeline = Timeline(["a", "b"], max_lead_ns=LEAD_NS)
    with ThreadPoolExecutor(2) as pool:
        idle = pool.submit(timeline.sync, "a", SyncReport(None, None), WAIT_S)  # nothing to do
        busy = timeline.sync("b", SyncReport(5_000, None), timeout_s=WAIT_S)
        assert (busy.now_ns, busy.bound_ns, busy.inclusive) == (5_000, 5_000 + LEAD_NS, False)
        assert not busy.allows(5_000 + LEAD_NS) and busy.allows(5_000 + LEAD_NS - 1)
        # a is woken while b acts: b's next report hands the turn to a, at the time a woke at
        woke_at = timeline.wake("a")
        assert woke_at == 5_000
        again = pool.submit(timeline.sync, "b", SyncReport(5_000 + LEAD_NS, None, now_ns=5_000 + LEAD_NS), WAIT_S)
        grant = idle.result(WAIT_S)
        assert grant.now_ns == woke_at and not grant.quiescent
        assert grant.bound_ns == 5_000 + LEAD_NS and not again.done()  # b waits for a's report
        timeline.leave_all()


def test_the_turn_that_tells_an_idle_node_the_network_is_quiet_is_bounded_too():
    # the soak's stall came through this turn: both nodes idle at the start, bob told "quiet" with a
    # turn that had no end, then fed by hosts connecting to it while hosts connecting to alice waited
    timeline = Timeline(["a", "b"], max_lead_ns=LEAD_NS)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(timeline.sync, "a", SyncReport(None, None), WAIT_S)
        told_b = pool.submit(timeline.sync, "b", SyncReport(None, None), WAIT_S)
        told_a = first.result(WAIT_S)  # a is told first (node order) ...
        assert told_a.quiescent and told_a.bound_ns == told_a.now_ns + LEAD_NS
        pool.submit(timeline.sync, "a", SyncReport(None, None), WAIT_S)  # ... and b when a reports back
        grant = told_b.result(WAIT_S)
        assert grant.quiescent and grant.bound_ns == grant.now_ns + LEAD_NS
        timeline.leave_all()


def test_a_grant_bounded_by_a_nearer_peer_event_keeps_that_bound():
    timeline = Timeline(["a", "b"], max_lead_ns=LEAD_NS)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(timeline.sync, "b", SyncReport(LEAD_NS // 2, None), WAIT_S)
        grant = timeline.sync("a", SyncReport(0, None), timeout_s=WAIT_S)
        assert (grant.bound_ns, grant.inclusive) == (LEAD_NS // 2, True)  # a goes first at a tie
        timeline.leave_all()


@pytest.mark.parametrize("lead", [0, -1, 1.5, True, None])
def test_a_lead_that_is_not_a_positive_integer_is_refused(lead):
    with pytest.raises(ConfigError, match="max_lead_ns"):
        Timeline(["a", "b"], max_lead_ns=lead)  # type: ignore[arg-type]


def test_a_node_fed_by_its_own_hosts_does_not_starve_a_call_on_its_peer():
    network = LocalNetwork("trapped_ion", ["alice", "bob"], seed=1, preset="ideal")
    stop, failures, runs = threading.Event(), [], []
    with network:
        bob = network.services["bob"]

        def keep_bob_busy() -> None:
            bob.register_host("busy")
            try:
                while not stop.is_set():
                    pid = bob.open_app("busy", "busy", max_qubits=1)
                    try:
                        runs.append(bob.run_subroutine("busy", pid, X_MEASURE).registers["M0"])
                    finally:
                        bob.close_app("busy", pid)
            except Exception as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
            finally:
                bob.host_done("busy")

        worker = threading.Thread(target=keep_bob_busy, daemon=True)
        worker.start()
        deadline = time.monotonic() + WAIT_S
        while len(runs) < 20 and time.monotonic() < deadline:  # bob is well into its turn(s)
            time.sleep(0.01)
        assert len(runs) >= 20, failures
        started = time.monotonic()
        assert network.services["alice"].call(lambda: "answered", timeout=10) == "answered"
        assert time.monotonic() - started < 5
        stop.set()
        worker.join(WAIT_S)
    assert not worker.is_alive() and not failures
    assert set(runs) == {1}

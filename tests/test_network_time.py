"""One causal timeline across nodes: latencies, the network schedule, expiry, reproducibility.

Every check goes through the public runner (``run_app_dir`` with ``trace=True``) on small SDK apps
in ``tests/network_apps/time_*`` and reads what happened from the per-node timelines and stats:

* latencies move device time exactly as configured (a ping-pong between two nodes);
* a node that waits for its peer lives through the wait: its half of a pair dephases with the
  exponential T2 law against the peer's busy time plus the latencies (statistical, Poisson-binomial);
* entanglement attempts happen only inside the link's bins, and an NV node runs a local application
  between them (utilisation together beats one after the other);
* held pairs past their cut-off are discarded on both nodes and regenerated; a request that cannot
  be met fails clearly on both;
* seeded runs repeat exactly — outcomes and device-time timelines — with nodes as threads and as
  processes (and the two modes agree).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import norm

from qnodeos.apps.runner import run_app_dir
from qnodeos.hal.timeline import NetworkSchedule
from qnodeos.network.timing import HostLatency, LinkLatency, NetworkTiming

APPS = Path(__file__).parent / "network_apps"
#: two-sided rejection probability of the statistical checks (~4.4 standard deviations)
P_REJECT = 1e-5


def rows(trace: dict[str, Any], process: str, subroutine: int | None = None) -> list[dict[str, Any]]:
    """Instructions (not waits) of ``process``, of one subroutine if given."""
    return [e for e in trace["entries"] if e["process"] == process and not e["instruction"].startswith("wait:")
            and (subroutine is None or e["subroutine"] == subroutine)]


def span(trace: dict[str, Any], process: str, subroutine: int) -> tuple[int, int]:
    """(start of the first instruction, end of the last) of one subroutine of ``process``."""
    got = rows(trace, process, subroutine)
    assert got, f"no trace rows for {process} subroutine {subroutine}"
    return min(e["start_ns"] for e in got), max(e["end_ns"] for e in got)


def network_rows(trace: dict[str, Any], what: str = "attempts") -> list[dict[str, Any]]:
    return [e for e in trace["entries"] if e["process"] == "network" and e["instruction"].startswith(what)]


# ---- latencies ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("submit,result,link_ns", [(1_003_000, 1_007_000, 1_211_000), (40_000, 260_000, 5_000)])
def test_latencies_move_device_time_exactly_as_configured(submit, result, link_ns):
    """alice's subroutine ends; its result reaches her host ``result`` later, her ping reaches bob's
    host ``link`` later, and his subroutine reaches his QNPU ``submit`` later: it starts exactly then.
    The same on the way back to alice's second subroutine."""
    timing = NetworkTiming(host=HostLatency(submit, result, 0), link=LinkLatency(0.0, link_ns))
    run = run_app_dir(APPS / "time_ping_pong", "trapped_ion", seed=1, preset="ideal", mode="threads",
                      timing=timing, trace=True)
    assert run.ok, run.errors
    alice, bob = run.traces["alice"], run.traces["bob"]
    _, alice_first_end = span(alice, "alice", 0)
    bob_start, bob_end = span(bob, "bob", 0)
    alice_second_start, _ = span(alice, "alice", 1)
    assert bob_start == alice_first_end + result + link_ns + submit
    assert alice_second_start == bob_end + result + link_ns + submit


def test_delegated_computation_server_waits_for_host_and_classical_latency():
    """The server's qubit waits between its two subroutines for the client's result to reach the
    client's host, the client's message, and its own next subroutine: exactly those latencies after
    the client's subroutine, with the defaults 3.2 ms and more (QNodeOS measured 3.2–4.2 ms)."""
    timing = NetworkTiming()
    run = run_app_dir(APPS / "time_dqc", "nv", seed=3, preset="qnodeos-nv-2025", mode="threads", trace=True,
                      timing=timing)
    assert run.ok, run.errors
    server, client = run.traces["server"], run.traces["client"]
    _, server_first_end = span(server, "server", 0)
    server_second_start, _ = span(server, "server", 1)
    _, client_end = span(client, "client", 0)
    host, link = timing.host, timing.classical_ns("client", "server")
    assert server_second_start == client_end + host.result_ns + link + host.submit_ns
    wait_ms = (server_second_start - server_first_end) / 1e6
    assert 3.2 <= wait_ms < 4.2, wait_ms


# ---- a node that waits lives through the wait --------------------------------------------------------
def _poisson_binomial_z(hits: int, p: np.ndarray) -> float:
    return (hits - p.sum()) / math.sqrt(max(1e-12, float((p * (1 - p)).sum())))


def test_waiting_node_dephases_with_the_peers_busy_time_and_the_latencies():
    """alice measures her half of each pair at once (X basis), keeps her device busy, then sends "go";
    bob measures his half (X basis) after "go". bob's half dephases meanwhile: the agreement of each
    round is 1/2 + <XX>/2 exp(-decay), with the decay read from the timelines (both halves from the
    herald to alice's measurement, bob's alone from there to his), and it falls towards 1/2 as alice's
    busy time grows."""
    t2 = 20_000_000  # electron T2 (ns), exponential dephasing
    rounds = 30
    agreement, predicted = {}, {}
    for busy in (0, 600, 2400):  # electron gates of one 10 us tick each: 0, 6 ms, 24 ms of alice's device
        run = run_app_dir(APPS / "time_waiting_node", "nv", seed=5 + busy, preset="ideal", mode="threads",
                          trace=True, device_config={"electron_t2_ns": t2},
                          overrides={"alice": {"rounds": rounds, "busy": busy}, "bob": {"rounds": rounds}})
        assert run.ok, run.errors
        a, b = run.results["alice"]["outcomes"], run.results["bob"]["outcomes"]
        heralds = [max(e["end_ns"] for e in network_rows(run.traces["alice"], f"attempts alice#{k}/"))
                   for k in range(1, rounds + 1)]
        alice_meas = [span(run.traces["alice"], "alice", 2 * k if busy else k)[1] for k in range(rounds)]
        bob_meas = [span(run.traces["bob"], "bob", 2 * k + 1)[0] for k in range(rounds)]
        c0 = 0.9  # <XX> of NV's ideal single-click pair, (1-alpha) Phi+ + alpha |01><01| with alpha = 0.1
        p = np.array([0.5 + 0.5 * c0 * math.exp(-2 * (am - h) / t2 - (bm - am) / t2)
                      for h, am, bm in zip(heralds, alice_meas, bob_meas)])
        hits = sum(int(x == y) for x, y in zip(a, b))
        z = _poisson_binomial_z(hits, p)
        assert abs(z) < norm.isf(P_REJECT / 2), (busy, hits, p.sum(), z)
        agreement[busy], predicted[busy] = hits / rounds, float(p.mean())
    assert predicted[0] > predicted[600] > predicted[2400]  # the wait grows with alice's busy time
    assert predicted[2400] < 0.7 < 0.85 < predicted[0]
    assert agreement[0] > agreement[2400]


# ---- the network schedule ------------------------------------------------------------------------------
def _inside_bins(schedule: Any, start: int, end: int) -> bool:
    k = schedule.bin_index(start)
    b0 = schedule.bin_start(k)
    return b0 <= start and end <= b0 + schedule.bin_ns


def test_attempts_happen_only_in_the_links_bins_on_both_nodes():
    timing = NetworkTiming(bin_ns=2_000_000, duty=0.25)
    run = run_app_dir(APPS / "time_local_and_link", "trapped_ion", seed=2, preset="ideal", mode="threads",
                      trace=True, timing=timing, overrides={"alice": {"pairs": 6}, "bob": {"pairs": 6},
                                                            "local": {"rounds": 1, "gates": 1}})
    assert run.ok, run.errors
    schedule = NetworkSchedule.fair([("alice", "bob")], bin_ns=timing.bin_ns, duty=timing.duty).of("alice", "bob")
    for node in ("alice", "bob"):
        attempts = network_rows(run.traces[node])
        assert attempts, f"{node}: no attempts traced"
        outside = [e for e in attempts if not _inside_bins(schedule, e["start_ns"], e["end_ns"])]
        assert not outside, f"{node}: attempts outside the bins: {outside[:3]}"
    # both ends attempt in the same bins by construction: the same heralds at the same times
    last = {node: sorted((e["instruction"].split()[1], e["end_ns"]) for e in network_rows(run.traces[node]))
            for node in ("alice", "bob")}
    herald_times = {node: {tag: end for tag, end in last[node]} for node in last}
    assert herald_times["alice"] == herald_times["bob"]


def test_nv_node_runs_a_local_application_between_its_bins():
    """alice's NV node generates pairs with bob and runs a local application at the same time: the
    local gates fall between the attempt bins, never on them, and the node's utilisation with both
    applications beats running them one after the other."""
    overrides = {"alice": {"pairs": 3}, "bob": {"pairs": 3}, "local": {"rounds": 40, "gates": 40}}
    both = run_app_dir(APPS / "time_local_and_link", "nv", seed=4, preset="ideal", mode="threads", trace=True,
                       overrides=overrides)
    assert both.ok, both.errors
    trace = both.traces["alice"]
    attempts = [(e["start_ns"], e["end_ns"]) for e in network_rows(trace)]
    local = [(e["start_ns"], e["end_ns"]) for e in rows(trace, "local") if e["end_ns"] > e["start_ns"]]
    assert attempts and local
    overlap = [(s, e) for s, e in local for a0, a1 in attempts if s < a1 and a0 < e]
    assert not overlap, f"local gates on the device during attempts: {overlap[:3]}"
    first_attempt, last_attempt = min(a for a, _ in attempts), max(b for _, b in attempts)
    assert sum(1 for s, _ in local if first_attempt < s < last_attempt) > len(local) // 2  # interleaved

    link_only = run_app_dir(APPS / "time_local_and_link", "nv", seed=4, preset="ideal", mode="threads",
                            overrides={**overrides, "local": {"rounds": 0, "gates": 0}})
    local_only = run_app_dir(APPS / "time_local_and_link", "nv", seed=4, preset="ideal", mode="threads",
                             overrides={**overrides, "alice": {"pairs": 0}, "bob": {"pairs": 0}})
    assert link_only.ok and local_only.ok, (link_only.errors, local_only.errors)
    stats = {name: run.stats["alice"] for name, run in (("both", both), ("link", link_only), ("local", local_only))}
    busy_sequential = stats["link"]["busy_ticks"] + stats["local"]["busy_ticks"]
    ticks_sequential = stats["link"]["total_ticks"] + stats["local"]["total_ticks"]
    assert stats["both"]["total_ticks"] < ticks_sequential  # together is shorter...
    assert stats["both"]["utilisation"] > busy_sequential / ticks_sequential  # ...and busier


# ---- entanglement that expires -------------------------------------------------------------------------
def _discards(run: Any) -> dict[str, int]:
    return {node: s["network"]["pairs_discarded"] for node, s in run.stats.items()}


def test_held_pairs_past_their_cut_off_are_discarded_on_both_nodes_and_regenerated():
    """Two pairs held at once, with a maximum age near the time a pair takes: some pairs expire before
    their partner is ready; both nodes discard the same ones and the application still gets two pairs
    (perfect Phi+ on ideal ions: equal outcomes) that are younger than the cut-off together."""
    age = 3_000_000
    timing = NetworkTiming(max_pair_age_ns=age)
    total = {"alice": 0, "bob": 0}
    for seed in range(3):
        run = run_app_dir(APPS / "time_expiry", "trapped_ion", seed=seed, preset="ideal", mode="threads",
                          timing=timing, trace=True)
        assert run.ok, run.errors
        assert run.results["alice"]["outcomes"] == run.results["bob"]["outcomes"]
        discards = _discards(run)
        assert discards["alice"] == discards["bob"], discards
        for node in ("alice", "bob"):
            total[node] += discards[node]
            assert run.stats[node]["allocated_qubits"] == 0
            traced = network_rows(run.traces[node], "discard")
            assert len(traced) == discards[node]
    assert total["alice"] > 0, "no pair expired: the test does not exercise expiry"


def test_a_request_whose_pairs_always_expire_fails_on_both_sides():
    timing = NetworkTiming(max_pair_age_ns=1_000, max_discards=3)
    run = run_app_dir(APPS / "time_expiry", "trapped_ion", seed=1, preset="ideal", mode="threads", timing=timing)
    assert set(run.errors) == {"alice", "bob"}, run.errors
    assert "retry budget of 6 used up" in run.errors["alice"] or "retry budget of 6 used up" in run.errors["bob"]
    assert all("decayed below the cut-off" in e or "aborted by" in e for e in run.errors.values()), run.errors
    assert all(s["allocated_qubits"] == 0 for s in run.stats.values())


# ---- reproducibility ---------------------------------------------------------------------------------
TELEPORT = Path(__file__).resolve().parents[1] / "os_core" / "demos" / "apps" / "teleport"


def _fingerprint(run: Any) -> tuple:
    timeline = {node: [(e["pid"], e["subroutine"], e["line"], e["instruction"], e["start_ns"], e["end_ns"])
                       for e in trace["entries"]] for node, trace in sorted(run.traces.items())}
    return repr(sorted(run.results.items())), timeline


def test_seeded_runs_repeat_exactly_in_each_mode_and_across_modes():
    kwargs = dict(seed=11, preset="realistic", trace=True, overrides={"sender": {"theta": 1.1, "phi": 0.4}})
    prints = {}
    for mode in ("threads", "processes"):
        first = run_app_dir(TELEPORT, "nv", mode=mode, **kwargs)
        again = run_app_dir(TELEPORT, "nv", mode=mode, **kwargs)
        assert first.ok and again.ok, (first.errors, again.errors)
        assert _fingerprint(first) == _fingerprint(again), f"{mode}: a seeded run did not repeat"
        prints[mode] = _fingerprint(first)
    assert prints["threads"] == prints["processes"]
    other = run_app_dir(TELEPORT, "nv", mode="threads", **{**kwargs, "seed": 12})
    assert _fingerprint(other)[1] != prints["threads"][1]  # another seed, another timeline


def test_an_ionised_nv_fails_the_request_on_both_nodes_with_the_reason():
    """An NV centre that ionises during its attempts (probability 1 here) reports a hardware failure:
    the request ends on both nodes naming it, and nothing stays allocated."""
    run = run_app_dir(APPS / "time_expiry", "nv", seed=1, preset="ideal", mode="threads",
                      device_config={"ionisation_probability": 1.0}, overrides={"alice": {"pairs": 1},
                                                                                "bob": {"pairs": 1}})
    assert set(run.errors) == {"alice", "bob"}, run.errors
    assert any("ionised" in e for e in run.errors.values()), run.errors
    assert all(s["allocated_qubits"] == 0 for s in run.stats.values())


def test_measured_entangled_pairs_repeat_in_five_seeded_runs_in_threads_mode():
    """Issue 10 item 9, its own scenario: both nodes measure their halves as soon as they have them,
    in threads racing each other; which one measures first used to decide the shared outcome (five
    seeded runs, five different results). Now the timeline orders them, so the seed fixes the outcomes."""
    app = Path(__file__).parent / "network_apps" / "measured_pairs"
    runs = [run_app_dir(app, "trapped_ion", seed=7, preset="realistic", mode="threads", timeout_s=60)
            for _ in range(5)]
    assert all(run.ok for run in runs), [run.errors for run in runs]
    outcomes = [(run.results["alice"], run.results["bob"]) for run in runs]
    assert outcomes == [outcomes[0]] * 5, outcomes
    alice, bob = outcomes[0]
    assert {0, 1} <= set(alice) and sum(a == b for a, b in zip(alice, bob)) >= 6  # random, yet correlated
    other = run_app_dir(app, "trapped_ion", seed=8, preset="realistic", mode="threads", timeout_s=60)
    assert (other.results["alice"], other.results["bob"]) != outcomes[0]

"""Network faults with nodes as separate OS processes: a peer node that dies before or during a
request, and an unknown peer. The survivor gets a clear error, frees every qubit, and its other
applications are unaffected."""
from __future__ import annotations

import time
from pathlib import Path

from qnodeos.apps.runner import run_app_dir

APPS = Path(__file__).parent / "network_apps"


def test_peer_node_dies_before_receiving():
    start = time.monotonic()
    run = run_app_dir(APPS / "peer_dies", "trapped_ion", seed=1, mode="processes", timeout_s=30)
    assert time.monotonic() - start < 10  # no hang: the death is noticed, not waited out
    assert "left the network" in run.errors["alice"] and "node2" in run.errors["alice"]
    assert "died" in run.errors["bob"] and "node2" in run.errors["bob"]
    # carol shares alice's node and is untouched; nothing is left allocated there
    assert run.results["carol"] == {"outcomes": [1, 1, 1, 1, 1]}
    node1 = run.stats["node1"]
    assert node1["allocated_qubits"] == 0
    assert node1["processes"] == {"alice": "failed", "carol": "done"}


def test_peer_node_killed_in_the_middle_of_a_request():
    run = run_app_dir(APPS / "peer_dies_mid_request", "nv", seed=2, mode="processes", timeout_s=30)
    error = run.errors["alice"]
    # the death is noticed either as bob's node leaving, or as nothing left to do in the network
    assert ("left the network after" in error or "cannot complete after" in error) and "bob" in error, error
    done = int(error.split("after ")[1].split("/")[0])
    assert done < 2000  # the request was under way (accepted) when the peer died
    assert run.stats["alice"]["allocated_qubits"] == 0
    assert "died" in run.errors["bob"]


def test_unknown_peer_application_is_named():
    for mode in ("threads", "processes"):
        run = run_app_dir(APPS / "unknown_peer", "nv", seed=1, mode=mode, timeout_s=30)
        assert "no application 'mallory'" in run.errors["alice"]
        assert run.results["bob"] == {"ok": True}
        assert all(s["allocated_qubits"] == 0 for s in run.stats.values())


def test_peer_survives_repeated_runs_without_leftover_processes():
    import multiprocessing

    before = len(multiprocessing.active_children())
    for _ in range(2):
        run = run_app_dir(APPS / "unknown_peer", "trapped_ion", mode="processes", timeout_s=30)
        assert "mallory" in run.errors["alice"]
    assert len(multiprocessing.active_children()) == before


def test_minimum_fidelity_above_what_the_link_delivers_is_refused_on_both_sides():
    run = run_app_dir(APPS / "min_fidelity", "nv", seed=1, preset="realistic", timeout_s=30)
    for role in ("alice", "bob"):
        assert "below the minimum 0.99" in run.errors[role]
    assert all(s["allocated_qubits"] == 0 for s in run.stats.values())
    relaxed = run_app_dir(APPS / "min_fidelity", "nv", seed=1, preset="realistic", timeout_s=30,
                          overrides={"alice": {"min_fidelity": 50}, "bob": {"min_fidelity": 50}})
    assert relaxed.ok, relaxed.errors

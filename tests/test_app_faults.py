"""Faults at application level: a peer that fails, a peer that does not exist, a peer that never
answers. Each must end in a clear error for the application that waits (naming the peer), in time,
with every qubit freed and every process of the run ended, in every execution mode.

The small application directories are in ``tests/apps/fault_*`` (plain NetQASM SDK code).
"""
from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from qnodeos.apps.runner import run_app_dir

APPS = Path(__file__).parent / "apps"
PLATFORMS = ("nv", "trapped_ion")
MODES = ("threads", "processes")
#: wall-clock limit of a socket receive: only a peer process that died silently would reach it, so a
#: test that ends well below it shows the fault was detected, not waited out
RECV_TIMEOUT_S = 20.0
#: how long a promptly detected fault may take (forking the nodes and the world process included),
#: generous for a loaded machine
SLACK_S = 8.0
#: what an application waiting on a failed peer must be told: the peer, and why
PEER_FAILED = re.compile(r"left the network|aborted by|ended|nothing left to do|will ever arrive")


@pytest.fixture(autouse=True, scope="module")
def _private_tempdir(tmp_path_factory):
    """The runner leaves a ``qnodeos-app-*`` log directory per run in the temporary directory; keep
    them in pytest's own (cleaned-up) directory, where tools that sweep ``/tmp/qnodeos-app-*`` in
    parallel cannot delete them under a running application."""
    old = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("app-logs"))
    yield
    tempfile.tempdir = old


@pytest.fixture(params=PLATFORMS)
def platform(request) -> str:
    return request.param


@pytest.fixture(params=MODES)
def mode(request) -> str:
    return request.param


def run(app: str, platform: str, mode: str, overrides: dict[str, dict[str, Any]] | None = None,
        **kwargs: Any) -> tuple[Any, float]:
    """Run ``tests/apps/<app>``; return (run, wall-clock seconds)."""
    kwargs.setdefault("timeout_s", 30.0)
    kwargs.setdefault("recv_timeout_s", RECV_TIMEOUT_S)
    kwargs["mode"] = mode
    start = time.monotonic()
    result = run_app_dir(APPS / app, platform, seed=11, overrides=overrides, **kwargs)
    return result, time.monotonic() - start


def assert_cleaned_up(result: Any) -> None:
    """No qubit is still allocated on any node and no process of the run is still open."""
    assert result.stats, "run_app_dir reported no node stats"
    for node, stats in result.stats.items():
        assert stats["allocated_qubits"] == 0, f"node {node} still has qubits allocated: {stats}"
        still_open = {name: state for name, state in stats["processes"].items() if state not in ("done", "failed")}
        assert not still_open, f"node {node}: processes still open after the run: {still_open}"


# ---- a peer that raises -------------------------------------------------------------------------
@pytest.mark.parametrize("when", ["before_connect", "before_recv"])
def test_peer_raises_before_receiving(platform, mode, when):
    """bob raises before its recv_keep: alice's create_keep fails at once with an error naming bob and
    why (bob's node left, or the network has nothing left to do), bob's own error is reported, nothing
    leaks."""
    result, elapsed = run("fault_peer_raises", platform, mode, {"bob": {"when": when}})
    assert set(result.errors) == {"alice", "bob"}, result.errors
    assert "RuntimeError" in result.errors["bob"] and "bob fails" in result.errors["bob"]
    alice = result.errors["alice"]
    assert "bob" in alice and PEER_FAILED.search(alice), alice
    assert elapsed < SLACK_S, f"took {elapsed:.1f} s"
    assert result.results["alice"] is None
    assert_cleaned_up(result)


def test_peer_raises_holding_its_qubit(platform, mode):
    """bob receives its half, then raises: alice (who measured hers) is unaffected; bob's qubit
    is freed."""
    result, _ = run("fault_peer_raises", platform, mode, {"bob": {"when": "holding"}})
    assert set(result.errors) == {"bob"}, result.errors
    assert "bob fails holding its qubit" in result.errors["bob"]
    assert result.results["alice"]["m"] in (0, 1)
    assert_cleaned_up(result)


def test_peer_raises_leaves_the_nodes_clean_in_process(platform):
    """The same, on a network built here, so the nodes themselves can be inspected afterwards: no
    qubit allocated, no EPR request pending or active, no process left open."""
    from qnodeos.apps.local_network import LocalNetwork
    from qnodeos.apps.runner import _RUN_LOCK, bind_netqasm, import_mains, load_app_dir, run_roles
    from qnodeos.apps.sockets import socket_classes

    app = load_app_dir(APPS / "fault_peer_raises")
    with _RUN_LOCK:
        network = LocalNetwork(platform, app.nodes, seed=5, preset="ideal", node_of_role=app.node_of_role)
        try:
            bind_netqasm(network.directory, *socket_classes(network.directory, RECV_TIMEOUT_S))
            mains = import_mains(app)
            network.register_hosts(app.roles)
            network.start()
            result = run_roles(app, mains, overrides={"bob": {"when": "before_recv"}}, timeout_s=30,
                               on_end=lambda role: network.directory.service_of_app(role).host_done(role))

            def inspect_node(service: Any) -> dict[str, Any]:
                node = service.node
                return {"allocated": node.memory.allocated(), "egp_busy": service.egp.busy(),
                        "open": {p.name: p.state.value for p in node.processes() if not p.finished}}

            state = {name: service.snapshot(lambda s=service: inspect_node(s))
                     for name, service in network.services.items()}
        finally:
            network.stop()
    assert "bob" in result.errors.get("alice", ""), result.errors
    for name, s in state.items():
        assert s == {"allocated": {}, "egp_busy": False, "open": {}}, f"node {name}: {s}"


# ---- a peer that does not exist ------------------------------------------------------------------
def test_epr_socket_to_an_application_that_does_not_exist(platform, mode):
    """EPRSocket("nobody"): alice fails at once with an error naming the missing application; the
    other application on the network is unaffected."""
    result, elapsed = run("fault_unknown_peer", platform, mode)
    assert set(result.errors) == {"alice"}, result.errors
    assert "nobody" in result.errors["alice"], result.errors["alice"]
    assert elapsed < SLACK_S, f"an unknown peer should fail at once, took {elapsed:.1f} s"
    assert result.results["bob"] == {"m": 1}
    assert_cleaned_up(result)


def test_epr_socket_to_an_application_on_the_same_node(platform, mode):
    """alice and carol share a node (roles.yaml): entanglement between them is impossible; both
    fail at once (not by a timeout), and nothing is left open."""
    result, elapsed = run("fault_same_node_peer", platform, mode)
    assert set(result.errors) == {"alice", "carol"}, result.errors
    assert elapsed < SLACK_S, f"took {elapsed:.1f} s"
    assert result.results["bob"] == {"idle": True}
    assert_cleaned_up(result)


def test_pair_count_mismatch(platform, mode):
    """alice creates 2 pairs, bob receives 1: both get an error that says so, at once."""
    result, elapsed = run("fault_pair_count_mismatch", platform, mode)
    assert set(result.errors) == {"alice", "bob"}, result.errors
    for role in ("alice", "bob"):
        assert "2" in result.errors[role] and "1" in result.errors[role], result.errors[role]
    assert "bob" in result.errors["alice"]
    assert elapsed < SLACK_S, f"took {elapsed:.1f} s"
    assert_cleaned_up(result)


# ---- a peer that never answers -------------------------------------------------------------------
def test_recv_from_a_peer_that_never_sends(platform, mode):
    """alice's Socket.recv() on a socket bob never writes to: once bob has ended (its node left, or
    nothing else can happen), alice gets an error naming bob — at once, not after the wall-clock
    receive limit."""
    result, elapsed = run("fault_silent_peer", platform, mode)
    assert set(result.errors) == {"alice"}, result.errors
    error = result.errors["alice"]
    assert "bob" in error and (error.startswith("TimeoutError") or "left the network" in error), error
    assert elapsed < SLACK_S < RECV_TIMEOUT_S, f"took {elapsed:.1f} s"
    assert result.results["bob"] == {"sent": False}
    assert_cleaned_up(result)


def test_a_healthy_run_after_a_fault(platform, mode):
    """Nothing of a failed run spills into the next run on the same platform."""
    failed, _ = run("fault_peer_raises", platform, mode, {"bob": {"when": "before_recv"}})
    assert not failed.ok
    result, _ = run("teleport_state", platform, mode, {"sender": {"theta": 3.141592653589793}})
    assert result.ok, result.errors
    assert result.results["receiver"]["m1"] == result.results["sender"]["m1"]
    assert_cleaned_up(result)

"""Fault injection between nodes (classical control messages) and between a node and its driver.

After every fault the same invariants are checked:

* every application role / submitted program ends with a result or an error: nothing hangs (a
  request or a receive that can no longer be answered ends when the network has nothing left to do;
  a counted message lost on the wire is given up after 1 s; role timeout 15 s);
* no qubit is left allocated and no process is left open on either node;
* the entanglement tables agree: both empty once every application has ended;
* where an application succeeded its results are right: on the ideal trapped-ion link every pair is a
  perfect Phi+, so both sides' Z outcomes are equal and a teleported |1> arrives as 1;
* the network is still healthy: the same applications, run again on the same nodes with the faults
  switched off, succeed (a duplicated request left behind, or a dead node loop, would show here).

Control-message faults are injected at two layers:

* ``wire``: under the mailbox, on the bytes the mailbox framed (a ZeroMQ socket subclass behind the
  mailbox's context) -- what a misbehaving network does; whatever the mailbox puts in its envelope
  (sequence numbers, MACs) is dropped, delayed, duplicated or reordered with the message;
* ``send``: a :class:`Mailbox` subclass whose ``send`` misbehaves -- the same message handed to the
  mailbox twice, or two messages handed over in swapped order (the EGP must then cope on its own).

Peer nodes dying mid-request: ``tests/test_network_faults.py``; controller-link faults (timeouts,
disconnects, garbled replies) of lab drivers: ``tests/test_shim_faults.py``.
"""
from __future__ import annotations

import contextlib
import os
import sys
import heapq
import itertools
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import msgpack
import numpy as np
import pytest
import zmq

from qnodeos import Node
from qnodeos.apps.local_network import LocalNetwork
from qnodeos.apps.runner import _RUN_LOCK, AppRun, bind_netqasm, import_mains, load_app_dir, run_roles
from qnodeos.apps.sockets import socket_classes
from qnodeos.drivers.device_server import DeviceServer
from qnodeos.drivers.mock_ion import MockIonDevice
from qnodeos.drivers.remote_device import RemoteQDevice
from qnodeos.hal import DeviceFault, EntangleAttempt, Measure, QDevice
from qnodeos.network.mailbox import Mailbox

PAIRS = Path(__file__).parent / "fault_apps" / "pairs"
ALL_PAIRS = [1, 2, 3]
RECV_TIMEOUT_S = 10.0
ROLE_TIMEOUT_S = 15.0
#: wall-clock wait for a message the time coordinator counted but the wire lost
MESSAGE_WAIT_S = 1.0
#: what an application error caused by a lost message must say (a request or a message that can no
#: longer come, an abort)
CLEAR_TIMEOUT = re.compile(r"timed out|aborted by|nothing left to do|will ever arrive|no message from .* within")


# =====================================================================================================
# fault plans and their injector
# =====================================================================================================
@dataclass
class Faults:
    """What to do to control messages of ``kinds`` (and, if given, only those ``select`` accepts)."""

    kinds: tuple[str, ...] = ("egp",)
    drop: float = 0.0  # probability a message is lost
    duplicate: float = 0.0  # probability a message is delivered twice
    reorder: float = 0.0  # probability a message is held back and overtaken by the next one on its link
    delay_s: tuple[float, float] = (0.0, 0.0)  # uniform extra latency (order kept per link)
    select: Callable[[str, dict], bool] | None = None  # (kind, body) -> inject into this one?
    limit: int | None = None  # at most this many messages are tampered with
    hold_s: float = 0.1  # a held-back message with no successor goes out alone after this long
    seed: int = 0


class Courier:
    """One thread delivering scheduled messages at their due time, in (due, submission) order."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._run, name="fault-courier", daemon=True)
        self._thread.start()

    def at(self, due: float, fn: Callable[[], None]) -> None:
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._seq), fn))
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cond.wait(None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic()))
                if self._stopped:
                    return
                _, _, fn = heapq.heappop(self._heap)
            try:
                fn()
            except Exception as exc:  # the link is closed (network stopped): the message is lost
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=2)


class Injector:
    """Applies a :class:`Faults` plan to messages, link by link; counts what it did."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.enabled = True
        self.counts: Counter[str] = Counter()
        self._rng = np.random.default_rng(faults.seed)
        self._lock = threading.Lock()
        self._held: dict[Any, tuple[Callable[[], None], Callable[[], None], int, Any]] = {}
        self._last_due: dict[Any, float] = {}
        self._tampered = 0
        self.courier = Courier()

    def submit(self, link: Any, kind: str | None, body: dict, transmit: Callable[[], None],
               transmit_later: Callable[[], None]) -> None:
        """Deliver (or not) one message: ``transmit()`` puts it on the link once, from the sender's
        thread; ``transmit_later()`` does the same from the courier's thread."""
        f = self.faults
        now = time.monotonic()
        actions: list[Callable[[], None]] = []
        with self._lock:
            self.counts[f"seen {kind}"] += 1
            chosen = (self.enabled and kind in f.kinds and (f.select is None or f.select(kind, body))
                      and (f.limit is None or self._tampered < f.limit))
            if not chosen:
                actions.append(transmit)
            else:
                rng = self._rng
                if rng.random() < f.drop:
                    self._tampered += 1
                    self.counts["dropped"] += 1
                    return
                copies = 2 if rng.random() < f.duplicate else 1
                if copies == 2:
                    self._tampered += 1
                    self.counts["duplicated"] += 1
                held = self._held.pop(link, None)
                if held is None and rng.random() < f.reorder:
                    self._tampered += 1
                    entry = (transmit, transmit_later, copies, (kind, body.get("sid")))
                    self._held[link] = entry
                    self.counts["held back"] += 1
                    self.courier.at(now + f.hold_s, lambda: self._release(link, entry))
                    return
                lo, hi = f.delay_s
                due = max(now + (float(rng.uniform(lo, hi)) if hi > 0 else 0.0), self._last_due.get(link, 0.0))
                if due > now:
                    self.counts["delayed"] += 1
                    self._last_due[link] = due
                sends = [(transmit, transmit_later)] * copies
                if held is not None:  # this message overtakes the held-back one
                    self.counts["reordered"] += 1
                    if held[3] == (kind, body.get("sid")):
                        self.counts[f"reordered {kind} on one socket"] += 1
                    sends += [held[:2]] * held[2]
                if due > now:
                    for _, fn in sends:
                        self.courier.at(due, fn)
                else:
                    actions.extend(fn for fn, _ in sends)
        for fn in actions:
            fn()

    def _release(self, link: Any, entry: tuple[Callable[[], None], Callable[[], None], int, Any]) -> None:
        with self._lock:
            if self._held.get(link) is not entry:
                return  # already overtaken and sent
            del self._held[link]
            self.counts["held back, sent alone"] += 1
        for _ in range(entry[2]):
            entry[1]()

    @property
    def tampered(self) -> int:
        return self._tampered

    def close(self) -> None:
        self.courier.stop()


# ---- layer "send": a Mailbox whose send() misbehaves ------------------------------------------------
class FaultyMailbox(Mailbox):
    """Hands messages to the real :meth:`Mailbox.send` dropped, late, twice or out of order."""

    injector: Injector

    def send(self, peer: str, kind: str, /, **body: Any) -> None:
        def transmit() -> None:
            Mailbox.send(self, peer, kind, **body)
        self.injector.submit((self.node, peer), kind, body, transmit, transmit)


# ---- layer "wire": the framed bytes on a mailbox's outbound sockets misbehave -----------------------
class WireTapMailbox(Mailbox):
    """A Mailbox whose outbound (per-peer) sockets pass every frame through an :class:`Injector`.

    The tap sits under :meth:`Mailbox.send`, so whatever the mailbox puts in its envelope travels
    with the message. It wraps the sockets the mailbox keeps per peer (``_peers``) and sends late
    frames under the mailbox's own send lock (``_send_lock``): if those internals change, this class
    must follow (a ``context``/socket hook honoured in secure mode would avoid it)."""

    injector: Injector

    def connect(self, peer: str, address: str) -> None:
        super().connect(peer, address)
        peers, lock = getattr(self, "_peers", None), getattr(self, "_send_lock", None)
        if not isinstance(peers, dict) or lock is None or peer not in peers:
            pytest.fail("Mailbox no longer keeps its per-peer sockets in _peers / _send_lock: update the wire tap")
        with lock:
            peers[peer] = _TappedSocket(peers[peer], self.injector, lock, (self.node, peer))


class _TappedSocket:
    def __init__(self, sock: zmq.Socket, injector: Injector, lock: Any, link: Any) -> None:
        self._sock, self._injector, self._lock, self._link = sock, injector, lock, link

    def _submit(self, frames: list[Any], raw: Callable[[], Any]) -> None:
        def later() -> None:
            with self._lock:  # the courier's thread: serialise with the mailbox's own sends and close
                raw()
        kind, body = _envelope(frames)
        self._injector.submit(self._link, kind, body, raw, later)  # now: the mailbox holds its lock

    def send(self, data: Any, *args: Any, **kwargs: Any) -> None:
        self._submit([data], lambda: self._sock.send(data, *args, **kwargs))

    def send_multipart(self, parts: Any, *args: Any, **kwargs: Any) -> None:
        parts = list(parts)
        self._submit(parts, lambda: self._sock.send_multipart(parts, *args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _envelope(frames: list[Any]) -> tuple[str | None, dict]:
    """(kind, body) of a framed mailbox message, or (None, {}) if no frame decodes as an envelope."""
    for frame in frames:
        try:
            env = msgpack.unpackb(bytes(frame), raw=False)
        except Exception:
            continue
        if isinstance(env, dict) and "kind" in env:
            body = env.get("body")
            return env["kind"], body if isinstance(body, dict) else {}
    return None, {}


# =====================================================================================================
# a two-node network with faulty links, and the checks
# =====================================================================================================
@dataclass
class Outcome:
    run: AppRun
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # node -> snapshot after the run
    counts: Counter = field(default_factory=Counter)
    healthy: AppRun | None = None
    nodes_after_health: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0


def _snapshot(service: Any) -> dict[str, Any]:
    if not _loop_alive(service):
        return {"dead": "its thread has ended"}

    def read() -> dict[str, Any]:
        node = service.node
        return {"allocated": dict(node.memory.allocated()),
                "entanglement": sorted((r.remote_node, r.pair_id) for r in node.memory.entanglement.records()),
                "processes": {p.name: p.state.value for p in node.processes()},
                "open": [p.name for p in node.processes() if not p.finished],
                "egp_busy": service.egp.busy()}
    return service.snapshot(read)


def _settle(network: LocalNetwork, deadline_s: float = 5.0) -> dict[str, dict[str, Any]]:
    """Snapshots once no process is open and the EGPs are idle on every node (or at the deadline)."""
    end = time.monotonic() + deadline_s
    while True:
        snaps = {name: _snapshot(s) for name, s in network.services.items()}
        dead = any("dead" in s for s in snaps.values())
        idle = all("dead" not in s and not s["open"] and not s["egp_busy"] for s in snaps.values())
        if idle or dead or time.monotonic() > end:
            return snaps
        time.sleep(0.05)


def _run_apps(network: LocalNetwork, roles: list[str], overrides: dict | None = None) -> AppRun:
    """Run ``roles`` of the pair applications; stop waiting early if a node's loop dies (its
    applications would otherwise wait for the role timeout)."""
    app = load_app_dir(PAIRS)
    bind_netqasm(network.directory, *socket_classes(network.directory, RECV_TIMEOUT_S))
    mains = import_mains(app)
    box: list[AppRun] = []
    for role in roles:
        network.directory.service_of_app(role).register_host(role)
    runner = threading.Thread(target=lambda: box.append(run_roles(
        app, mains, roles=roles, overrides=overrides, timeout_s=ROLE_TIMEOUT_S,
        on_end=lambda role: network.directory.service_of_app(role).host_done(role))), daemon=True)
    runner.start()
    while runner.is_alive():
        runner.join(0.1)
        dead = [name for name, s in network.services.items() if not _loop_alive(s)]
        if dead and runner.is_alive():
            runner.join(1.0)  # let the roles that can still end do so
            errors = {r: f"did not finish: the loop of node {', '.join(dead)} died" for r in roles}
            return AppRun({r: None for r in roles}, errors)
    return box[0]


def _loop_alive(service: Any) -> bool:
    return service.alive


def roles_of(pairs: list[int]) -> list[str]:
    return [f"{side}{k}" for k in pairs for side in ("alice", "bob")]


@contextlib.contextmanager
def faulty_network(faults: Faults, layer: str = "wire", platform: str = "trapped_ion", seed: int = 1,
                   wrap_device: Callable[[str, QDevice], QDevice] | None = None
                   ) -> Iterator[tuple[LocalNetwork, Injector]]:
    """A started two-node LocalNetwork (authenticated links) whose mailboxes misbehave as ``faults`` says,
    through its ``mailbox_factory`` and ``wrap_device`` hooks."""
    injector = Injector(faults)

    def make_mailbox(node: str, **kwargs: Any) -> Mailbox:
        box = (FaultyMailbox if layer == "send" else WireTapMailbox)(node, **kwargs)
        box.injector = injector
        return box

    app = load_app_dir(PAIRS)
    with _RUN_LOCK:
        network = LocalNetwork(platform, app.nodes, seed=seed, preset="ideal", node_of_role=app.node_of_role,
                               mailbox_factory=make_mailbox, wrap_device=wrap_device)
        for service in network.services.values():
            service.MESSAGE_WAIT_S = MESSAGE_WAIT_S
        try:
            with network:
                yield network, injector
        finally:
            injector.close()


def run_with_faults(faults: Faults, pairs: list[int] = ALL_PAIRS, layer: str = "wire", platform: str = "trapped_ion",
                    seed: int = 1, wrap_device: Callable[[str, QDevice], QDevice] | None = None,
                    health_check: bool = True) -> Outcome:
    t0 = time.monotonic()
    with faulty_network(faults, layer, platform, seed, wrap_device) as (network, injector):
        run = _run_apps(network, roles_of(pairs))
        out = Outcome(run, _settle(network), Counter(injector.counts))
        out.seconds = time.monotonic() - t0
        broken = any("dead" in snap for snap in out.nodes.values()) or \
            any("did not finish" in e for e in run.errors.values())
        if health_check and not broken:  # (a hung or dead node cannot be checked again in bounded time)
            injector.enabled = False
            if wrap_device is not None:
                for service in network.services.values():
                    getattr(service.node.device, "disarm", lambda: None)()
            out.healthy = _run_apps(network, roles_of(pairs))
            out.nodes_after_health = _settle(network)
    return out


def assert_nothing_leaked(nodes: dict[str, dict[str, Any]], when: str = "after the faulty run") -> None:
    for name, snap in nodes.items():
        assert "dead" not in snap, f"{when}: node {name}'s loop does not answer: {snap['dead']}"
        assert snap["allocated"] == {}, f"{when}: qubits still allocated on {name}: {snap['allocated']}"
        assert snap["open"] == [], f"{when}: processes still open on {name}: {snap['open']} ({snap['processes']})"
        assert not snap["egp_busy"], f"{when}: the EGP of {name} still has requests"
    tables = {name: snap["entanglement"] for name, snap in nodes.items()}
    assert all(t == [] for t in tables.values()), f"{when}: entanglement records left: {tables}"


def assert_no_hang(run: AppRun, roles: list[str]) -> None:
    for role in roles:
        assert role in run.results or role in run.errors, f"{role} has neither result nor error"
        assert "did not finish" not in run.errors.get(role, ""), f"{role} hung: {run.errors[role]}"


def assert_pair_correct(run: AppRun, k: int) -> None:
    a, b = run.results[f"alice{k}"], run.results[f"bob{k}"]
    assert a["keep"] == b["keep"], f"pair {k}: create-and-keep outcomes differ: {a['keep']} vs {b['keep']}"
    assert a["md"] == b["md"], f"pair {k}: measure-directly outcomes differ: {a['md']} vs {b['md']}"
    assert b["teleported"] == 1, f"pair {k}: teleported |1> arrived as {b['teleported']}"
    assert b["creator_keep"] == a["keep"], f"pair {k}: the creator's outcomes arrived as {b['creator_keep']}"
    assert a["ack"] == "ack"


def assert_all_succeeded(out: Outcome, pairs: list[int] = ALL_PAIRS) -> None:
    roles = roles_of(pairs)
    assert_no_hang(out.run, roles)
    assert out.run.ok, f"applications failed under {dict(out.counts)}: {out.run.errors}"
    for k in pairs:
        assert_pair_correct(out.run, k)
    assert_nothing_leaked(out.nodes)
    assert_healthy(out, pairs)


def assert_healthy(out: Outcome, pairs: list[int] = ALL_PAIRS) -> None:
    assert out.healthy is not None, "no fault-free rerun (a node hung or died)"
    assert out.healthy.ok, f"the same applications fail on the same nodes after the faults: {out.healthy.errors}"
    for k in pairs:
        assert_pair_correct(out.healthy, k)
    assert_nothing_leaked(out.nodes_after_health, "after the fault-free rerun")


def assert_each_pair_succeeded_or_timed_out(out: Outcome, pairs: list[int] = ALL_PAIRS) -> set[int]:
    """Each pair: both sides right, or both sides a clear timeout/abort error. Returns the failed pairs."""
    run = out.run
    assert_no_hang(run, roles_of(pairs))
    failed = set()
    for k in pairs:
        errs = {r: run.errors[r] for r in (f"alice{k}", f"bob{k}") if r in run.errors}
        if not errs:
            assert_pair_correct(run, k)
            continue
        failed.add(k)
        assert len(errs) == 2, f"pair {k}: only one side reports the failure: {errs}, results {run.results}"
        for role, err in errs.items():
            assert CLEAR_TIMEOUT.search(err), f"{role}: unclear error after a lost message: {err}"
    assert_nothing_leaked(out.nodes)
    assert_healthy(out, pairs)
    return failed


# =====================================================================================================
# control messages: delayed, duplicated, reordered, dropped
# =====================================================================================================
def test_fault_free_baseline():
    out = run_with_faults(Faults(kinds=()))
    assert_all_succeeded(out)
    assert out.counts["seen egp"] > 0 and out.counts["seen app"] > 0  # the tap sees both kinds


@pytest.mark.parametrize("platform,pairs", [("trapped_ion", ALL_PAIRS), ("nv", [1])])
def test_delayed_control_messages_still_succeed(platform, pairs):
    out = run_with_faults(Faults(kinds=("egp", "app"), delay_s=(0.005, 0.08), seed=3), pairs, platform=platform)
    assert out.counts["delayed"] >= 5, out.counts
    if platform == "trapped_ion":
        assert_all_succeeded(out, pairs)
    else:  # NV's single-click pair is not a perfect Phi+: check completion and bookkeeping only
        assert_no_hang(out.run, roles_of(pairs))
        assert out.run.ok, out.run.errors
        assert_nothing_leaked(out.nodes)


@pytest.mark.parametrize("layer,kinds", [("wire", ("egp",)), ("wire", ("app",)), ("send", ("egp",))],
                         ids=["wire-egp", "wire-app", "send-egp"])
def test_duplicated_control_messages_still_succeed(layer, kinds):
    """Every selected message arrives twice (wire: the same bytes; send: handed to the mailbox twice)."""
    out = run_with_faults(Faults(kinds=kinds, duplicate=1.0, seed=5), layer=layer)
    assert out.counts["duplicated"] >= 10, out.counts
    assert_all_succeeded(out)


@pytest.mark.parametrize("layer,kinds", [("wire", ("egp",)), ("wire", ("app",)), ("send", ("egp",))],
                         ids=["wire-egp", "wire-app", "send-egp"])
def test_reordered_control_messages_still_succeed(layer, kinds):
    """Every other selected message is held back until the next one on its link has overtaken it
    (or for 0.15 s): EGP messages of different requests swap, and so do the two messages a creator
    sends back to back on one application socket."""
    out = run_with_faults(Faults(kinds=kinds, reorder=1.0, hold_s=0.15, seed=7), layer=layer)
    assert out.counts["reordered"] >= 2, out.counts
    if "app" in kinds:
        assert out.counts["reordered app on one socket"] >= 1, out.counts
    assert_all_succeeded(out)


@pytest.mark.parametrize("seed", [11, 12])
def test_dropped_control_messages_end_cleanly_on_both_sides(seed):
    """A fifth of all EGP messages is lost: each pair either succeeds, or both its sides end with a
    clear timeout/abort error; nothing is leaked and the nodes serve the next applications."""
    out = run_with_faults(Faults(kinds=("egp",), drop=0.2, seed=seed))
    assert out.counts["dropped"] >= 1, out.counts
    assert_each_pair_succeeded_or_timed_out(out)
    assert out.seconds < 15


@pytest.mark.parametrize("what", ["create", "accept"])
def test_lost_first_request_message_times_out_on_both_sides(what):
    out = run_with_faults(Faults(kinds=("egp",), drop=1.0, limit=1, select=lambda k, b: b.get("what") == what),
                          pairs=[1])
    assert out.counts["dropped"] == 1, out.counts
    assert assert_each_pair_succeeded_or_timed_out(out, [1]) == {1}
    assert "bob" in out.run.errors["alice1"] and "not accepted" in out.run.errors["alice1"], out.run.errors


def test_lost_application_message_ends_both_roles_with_a_timeout():
    """The teleportation corrections never arrive: the receiver's socket times out naming the sender,
    the sender's wait for the acknowledgement times out too; the receiver's EPR half is freed."""
    out = run_with_faults(Faults(kinds=("app",), drop=1.0, select=lambda k, b: b.get("item", [0, 0])[1] == "corrections"),
                          pairs=[1])
    assert out.counts["dropped"] == 1, out.counts
    assert "no message from alice1" in out.run.errors["bob1"]
    assert "no message from bob1" in out.run.errors["alice1"]
    assert_nothing_leaked(out.nodes)
    assert_healthy(out, [1])


# =====================================================================================================
# drivers that raise or hang
# =====================================================================================================
class FlakyDevice(QDevice):
    """Wraps a device; the ``fail_on``-th executed instruction that ``match`` selects raises ``error``,
    or hangs (until ``release`` is set, or for ``hang_s``). Everything else is delegated."""

    def __init__(self, inner: QDevice, fail_on: int, *, error: Exception | None = None,
                 release: threading.Event | None = None, hang_s: float | None = None,
                 match: Callable[[Any], bool] = lambda instr: True) -> None:
        self.inner, self.fail_on, self.error, self.release, self.hang_s = inner, fail_on, error, release, hang_s
        self.match = match
        self.node = inner.node
        self.simulated = inner.simulated
        self.seen = 0
        self.tripped = 0
        self.armed = True

    def disarm(self) -> None:
        self.armed = False

    @property
    def capabilities(self):
        return self.inner.capabilities

    @property
    def now_ns(self) -> int:
        return self.inner.now_ns

    def execute(self, instruction):
        if self.armed and self.match(instruction):
            self.seen += 1
            if self.seen == self.fail_on:
                self.tripped += 1
                if self.error is not None:
                    raise self.error
                if self.release is not None:
                    self.release.wait(self.hang_s)
                elif self.hang_s is not None:
                    time.sleep(self.hang_s)
        return self.inner.execute(instruction)

    def reset(self) -> None:
        self.inner.reset()

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:  # density_matrix, state_space, ... of the mock device
        return getattr(self.__dict__["inner"], name)


X_PROGRAM = """# NETQASM 1.0
# APPID 0
set Q0 0
qalloc Q0
set Q1 1
qalloc Q1
init Q0
init Q1
x Q0
meas Q0 M0
meas Q1 M1
ret_reg M0
ret_reg M1
qfree Q0
qfree Q1
"""


def ion(seed: int = 1) -> MockIonDevice:
    return MockIonDevice.from_config(node="alice", seed=seed, preset="ideal")


def run_programs(node: Node, n: int) -> list[int]:
    pids = [node.submit(X_PROGRAM, name=f"p{i}") for i in range(n)]
    node.run()
    return pids


@pytest.mark.parametrize("error", [DeviceFault("injected: controller lost"), RuntimeError("injected: driver bug")],
                         ids=["DeviceFault", "RuntimeError"])
@pytest.mark.parametrize("k", [1, 7, 14])
def test_driver_raising_fails_only_the_process_it_served(error, k):
    device = FlakyDevice(ion(), k, error=error)
    node = Node(device, name="alice")
    pids = run_programs(node, 5)
    results = [node.result(p) for p in pids]
    failed = [r for r in results if not r.ok]
    assert device.tripped == 1 and len(failed) == 1, [(r.name, r.state, r.error) for r in results]
    assert type(error).__name__ in failed[0].error and "injected" in failed[0].error
    assert all(r.registers == {"M0": 1, "M1": 0} for r in results if r.ok)
    assert node.memory.allocated() == {}
    # the node keeps serving: a program submitted after the fault runs normally
    (again,) = run_programs(node, 1)
    assert node.result(again).registers == {"M0": 1, "M1": 0} and node.memory.allocated() == {}


@contextlib.contextmanager
def served(device: QDevice, timeout_s: float) -> Iterator[RemoteQDevice]:
    server = DeviceServer({"alice": device}).start()
    remote = RemoteQDevice(server.addresses["alice"]["device"], timeout_s=timeout_s)
    try:
        yield remote
    finally:
        remote.close()
        server.close()


def test_remote_driver_hanging_once_fails_that_process_then_serves_the_others():
    """One execute takes 0.6 s on a remote device with a 0.4 s timeout: the process it served fails with
    a DeviceTimeout naming the server; the others, queued behind it, are all served (a hang longer than
    twice the timeout would also time out the next request, queued behind the hung one)."""
    flaky = FlakyDevice(ion(), 5, hang_s=0.6)
    with served(flaky, timeout_s=0.4) as remote:
        node = Node(remote, name="alice")
        t0 = time.monotonic()
        pids = run_programs(node, 4)
        elapsed = time.monotonic() - t0
        results = [node.result(p) for p in pids]
        failed = [r for r in results if not r.ok]
        assert len(failed) == 1, [(r.name, r.error) for r in results]
        assert "DeviceTimeout" in failed[0].error and remote.address in failed[0].error
        assert all(r.registers == {"M0": 1, "M1": 0} for r in results if r.ok)
        assert node.memory.allocated() == {}
        assert elapsed < 3


def test_remote_driver_hanging_forever_fails_every_process_in_bounded_time():
    """A device that never answers again: each process fails with a DeviceTimeout within the timeout
    (a wedged single-threaded device cannot serve anyone), the node returns, nothing stays allocated."""
    release = threading.Event()
    flaky = FlakyDevice(ion(), 3, release=release)
    try:
        with served(flaky, timeout_s=0.3) as remote:
            node = Node(remote, name="alice")
            t0 = time.monotonic()
            pids = run_programs(node, 3)
            elapsed = time.monotonic() - t0
            results = [node.result(p) for p in pids]
            assert all(not r.ok and "DeviceTimeout" in r.error for r in results), [(r.name, r.error) for r in results]
            assert node.memory.allocated() == {}
            assert elapsed < 3 * 0.3 + 1.5
    finally:
        release.set()


def _called_from_egp() -> bool:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.endswith(os.path.join("network", "egp.py")):
            return True
        frame = frame.f_back
    return False


def _flaky_bob(fail_on: int, match: Callable[[Any], bool], error: Exception):
    made: dict[str, FlakyDevice] = {}

    def wrap(name: str, device: QDevice) -> QDevice:
        if name != "bob":
            return device
        made[name] = FlakyDevice(device, fail_on, error=error, match=match)
        return made[name]
    return wrap, made


@pytest.mark.parametrize("where", ["gate", "entangle"])
def test_driver_raising_under_a_network_application(where):
    """Bob's driver raises once, on a gate of an application or on an entanglement attempt of the EGP:
    the application pair it served ends with an error naming the fault (its peer with a clear
    timeout/abort), the other pairs succeed, nothing is leaked, and the node loop keeps serving."""
    if where == "entangle":
        match = lambda i: isinstance(i, EntangleAttempt)  # noqa: E731
    else:  # a measurement of an application's subroutine (not one the EGP makes for measure-directly)
        match = lambda i: isinstance(i, Measure) and not _called_from_egp()  # noqa: E731
    wrap, made = _flaky_bob(4, match, DeviceFault(f"injected: {where} failed"))
    out = run_with_faults(Faults(kinds=()), wrap_device=wrap)
    assert made["bob"].tripped == 1
    run = out.run
    assert_no_hang(run, roles_of(ALL_PAIRS))
    # the faulty node's role names the fault; its peer's abort may quote it too
    named = [r for r, e in run.errors.items() if "DeviceFault" in e and f"injected: {where} failed" in e
             and "aborted by" not in e]
    assert len(named) == 1 and named[0].startswith("bob"), run.errors
    k = int(named[0][3:])
    assert CLEAR_TIMEOUT.search(run.errors.get(f"alice{k}", "")), run.errors
    for other in set(ALL_PAIRS) - {k}:
        assert f"alice{other}" not in run.errors and f"bob{other}" not in run.errors, run.errors
        assert_pair_correct(run, other)
    assert_nothing_leaked(out.nodes)
    assert_healthy(out)

"""A node running as a service on a simulated network: its OS, its network stack and its hosts.

The node takes part in the network's timeline (:class:`qnodeos.hal.timeline.TimeCoordinator`): it
reports when it will next act, waits for its turn, and then processes its own events in time order
until another node's event comes first (see docs/architecture.md, "Time across the network"):

* host events, at their exact time: a result or a message reaching an application host;
* QNPU events, when the QNPU gets to them: a subroutine arriving, a control message, a timer;
  processes run one step at a time, the network process first;
* while idle, the network stack keeps *standing* entanglement attempts on its links; the coordinator
  ends them with a herald, or when the node has something else to do (after the current bin).

Application hosts call in from their own threads (:meth:`open_app`, :meth:`run_subroutine`,
:meth:`send_app_message`, :meth:`recv_app_message`, ...). Each call is stamped with the host's clock
and the configured host ↔ QNPU latency, and the node acts only once every host waits on it, so the
outcome never depends on how fast any thread runs.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import threading
import time
import weakref
from collections import deque
from typing import Any, Callable

from qnodeos.hal.timeline import Delivery, Grant, LeftNetwork, NetworkSchedule, SyncReport, TimeCoordinator

from ..apps.app_sockets import Key, NodeSockets
from ..apps.hosts import HostRuntime, Reply
from ..errors import DeadlockError, ExecutionError, QNodeOSError
from ..network_process import NodePort
from ..node import Node
from ..process import Process, SubroutineResult
from .egp import EntanglementService
from .events import HOST, QNPU, EventQueue
from .mailbox import Mailbox
from .timing import NetworkTiming


class NodeService:
    """Owns a :class:`Node`, its mailbox, its EGP and its application hosts; runs them on one thread."""

    TRACE_ROWS = 200_000
    #: wall-clock limits: a coordinator that never answers, a counted message that never arrives
    SYNC_TIMEOUT_S = 900.0
    MESSAGE_WAIT_S = 10.0
    #: received messages kept for delivery (a peer flooding unannounced messages cannot grow memory)
    MAX_RECEIVED = 1 << 16

    def __init__(self, node: Node, mailbox: Mailbox | None, node_ids: dict[str, int], *,
                 coordinator: TimeCoordinator, schedule: NetworkSchedule, timing: NetworkTiming | None = None,
                 node_of_app: dict[str, str] | None = None, request_timeout_s: float | None = None,
                 seed: int | None = None, host_timeout_s: float = 600.0, settle_timeout_s: float = 300.0) -> None:
        self.node = node
        self.name = node.name
        node.trace.bound(self.TRACE_ROWS)  # a service runs for long: keep a bounded timeline
        self.mailbox = mailbox
        self.node_ids = node_ids
        self.coordinator = coordinator
        self.timing = timing or NetworkTiming()
        self.node_of_app = dict(node_of_app or {})
        self.host_timeout_s = host_timeout_s
        self.hosts = HostRuntime(node.name, settle_timeout_s)
        self.sockets = NodeSockets()
        self.events = EventQueue()
        self.port = NodePort(node)
        self.egp = EntanglementService(self.port, self._send_control, self._timer, node_ids, schedule=schedule,
                                       timing=self.timing, request_timeout_s=request_timeout_s, seed=seed)
        self.work = node.attach_network(self.egp)
        self._posted: list[tuple[float, int, Callable[[], Any]]] = []
        self._pids_of_host: dict[str, set[int]] = {}  # open processes per host (ended if the host vanishes)
        self._post_lock = threading.Lock()
        self._received: dict[tuple[str, int], tuple[str, dict, int | None]] = {}
        self._mail = threading.Condition()
        self._subroutine_replies: dict[int, Reply] = {}
        self._outstanding: "weakref.WeakSet[Reply]" = weakref.WeakSet()  # every unanswered host request
        self._heralds: tuple = ()
        self._bound, self._inclusive, self._earliest_send = 0.0, False, math.inf
        self._grant_now = 0
        self._last_event_ns = 0
        self._last_delivery: dict[str, int] = {}  # per peer: latest delivery time handed over
        self.lost_messages = 0
        self.late_messages = 0
        self.grants = 0
        self._calls = itertools.count(1)
        self._history: deque[tuple[int, float]] = deque(maxlen=self.HISTORY)
        self._act_lock = threading.RLock()  # held while the node acts; snapshot() reads under it
        self._stop = threading.Event()
        self._sync_lock = threading.Lock()
        self._in_sync = False
        self._sync_report: SyncReport | None = None  # the report of the sync the loop waits in
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"qnodeos-{node.name}", daemon=True)
        if mailbox is not None:
            mailbox.on_any(self._on_mail)
            mailbox.on_sent(self._sent_while_waiting)

    # ---- life cycle ---------------------------------------------------------------------------
    def start(self) -> "NodeService":
        if self.mailbox is not None:
            self.mailbox.start()
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        """Whether the node's loop is running."""
        return self._thread.is_alive()

    def stop(self) -> None:
        """Leave the network (after reporting what was sent), end the loop, answer every waiting host."""
        with self._sync_lock:
            self._stop.set()
            waiting = self._in_sync or not self._thread.is_alive()
            pending = self._sync_report if self._in_sync else None
        if waiting:  # the loop waits for its turn: wake it by leaving. Its last report may still be on
            # its way (a remote coordinator takes syncs and leaves on different sockets): the leave
            # repeats it, so that the messages it lists are delivered whichever arrives first
            try:
                self.coordinator.leave(self.name, pending)
            except Exception:  # a remote coordinator that is already gone
                pass
        self.hosts.close()  # nor does it wait for a host that still runs (a hung role)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._answer_all(QNodeOSError(f"node {self.name} stopped"))
        if self.mailbox is not None:
            self.mailbox.close()

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None = 60.0) -> Any:
        """Run ``fn(*args)`` on the node (its QNPU, at the network's current time) and return its
        result or raise its error — for scripts and tools that act on a running node."""
        if not self._thread.is_alive() or threading.current_thread() is self._thread:
            return fn(*args)
        name = f"call#{next(self._calls)}"
        self.register_host(name)
        try:
            return self._request(name, f"running {getattr(fn, '__name__', 'a call')}", lambda: fn(*args),
                                 latency=False, timeout_s=timeout)
        finally:
            self.hosts.remove(name)

    def snapshot(self, fn: Callable[[], Any]) -> Any:
        """Call ``fn`` while the node is not acting (to read its state from another thread)."""
        with self._act_lock:
            return fn()

    # ---- the loop -------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            with self._act_lock:
                self._settle()
            while True:
                with self._act_lock:
                    report = self._report()
                with self._sync_lock:
                    if self.mailbox is not None:  # sent between the report and now
                        report = dataclasses.replace(report, sent=report.sent + tuple(self.mailbox.drain_sent()))
                    if self._stop.is_set():  # leave with the last report (messages sent since)
                        self.coordinator.leave(self.name, report)
                        return
                    self._in_sync, self._sync_report = True, report
                try:
                    grant = self.coordinator.sync(self.name, report, timeout_s=self.SYNC_TIMEOUT_S)
                finally:
                    with self._sync_lock:
                        self._in_sync = False
                with self._act_lock:
                    self._act(grant)
        except LeftNetwork:
            pass
        except BaseException as exc:  # the node cannot go on: fail everything that waits on it
            self.error = exc
            self.node.fail_waiting(exc)
            self._answer_all(QNodeOSError(f"node {self.name} failed: {type(exc).__name__}: {exc}"))
            try:
                self.coordinator.leave(self.name)
            except Exception:
                pass

    def _act(self, grant: Grant) -> None:
        self.grants += 1
        self._bound, self._inclusive, self._earliest_send = grant.bound_ns, grant.inclusive, math.inf
        self._grant_now = grant.now_ns
        for delivery in grant.deliveries:
            level = HOST if delivery.host else QNPU
            self.events.push(delivery.deliver_ns, level, functools.partial(self._dispatch, delivery))
            last = self._last_delivery.get(delivery.src, 0)
            self._last_delivery[delivery.src] = max(last, delivery.deliver_ns)
        for peer in grant.gone:  # after whatever it sent before leaving has been delivered
            if grant.quiescent:  # nothing is in flight: say why requests fail before failing them as idle
                self.work.post(functools.partial(self.egp.peer_gone, peer))
                self._fail_socket_waits_on(peer)
                continue
            after = max(grant.now_ns, self._last_delivery.get(peer, 0))
            self.events.push(after, QNPU, functools.partial(self.work.post, functools.partial(self.egp.peer_gone, peer)))
            self.events.push(after, HOST, functools.partial(self._fail_socket_waits_on, peer))
        if grant.heralds:
            self._heralds = grant.heralds
        if grant.quiescent:
            self._quiescent()
        self._process()

    def _allowed(self, t: float) -> bool:
        if t >= self._earliest_send:
            return False
        return t < self._bound or (self._inclusive and t == self._bound)

    def _process(self) -> None:
        """Handle this node's events in time order while the grant allows."""
        node = self.node
        while not self._stop.is_set():
            self._settle()
            t_host = self.events.next_time(HOST)
            t_qnpu = self._next_qnpu_time()
            t = min(t_host, t_qnpu)
            if not math.isfinite(t) or not self._allowed(t):
                return
            if t_host <= t_qnpu:
                self._run_event(self.events.pop(HOST))
                continue
            dev = node.device.now_ns
            if (t_qnpu > dev and not self._heralds and not self._standing() and not node.has_ready()
                    and self.egp.wants_to_stand(max(dev, self._grant_now), t_qnpu)):
                return  # idle through a bin with a request to serve: attempt (report a standing attempt)
            try:
                self._qnpu_act(int(t_qnpu))
            except QNodeOSError:
                raise
            except Exception as exc:  # a driver failure outside any process: fail those waiting, go on
                node.fail_waiting(exc)

    def _standing(self) -> bool:
        return any(link.standing is not None for link in self.egp._links.values())

    def _next_qnpu_time(self) -> float:
        dev = self.node.device.now_ns
        if self._heralds:
            return max(dev, self._grant_now)
        timer = self.node.next_timer_ns()
        t_ev = min(self.events.next_time(QNPU), math.inf if timer is None else timer)
        if self._standing():
            for link in self.egp._links.values():
                if link.standing is not None:
                    t_ev = link.schedule.bin_end_after(t_ev)
            return max(t_ev, dev)
        if self.node.has_ready():
            return dev
        return max(t_ev, dev)

    def _qnpu_act(self, t: int) -> None:
        node = self.node
        if self._heralds or self._standing():
            heralds, self._heralds = self._heralds, ()
            self.work.post(functools.partial(self.egp.collect, max(t, node.device.now_ns), heralds))
            node.step()  # the network process runs first (highest priority)
        node.timebase.advance_to(t)
        while True:
            ev = self.events.peek(QNPU)
            if ev is None or ev.time > node.device.now_ns:
                break
            self._run_event(self.events.pop(QNPU))
        if node.has_ready():
            node.step()

    def _run_event(self, ev: Any) -> None:
        self._last_event_ns = max(self._last_event_ns, int(ev.time))
        ev.fn()

    def _report(self) -> SyncReport:
        node = self.node
        dev = node.device.now_ns
        attempts: tuple = ()
        if node.has_ready():
            qnpu: float = dev
        else:
            timer = node.next_timer_ns()
            t_ev = min(self.events.next_time(QNPU), math.inf if timer is None else timer)
            qnpu = max(t_ev, dev) if math.isfinite(t_ev) else math.inf
            attempts = tuple(self.egp.standing_attempts(max(dev, self._grant_now), qnpu))
            if attempts and math.isfinite(qnpu):
                for link in self.egp._links.values():
                    if link.standing is not None:
                        qnpu = link.schedule.bin_end_after(qnpu)
        host = self.events.next_time(HOST)
        sent = tuple(self.mailbox.drain_sent()) if self.mailbox is not None else ()
        return SyncReport(None if not math.isfinite(qnpu) else int(qnpu),
                          None if not math.isfinite(host) else int(host), sent, attempts,
                          max(dev, self._grant_now, self._last_event_ns))

    # ---- hosts -----------------------------------------------------------------------------------
    def _settle(self) -> None:
        """Let every host reach its next call on the node, then queue what they posted. The node is
        between events while its hosts run, so :meth:`snapshot` readers (a dashboard) may look at it
        meanwhile: the act lock is let go for the wait (else a host that keeps its node busy, one
        subroutine after another, would keep every reader out for as long as it runs)."""
        self._act_lock.release()
        try:
            self.hosts.settle()
        finally:
            self._act_lock.acquire()
        with self._post_lock:
            posted, self._posted = self._posted, []
        for t, level, fn in posted:
            self.events.push(t, level, fn)

    def _post(self, t: float, level: int, fn: Callable[[], Any]) -> None:
        with self._post_lock:
            self._posted.append((t, level, fn))

    def _answer_at(self, reply: Reply, t: float, value: Any = None, error: BaseException | None = None) -> None:
        self.events.push(t, HOST, lambda: self.hosts.answer(reply, int(t), value, error))

    def _request(self, host: str, what: str, fn: Callable[[], Any], *, latency: bool = True,
                 timeout_s: float | None = None) -> Any:
        """Run ``fn`` on the QNPU when the host's message arrives; the answer travels back."""
        h = self.hosts.get(host)
        lat = self.timing.host_of(self.name)
        reply = Reply(host)
        self._outstanding.add(reply)
        arrive = h.clock_ns + (lat.submit_ns if latency else 0)

        def run() -> None:
            back = self.node.device.now_ns + (lat.result_ns if latency else 0)
            try:
                value = fn()
            except BaseException as exc:
                self._answer_at(reply, back, error=exc)
                return
            self._answer_at(reply, back, value)

        self._post(arrive, QNPU, run)
        return self.hosts.wait(host, reply, what, timeout_s=self.host_timeout_s if timeout_s is None else timeout_s)

    def register_host(self, name: str, node_of_app: dict[str, str] | None = None) -> None:
        """An application host that is about to run on this node (``node_of_app``: where its
        application places each role). Before :meth:`start` it starts at time 0; on a running node it
        starts at the network's current time, and the node gets a turn. An earlier host of that name
        that never said it was done (its process was killed) is ended first: its waits are answered,
        its processes closed, its socket waits dropped."""
        if node_of_app:
            self.node_of_app.update(node_of_app)
        self.sockets.forget_app(name)  # messages of an earlier run of that application are not for it
        if self._thread.is_alive():
            self._end_host(name, f"a new application host {name!r} replaced it", wake=False)
            # registered (running) before the wake: the turn the wake gives the node must find it, or
            # the node reports nothing left to do and the network may be declared idle under it
            host = self.hosts.register(name)
            host.clock_ns = host.start_ns = self.coordinator.wake(self.name)
        else:
            self.hosts.register(name)

    def host_done(self, name: str) -> None:
        self.hosts.finish(name)

    def host_gone(self, name: str, why: str) -> None:
        """A remote host vanished: it is done, whatever it waited for is answered with ``why``, and
        the processes it left open are ended (their qubits freed) on the node's next turn."""
        self._end_host(name, why, wake=True)

    def _end_host(self, name: str, why: str, *, wake: bool) -> None:
        try:
            host = self.hosts.get(name)
        except KeyError:
            host = None
        if host is not None:
            self.hosts.finish(name)
            for reply in list(self._outstanding):
                if reply.host == name:
                    self.sockets.forget_waiter(reply)
                    self.hosts.answer(reply, self._grant_now, error=ConnectionError(why))
        with self._post_lock:
            pids = self._pids_of_host.pop(name, set())
        if pids and self._thread.is_alive():
            error = QNodeOSError(f"its application host is gone: {why}")
            at = host.clock_ns if host is not None else self._grant_now
            self._post(at, QNPU, functools.partial(self._close_processes, pids, error))
            if wake:
                self.coordinator.wake(self.name)

    def _close_processes(self, pids: set[int], error: Exception) -> None:
        for pid in sorted(pids):
            self.node.close_process(pid, error)

    def open_app(self, host: str, name: str, max_qubits: int | None = None) -> int:
        pid = self._request(host, "registering its application",
                            lambda: self.node.open_process(name, max_qubits=max_qubits,
                                                           on_subroutine_done=self._on_done))
        with self._post_lock:
            self._pids_of_host.setdefault(host, set()).add(pid)
        return pid

    def open_epr_socket(self, host: str, pid: int, socket_id: int, remote_node_id: int, remote_socket_id: int,
                        min_fidelity_percent: int = 100) -> None:
        self._request(host, "opening an EPR socket",
                      lambda: self.egp.open_socket(pid, socket_id, remote_node_id, remote_socket_id,
                                                   min_fidelity_percent))

    def close_app(self, host: str, pid: int) -> None:
        with self._post_lock:
            self._pids_of_host.get(host, set()).discard(pid)
        self._request(host, "closing its application", lambda: self.node.close_process(pid))

    def read_state(self, host: str, fn: Callable[[], Any]) -> Any:
        """Run a read of the simulated state on the QNPU at the host's time (no latency: a simulator's
        view, not a message)."""
        return self._request(host, "reading a qubit state", fn, latency=False)

    def qubit_state(self, host: str, pid: int, virtual_id: int, reduced: bool = True) -> Any:
        """The density matrix of process ``pid``'s qubit ``virtual_id`` (with every qubit it shares a
        register with, unless ``reduced``); None where the device cannot show states."""
        def read() -> Any:
            node = self.node
            phys = node.memory.physical(pid, virtual_id)
            device = node.device
            if not hasattr(device, "density_matrix"):
                return None
            if reduced or not hasattr(device, "joint_density_matrix"):
                return device.density_matrix([phys])
            return device.joint_density_matrix(phys)

        return self.read_state(host, read)

    def run_subroutine(self, host: str, pid: int, source: Any, flavour: str | None = None) -> SubroutineResult:
        """Send one subroutine for ``pid`` and wait for its result (raises the process's error)."""
        return self.wait_subroutine(host, self.send_subroutine(host, pid, source, flavour))

    def wait_subroutine(self, host: str, reply: Reply) -> SubroutineResult:
        """Wait for the result of a subroutine sent with :meth:`send_subroutine`."""
        return self.hosts.wait(host, reply, "its subroutine's result", timeout_s=self.host_timeout_s)

    def send_subroutine(self, host: str, pid: int, source: Any, flavour: str | None = None) -> Reply:
        """Send one subroutine for ``pid`` (stamped with the host's clock); its result comes later."""
        h = self.hosts.get(host)
        lat = self.timing.host_of(self.name)
        reply = Reply(host)
        self._outstanding.add(reply)

        def arrive() -> None:
            try:
                if pid in self._subroutine_replies:
                    raise QNodeOSError(f"process {pid} already has a subroutine running")
                self._subroutine_replies[pid] = reply
                self.node.push_subroutine(pid, source, flavour)  # compiles and checks first: may raise
            except BaseException as exc:
                self._subroutine_replies.pop(pid, None)
                self._answer_at(reply, self.node.device.now_ns + lat.result_ns, error=exc)

        self._post(h.clock_ns + lat.processing_ns + lat.submit_ns, QNPU, arrive)
        return reply

    def _on_done(self, proc: Process, outcome: Any) -> None:
        reply = self._subroutine_replies.pop(proc.pid, None)
        if reply is None:
            return
        back = self.node.device.now_ns + self.timing.host_of(self.name).result_ns
        if isinstance(outcome, BaseException):
            error = outcome if isinstance(outcome, QNodeOSError) else QNodeOSError(str(outcome))
            self._answer_at(reply, back, error=error)
        else:
            self._answer_at(reply, back, outcome)

    # ---- application messages --------------------------------------------------------------------
    def send_app_message(self, app: str, remote: str, socket_id: int, item: tuple[bool, Any, Any]) -> None:
        """``app`` (a host of this node) sends ``item`` to ``remote`` on ``socket_id``."""
        try:
            dest = self.node_of_app[remote]
        except KeyError:
            raise ConnectionError(f"application {remote!r} is not placed on any node "
                                  f"(applications: {sorted(self.node_of_app)})") from None
        sent = self.hosts.get(app).clock_ns
        deliver = sent + self.timing.classical_ns(self.name, dest)
        body = {"from": app, "to": remote, "sid": socket_id, "item": list(item), "at": sent}
        if dest == self.name:
            self._post(deliver, HOST, functools.partial(self._deliver_app, self.name, body, deliver))
            return
        if self.mailbox is None:
            raise ConnectionError(f"node {self.name} has no network to reach {remote!r} on {dest}")
        self._note_send(deliver)
        self.mailbox.send(dest, "app", deliver_ns=deliver, **body)

    def recv_app_message(self, app: str, keys: tuple[Key, ...], block: bool = True,
                         timeout_s: float | None = None, wall_timeout_s: float | None = None) -> tuple[Key, tuple]:
        """The next message for ``app`` on any of ``keys`` (waiting for it, up to ``timeout_s`` of
        simulated time; ``wall_timeout_s`` guards against a peer process that died)."""
        host = self.hosts.get(app)
        got = self.sockets.take(keys)
        if got is not None:
            at, key, item = got
            host.clock_ns = max(host.clock_ns, at)
            return key, item
        peers = ", ".join(sorted({k[1] for k in keys}))
        if not block:
            raise RuntimeError(f"{app}: no message from {peers} waiting")
        reply = Reply(app)
        self._outstanding.add(reply)
        self.sockets.wait(keys, reply)
        if timeout_s is not None:
            due = host.clock_ns + int(timeout_s * 1e9)

            def expire() -> None:
                self.sockets.forget_waiter(reply)
                self.hosts.answer(reply, due, error=TimeoutError(
                    f"{app}: no message from {peers} within {timeout_s:g} s of simulated time"))

            self._post(due, HOST, expire)
        try:
            return self.hosts.wait(app, reply, f"a message from {peers}", timeout_s=wall_timeout_s)
        except TimeoutError as exc:
            self.sockets.forget_waiter(reply)
            if reply.done:
                raise
            raise TimeoutError(f"{app}: no message from {peers} (socket {keys[0][2]}) within {wall_timeout_s:g} s "
                               "of wall-clock time; is that application still running?") from exc

    def _deliver_app(self, sender_node: str, body: Any, at: int) -> None:
        try:
            app, remote, sid, item, sent = body["to"], body["from"], body["sid"], tuple(body["item"]), body["at"]
            if not (isinstance(sid, int) and isinstance(sent, int) and len(item) == 3
                    and self.node_of_app.get(remote) == sender_node and self.node_of_app.get(app) == self.name):
                return  # malformed, or an application that does not live on the sending node
            if sent < self.hosts.get(app).start_ns:
                return  # sent to an earlier run of that application
        except (KeyError, TypeError):
            return
        self.sockets.deliver((app, remote, sid), at, item, self.hosts.answer)

    def _fail_socket_waits_on(self, node: str) -> None:
        """Receivers that wait only for applications of ``node`` (which left) wait in vain."""
        error = ConnectionError(f"node {node} left the network: its applications will send nothing more")
        for reply, keys in self.sockets.waiting():
            if all(self.node_of_app.get(remote) == node for _, remote, _ in keys):
                self.sockets.forget_waiter(reply)
                self.hosts.answer(reply, self._grant_now, error=error)

    # ---- messages --------------------------------------------------------------------------------
    def _note_send(self, deliver: float) -> None:
        with self._post_lock:
            self._earliest_send = min(self._earliest_send, deliver)

    def _send_control(self, peer: str, what: str, **body: Any) -> None:
        """A control message of the network stack, sent now (device clock) to ``peer``."""
        if self.mailbox is None:
            raise ExecutionError("this node has no network: entanglement needs a peer node")
        deliver = self.node.device.now_ns + self.timing.classical_ns(self.name, peer)
        self._note_send(deliver)
        self.mailbox.send(peer, "egp", deliver_ns=deliver, what=what, **body)

    def _sent_while_waiting(self) -> None:
        """A message was sent while this node waits for its turn (by code running outside the node's
        turn, e.g. a transport that delivers late): tell the coordinator now, not at the next turn."""
        with self._sync_lock:
            if not self._in_sync or self.mailbox is None:
                return
            sent = tuple(self.mailbox.drain_sent())
        if sent:
            self.coordinator.note_sent(self.name, sent)

    def _timer(self, t: float, fn: Callable[[], Any]) -> Any:
        return self.events.push(t, QNPU, functools.partial(self.work.post, fn))

    def _on_mail(self, sender: str, kind: str, body: dict, deliver: int | None, seq: int) -> None:
        """Mailbox thread: keep the message until its delivery event."""
        with self._mail:
            if len(self._received) >= self.MAX_RECEIVED:
                self._received.pop(next(iter(self._received)))
                self.lost_messages += 1
            self._received[(sender, seq)] = (kind, body, deliver)
            self._mail.notify_all()

    def _dispatch(self, delivery: Delivery) -> None:
        """A message's delivery time has come: take it (waiting for the transport if needed) and act."""
        key = (delivery.src, delivery.seq)
        deadline = time.monotonic() + self.MESSAGE_WAIT_S
        with self._mail:
            while key not in self._received:
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    self.lost_messages += 1  # counted by the coordinator but lost on the way
                    return
                self._mail.wait(left)
            kind, body, _ = self._received.pop(key)
        if kind == "egp":
            self.work.post(functools.partial(self.egp.on_message, delivery.src, body))
        elif kind == "app":
            self._deliver_app(delivery.src, body, delivery.deliver_ns)

    # ---- nothing left to happen -------------------------------------------------------------------
    def _quiescent(self) -> None:
        """The whole network is idle: fail whatever waits for something that can no longer come."""
        self.work.post(self.egp.quiescent)
        for reply, keys in self.sockets.waiting():
            self.sockets.forget_waiter(reply)
            peers = ", ".join(sorted({remote for _, remote, _ in keys}))
            self.hosts.answer(reply, self._grant_now, error=TimeoutError(
                f"{keys[0][0]}: no message from {peers} (socket {keys[0][2]}) will ever arrive: every node of "
                "the network is idle (that application ended, or waits for this one)"))
        self._post(self._grant_now, QNPU, self._fail_deadlocked)

    def _fail_deadlocked(self) -> None:
        for proc in self.node.waiting():
            if "array" not in proc.wait_reason:
                self.node.close_process(proc.pid, DeadlockError(
                    f"process {proc.pid} ({proc.name}) waits for {proc.wait_reason} that nothing will deliver"))

    def _answer_all(self, error: BaseException) -> None:
        self._subroutine_replies.clear()
        for reply in list(self._outstanding):
            self.hosts.answer(reply, self._grant_now, error=error)
        for reply in self.sockets.waiters():
            self.sockets.forget_waiter(reply)
            self.hosts.answer(reply, self._grant_now, error=error)

    # ---- stats -----------------------------------------------------------------------------------
    #: samples of (device time, utilisation) kept for the dashboard
    HISTORY = 600
    #: trace rows shown by the dashboard
    RECENT_ROWS = 200
    TIMELINE_ROWS = 20_000  # most rows one timeline() answer carries (the latest)

    def dashboard_state(self) -> dict[str, Any]:
        """What a dashboard shows of this node, as plain data (see docs/services.md): its processes, its
        entanglement table, its utilisation over time, its links' schedules and their use, and the
        latest timeline rows."""
        def read() -> dict[str, Any]:
            node = self.node
            now = node.device.now_ns
            utilisation = node.utilisation()
            history = self._history
            if not history or history[-1][0] != now:
                history.append((now, utilisation))
            procs = []
            for p in node.processes():
                procs.append({"pid": p.pid, "name": p.name, "state": p.state.value, "priority": p.priority,
                              "qubits": sorted(node.memory.qubits_of(p.pid).values()),
                              "waiting_for": p.wait_reason if p.state.value == "waiting" else "",
                              "error": None if p.error is None else str(p.error)})
            table, entanglement = [], node.memory.entanglement
            for r in entanglement.records():
                expires = entanglement.expires_ns(r)
                table.append({"qubit": r.physical_qubit, "peer": r.remote_node, "pair_id": r.pair_id,
                              "age_ns": now - r.created_ns, "fidelity": round(r.fidelity_at(now), 6),
                              "expires_in_ns": None if math.isinf(expires) else int(expires - now)})
            links = []
            for link in self.egp._links.values():
                sched = link.schedule
                links.append({"peer": link.peer, "period_ns": sched.period_ns, "bin_ns": sched.bin_ns,
                              "offset_ns": sched.offset_ns, "next_bin_ns": sched.next_bin_start(now),
                              "attempting": link.standing is not None, "queued_requests": len(link.queue)})
            rows = node.trace.entries()[-self.RECENT_ROWS:]
            return {"node": self.name, "alive": self.alive, "device_ns": now, "utilisation": utilisation,
                    "utilisation_history": list(history), "processes": procs, "entanglement": table,
                    "links": links, "network": self.egp.stats(), "grants": self.grants,
                    "hosts": [{"name": h.name, "state": h.state.value, "clock_ns": h.clock_ns}
                              for h in self.hosts.hosts()],
                    "timeline": [e.to_dict() for e in rows]}
        return self.snapshot(read)

    def timeline(self, since_ns: int = 0, processes: list[str] | None = None) -> dict[str, Any]:
        """This node's trace rows that start at ``since_ns`` or later, of the processes named (and of
        the network process; default: all), as a trace document. The node keeps its latest rows only
        (the trace's bound): ``meta.trace.complete`` says whether the rows since ``since_ns`` are all there."""
        def read() -> dict[str, Any]:
            trace = self.node.trace
            entries = trace.entries()
            wanted = None if processes is None else {*processes, "network"}
            rows = [e for e in entries if e.start_ns >= since_ns and (wanted is None or e.process in wanted)]
            complete = (trace.dropped == 0 or (bool(entries) and entries[0].start_ns <= since_ns)) \
                and len(rows) <= self.TIMELINE_ROWS
            kept = [e.to_dict() for e in rows[-self.TIMELINE_ROWS:]]
            return {"meta": {"node": self.name, "trace": {"from_ns": since_ns, "to_ns": self.node.device.now_ns,
                                                          "max_rows": trace.max_rows, "complete": complete}},
                    "entries": kept}
        return self.snapshot(read)

    def stats(self) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            out = self.node.stats()
            out.update({"grants": self.grants, "lost_messages": self.lost_messages,
                        "network_errors": list(self.work.errors)})
            return out
        return self.snapshot(read)

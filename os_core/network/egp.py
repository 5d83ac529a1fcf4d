"""The entanglement generation protocol (EGP) of one node: NetQASM EPR requests → heralded pairs.

A ``create_epr`` sends a CREATE to the peer node; the peer ACCEPTs once one of its processes runs a
matching ``recv_epr`` (same EPR socket). The ACCEPT names when both nodes start on the request (its
arrival time at the creator), and both nodes work through a link's accepted requests in the same
(accept) order. Pairs are generated in the link's time bins of the network schedule: whenever the
node has nothing else to do, the head request of each link with a free communication qubit keeps a
*standing attempt* (see :mod:`qnodeos.hal.timeline`); the time coordinator tells both ends when a herald
happened, and each collects its side with an ``EntangleAttempt`` on its device. The creator corrects
the heralded Bell state to Φ+, so applications always see Φ+ (as QNodeOS does).

Create-and-keep halves of a multi-pair request are *held* by the OS until the request is complete:
a held pair whose estimated fidelity falls below the request's minimum (or which is older than the
maximum age) is discarded on both nodes — both compute the same expiry time from the herald, and the
creator also sends a DISCARD — and regenerated, within a retry budget; then all result fields are
written at once, which wakes the process's ``wait_all``. Sequential requests (one virtual qubit reused
pair after pair) and measure-directly pairs are handed over one by one.

Failures end in a clear error for the process on both nodes (ABORT is sent to the peer) and every
reserved qubit is freed: unknown peer, request timeout (``max_time``), a CREATE nobody accepts within
the node's request timeout, a peer that left the network, a retry budget used up.

All of this runs as the node's *network process* (priority above user processes) and reaches the
node only through :class:`~qnodeos.network.port.NetworkPort`.
"""
from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from qnodeos.hal import BellState, EntangleAttempt, Status
from qnodeos.hal.timeline import NEVER, Herald, LinkSchedule, NetworkSchedule, StandingAttempt

from ..entanglement import EntanglementRecord
from ..errors import ExecutionError
from . import epr_layout as L
from .timing import NetworkTiming

if TYPE_CHECKING:
    from ..process import Process
    from .port import NetworkPort

NETWORK_PID = 0  # the network process (its reservations in the memory manager)
# Local Pauli corrections (in order) turning the heralded Bell state into Phi+ on the creator's side.
_CORRECTION = {BellState.PHI_PLUS: (), BellState.PHI_MINUS: ("z",), BellState.PSI_PLUS: ("x",),
               BellState.PSI_MINUS: ("x", "z")}
_BASIS_ROTATION = {L.BASIS_X: [("y", -math.pi / 2)], L.BASIS_Y: [("x", math.pi / 2)], L.BASIS_Z: []}
_HUGE = 1 << 40

SendFn = Callable[..., None]  # send(peer, what, **body)
TimerFn = Callable[[float, Callable[[], None]], Any]  # at(t_ns, fn) -> handle with .cancel(): fn runs at t_ns


@dataclass
class HeldPair:
    """A create-and-keep half the OS holds until its request completes."""

    physical: int
    virtual_id: int
    herald_ns: int
    pair_id: int
    expires_ns: float
    fields: list


@dataclass
class EprRequest:
    """One request as this node sees it (the same ``rid`` on both nodes)."""

    rid: tuple[str, int]  # (creator node, creator's counter)
    peer: str
    creator: bool
    pid: int
    kind: int
    number: int
    results: int  # result array address in the process
    q_array: int | None
    local_rotation: tuple[int, int, int, int] = (0, 0, 0, 0)  # r1, r2, r3, axes
    random_basis: int = L.RANDOM_NONE
    socket_id: int = 0
    deadline_ns: float = NEVER  # max_time
    accept_deadline_ns: float = NEVER  # a CREATE must be accepted by then
    active_from_ns: float = NEVER  # both nodes attempt for it from then on
    created_ns: int = 0
    missing: deque = field(default_factory=deque)  # pair indices still to generate, in order
    held: dict[int, HeldPair] = field(default_factory=dict)
    hold: bool = False
    discards: int = 0
    f0: float = 1.0
    min_fidelity: float = 0.0
    max_age_ns: float = NEVER
    decay_per_ns: float = 0.0  # 1/T2 of both halves
    label: int = 0  # trace lane number
    timers: list = field(default_factory=list)  # pending timers to cancel when the request ends

    def __post_init__(self) -> None:
        self.missing = deque(range(self.number))

    @property
    def tag_prefix(self) -> str:
        return f"{self.rid[0]}#{self.rid[1]}"

    def lifetime_ns(self) -> float:
        """How long a fresh pair stays above the minimum fidelity (and under the maximum age)."""
        life = self.max_age_ns
        if self.min_fidelity > 0.5 and self.decay_per_ns > 0 and self.f0 > self.min_fidelity:
            life = min(life, math.log((self.f0 - 0.5) / (self.min_fidelity - 0.5)) / self.decay_per_ns)
        return life


@dataclass
class RecvSlot:
    pid: int
    number: int
    results: int
    q_array: int | None
    peer: str = ""
    deadline_ns: float = NEVER
    timer: Any = None


@dataclass
class EprSocket:
    remote_node: str
    remote_socket_id: int
    min_fidelity: float = 0.0


@dataclass
class LinkState:
    """One link: its bins, its accepted requests in order, and the attempt standing on it."""

    peer: str
    schedule: LinkSchedule
    queue: deque = field(default_factory=deque)
    standing: StandingAttempt | None = None


class EntanglementService:
    """Per-node EGP, driven by the node service at the node's decision points."""

    #: bins of one standing attempt traced one by one (earlier ones are summed in one row)
    TRACE_BINS = 64

    def __init__(self, port: "NetworkPort", send: SendFn, at: TimerFn, node_ids: dict[str, int], *,
                 schedule: NetworkSchedule, timing: NetworkTiming | None = None,
                 request_timeout_s: float | None = None,
                 seed: int | None = None, max_pending_per_process: int = 64) -> None:
        self.port = port
        self._send_fn = send
        self._at = at
        self.node_ids = dict(node_ids)
        self.node_names = {v: k for k, v in node_ids.items()}
        self.timing = timing or NetworkTiming()
        #: simulated time a CREATE may wait to be accepted (and a recv_epr for its CREATE); None: no
        #: limit — a request nothing will ever answer still ends when the whole network goes idle
        self.request_timeout_ns = NEVER if request_timeout_s is None else int(request_timeout_s * 1e9)
        self._rng = np.random.default_rng(seed)
        self._counter = itertools.count(1)
        self._labels = itertools.count(1)
        self._sockets: dict[tuple[int, int], EprSocket] = {}
        self._incoming: dict[str, deque[dict[str, Any]]] = {}
        self._recv_slots: dict[tuple[str, int], deque[RecvSlot]] = {}
        self._links: dict[str, LinkState] = {}
        self._pending: dict[tuple[str, int], EprRequest] = {}  # created here, not yet accepted
        self._seen_creates: dict[tuple[str, int], float] = {}  # request id -> when to forget it
        self._accept_seq: dict[str, int] = {}  # per peer: next sequence number of the ACCEPTs we send
        self._next_accept: dict[str, int] = {}  # per peer: sequence number of the ACCEPT we expect next
        self._accepts: dict[str, dict[int, dict]] = {}  # per peer: ACCEPTs that came early
        self._gone: set[str] = set()
        me = port.name
        for peer in node_ids:
            if peer != me:
                self._links[peer] = LinkState(peer, schedule.of(me, peer) if _has(schedule, me, peer) else
                                              LinkSchedule(2_000_000, 1_000_000))
        self.max_pending_per_process = max_pending_per_process
        self.pairs_delivered = 0
        self.pairs_discarded = 0
        self.dropped_messages = 0
        self.unsent_messages = 0
        self.attempts = 0

    # ---- set-up -----------------------------------------------------------------------------
    def open_socket(self, pid: int, socket_id: int, remote_node_id: int, remote_socket_id: int,
                    min_fidelity_percent: int = 100) -> None:
        """Register an application's EPR socket. NetQASM's default minimum fidelity (100 %) means
        "no requirement"; a lower figure is checked against what the link can deliver and becomes the
        cut-off for pairs the OS holds."""
        minimum = min_fidelity_percent / 100 if 0 < min_fidelity_percent < 100 else 0.0
        self._sockets[(pid, socket_id)] = EprSocket(self._peer_name(remote_node_id), remote_socket_id, minimum)

    def _link_fidelity(self) -> float:
        link = self.port.capabilities.entanglement
        return link.fidelity if link is not None else 1.0

    def _check_fidelity(self, sock: EprSocket) -> None:
        f0 = self._link_fidelity()
        wanted = max(sock.min_fidelity, self.timing.min_fidelity)
        if wanted and f0 < wanted:
            raise ExecutionError(f"the link to {sock.remote_node} delivers pairs of fidelity ~{f0:.3f}, "
                                 f"below the minimum {wanted:.2f} asked for")

    def _peer_name(self, remote_node_id: int) -> str:
        name = self.node_names.get(remote_node_id)
        if name == self.port.name:
            raise ExecutionError(f"an EPR socket to an application on this same node ({name}): entanglement "
                                 "needs two different nodes")
        if name is None:
            known = {n: i for n, i in self.node_ids.items() if n != self.port.name}
            raise ExecutionError(f"unknown peer node id {remote_node_id} (peers: {known})")
        if name in self._gone:
            raise ExecutionError(f"node {name!r} has left the network")
        return name

    def _latency(self, peer: str) -> int:
        return self.timing.classical_ns(self.port.name, peer)

    def _t2_ns(self) -> float:
        """Coherence time of the qubits pairs are stored in (the communication qubits)."""
        caps = self.port.capabilities
        comm = [q for q in caps.qubits if any(r.value == "communication" for r in q.roles)]
        t2 = min((q.t2_ns for q in comm), default=math.inf)
        return float(t2)

    # ---- executor hooks (run inside a user process's step) --------------------------------------
    def create_epr(self, executor: Any, proc: "Process", op: Any, values: tuple) -> None:
        remote_node_id, socket_id, q_array, args_address, results = values
        peer = self._peer_name(remote_node_id)
        sock = self._sockets.get((proc.pid, socket_id), EprSocket(peer, 0))
        self._check_fidelity(sock)
        args = list(self.port.array(proc.pid, args_address))
        if len(args) < L.REQUEST_ARGS:
            raise ExecutionError(f"create_epr argument array @{args_address} has {len(args)} entries, "
                                 f"needs {L.REQUEST_ARGS}")
        kind = args[L.ARG_TYPE] or 0
        if kind not in (L.TYPE_K, L.TYPE_M):
            raise ExecutionError(f"EPR request type {kind} is not supported (create-and-keep 0, measure-directly 1)")
        number = args[L.ARG_NUMBER] or 1
        self._check_results(proc.pid, results, number, q_array, kind)
        open_requests = sum(1 for r in self._all_requests() if r.pid == proc.pid)
        if open_requests >= self.max_pending_per_process:
            raise ExecutionError(f"process already has {open_requests} open EPR requests "
                                 f"(limit {self.max_pending_per_process})")
        now = self.port.now_ns()
        deadline = NEVER
        if args[L.ARG_MAX_TIME]:
            deadline = now + args[L.ARG_MAX_TIME] * L.TIME_UNIT_S.get(args[L.ARG_TIME_UNIT] or 0, 1e-6) * 1e9
        rid = (self.port.name, next(self._counter))
        local = tuple(args[i] or 0 for i in L.ARG_ROTATION_LOCAL) + (args[L.ARG_AXES_LOCAL] or 0,)
        remote = tuple(args[i] or 0 for i in L.ARG_ROTATION_REMOTE) + (args[L.ARG_AXES_REMOTE] or 0,)
        req = EprRequest(rid, peer, True, proc.pid, kind, number, results, q_array, local,  # type: ignore[arg-type]
                         args[L.ARG_RANDOM_BASIS_LOCAL] or 0, socket_id, deadline,
                         accept_deadline_ns=min(deadline, now + self.request_timeout_ns), created_ns=now,
                         f0=self._link_fidelity(), min_fidelity=max(sock.min_fidelity, self.timing.min_fidelity),
                         max_age_ns=self.timing.max_pair_age_ns, label=next(self._labels))
        self._pending[rid] = req
        req.timers.append(self._at(req.accept_deadline_ns, lambda: self._accept_overdue(req)))
        if deadline < NEVER:
            req.timers.append(self._at(deadline, lambda: self._deadline(req)))
        self._send(peer, "create", rid=list(rid), socket=sock.remote_socket_id, kind=kind, number=number,
                   rotation=list(remote), random_basis=args[L.ARG_RANDOM_BASIS_REMOTE] or 0,
                   timeout=0 if req.accept_deadline_ns == NEVER else min(86_400.0, max(1e-9, (req.accept_deadline_ns - now) / 1e9)),
                   t2_ns=_finite(self._t2_ns()),
                   min_fidelity=req.min_fidelity, f0=req.f0)

    def recv_epr(self, executor: Any, proc: "Process", op: Any, values: tuple) -> None:
        remote_node_id, socket_id, q_array, results = values
        peer = self._peer_name(remote_node_id)
        self._check_fidelity(self._sockets.get((proc.pid, socket_id), EprSocket(peer, 0)))
        arr = self.port.array(proc.pid, results)
        if len(arr) % L.RESULT_FIELDS:
            raise ExecutionError(f"recv_epr result array @{results} has {len(arr)} entries, "
                                 f"not a multiple of {L.RESULT_FIELDS}")
        open_slots = sum(1 for q in self._recv_slots.values() for s in q if s.pid == proc.pid)
        if open_slots >= self.max_pending_per_process:
            raise ExecutionError(f"process already has {open_slots} open recv_epr requests "
                                 f"(limit {self.max_pending_per_process})")
        slot = RecvSlot(proc.pid, len(arr) // L.RESULT_FIELDS, results, q_array, peer,
                        self.port.now_ns() + self.request_timeout_ns)
        self._recv_slots.setdefault((peer, socket_id), deque()).append(slot)
        slot.timer = self._at(slot.deadline_ns, lambda: self._recv_overdue(slot))
        self._match(peer)

    def _check_results(self, pid: int, results: int, number: int, q_array: int | None, kind: int) -> None:
        arr = self.port.array(pid, results)
        if len(arr) < number * L.RESULT_FIELDS:
            raise ExecutionError(f"result array @{results} holds {len(arr)} entries, {number} pairs need "
                                 f"{number * L.RESULT_FIELDS}")
        if kind == L.TYPE_K:
            if q_array is None or len(self.port.array(pid, q_array)) < number:
                raise ExecutionError(f"create-and-keep of {number} pairs needs {number} virtual qubit ids")

    # ---- protocol messages --------------------------------------------------------------------
    def _send(self, peer: str, what: str, **body: Any) -> None:
        """Send a control message; a transport that cannot take it loses it (the protocol copes)."""
        if peer in self._gone:
            return
        try:
            self._send_fn(peer, what, **body)
        except Exception:
            self.unsent_messages += 1

    def on_message(self, sender: str, msg: Any) -> None:
        """Handle one control message from ``sender``. Malformed, duplicated or stale messages are
        dropped (counted in ``dropped_messages``); reordered ACCEPTs are put back in order."""
        try:
            what, rid = _validate(msg)
        except (KeyError, TypeError, ValueError):
            self.dropped_messages += 1
            return
        now = self.port.now_ns()
        if what == "create":
            if rid in self._seen_creates or rid[0] != sender:
                self.dropped_messages += 1  # a duplicate, or a creator claiming to be someone else
                return
            expires = now + msg["timeout"] * 1e9 if msg["timeout"] else NEVER  # 0: no time limit
            self._seen_creates[rid] = expires
            while len(self._seen_creates) > 4096:  # remembered for de-duplication, within a bound
                self._seen_creates.pop(next(iter(self._seen_creates)))
            msg["expires"] = expires
            msg["timer"] = self._at(expires, lambda: self._forget_create(sender, rid))
            self._incoming.setdefault(sender, deque()).append(msg)
            self._match(sender)
        elif what == "accept":
            if msg["seq"] < self._next_accept.get(sender, 0):
                self.dropped_messages += 1  # a repeat, or one we stopped waiting for
                return
            self._accepts.setdefault(sender, {})[msg["seq"]] = msg
            self._activate_accepted(sender)
            if self._accepts[sender]:  # an earlier ACCEPT is missing: it was lost if it is not here soon
                grace = 1_000_000 + 4 * self._latency(sender)
                self._at(now + grace, lambda: self._skip_accept_gap(sender))
        elif what == "abort":
            self._abort_local(sender, rid, str(msg.get("reason", "the peer aborted"))[:500])
        elif what == "discard":
            self._discard_remote(sender, rid, msg["index"], msg["pair"])

    def _activate_accepted(self, peer: str) -> None:
        """Activate accepted requests strictly in the peer's accept order, so both nodes work through
        the link's requests in the same order even if ACCEPTs arrive out of order."""
        waiting = self._accepts.get(peer, {})
        while self._next_accept.get(peer, 0) in waiting:
            seq = self._next_accept.get(peer, 0)
            msg = waiting.pop(seq)
            self._next_accept[peer] = seq + 1
            rid = tuple(msg["rid"])
            req = self._pending.get(rid)
            if req is None or req.peer != peer:  # only the peer a request went to can accept it
                continue
            del self._pending[rid]
            for timer in req.timers[:1]:  # accepted: the acceptance deadline no longer applies
                _cancel(timer)
            self._agree(req, msg["t2_ns"], msg["min_fidelity"])
            req.active_from_ns = msg["start_ns"]
            self._links[peer].queue.append(req)
            self.port.wake()

    def _agree(self, req: EprRequest, peer_t2_ns: float, peer_min_fidelity: float) -> None:
        """Both nodes hold the same cut-off for the request: the stricter minimum, both halves' decay."""
        req.min_fidelity = max(req.min_fidelity, float(peer_min_fidelity))
        decay = 0.0
        for t2 in (self._t2_ns(), float(peer_t2_ns)):
            if t2 > 0 and math.isfinite(t2):
                decay += 1.0 / t2
        req.decay_per_ns = decay
        if req.kind == L.TYPE_K and req.number > 1 and req.q_array is not None:
            vids = self.port.array(req.pid, req.q_array)[:req.number]
            req.hold = len(set(vids)) == len(vids)  # distinct ids: all pairs live at once
        if req.f0 < req.min_fidelity and req.min_fidelity > 0:
            self._fail(req, ExecutionError(
                f"EPR request {req.tag_prefix} with {req.peer}: the link delivers fidelity ~{req.f0:.3f}, below "
                f"the minimum {req.min_fidelity:.2f} agreed by both nodes"))

    def _match(self, peer: str) -> None:
        """Accept the peer's CREATEs for which a local process is receiving on that socket (any queued
        CREATE, not only the oldest: one socket's missing receiver must not block the others)."""
        queue = self._incoming.get(peer)
        if not queue:
            return
        waiting: deque = deque()
        now = self.port.now_ns()
        while queue:
            msg = queue.popleft()
            slots = self._recv_slots.get((peer, msg["socket"]))
            if not slots:
                waiting.append(msg)
                continue
            slot = slots.popleft()
            _cancel(slot.timer)
            _cancel(msg.get("timer"))
            rid = tuple(msg["rid"])
            if msg["number"] != slot.number or msg["kind"] not in (L.TYPE_K, L.TYPE_M):
                reason = (f"peer {peer} requests {msg['number']} pairs of type {msg['kind']} but process "
                          f"{slot.pid} on {self.port.name} receives {slot.number}")
                self._send(peer, "abort", rid=list(rid), reason=reason)
                self.port.fail_process(slot.pid, ExecutionError(reason))
                continue
            rot = tuple(msg["rotation"]) if msg["kind"] == L.TYPE_M else (0, 0, 0, 0)
            req = EprRequest(rid, peer, False, slot.pid, msg["kind"], slot.number, slot.results,
                             slot.q_array, rot, msg["random_basis"], msg["socket"], created_ns=now,
                             f0=float(msg["f0"]), min_fidelity=max(float(msg["min_fidelity"]), self.timing.min_fidelity),
                             max_age_ns=self.timing.max_pair_age_ns, label=next(self._labels))
            self._agree(req, msg["t2_ns"], 0.0)
            if not self.port.process_alive(req.pid):
                continue
            start = now + self._latency(peer)  # when the creator hears of it
            req.active_from_ns = start
            self._links[peer].queue.append(req)
            seq = self._accept_seq.get(peer, 0)
            self._accept_seq[peer] = seq + 1
            self._send(peer, "accept", rid=list(rid), seq=seq, start_ns=start, t2_ns=_finite(self._t2_ns()),
                       min_fidelity=req.min_fidelity)
            self._at(start, self.port.wake)
        queue.extend(waiting)

    # ---- pair generation ----------------------------------------------------------------------
    def busy(self) -> bool:
        return any(link.queue for link in self._links.values()) or bool(self._pending)

    def _head(self, link: LinkState, now: int) -> EprRequest | None:
        while link.queue:
            req = link.queue[0]
            if not self.port.process_alive(req.pid):
                link.queue.popleft()
                continue
            return req if req.active_from_ns <= now and req.missing else None
        return None

    def wants_to_stand(self, now: int, horizon_ns: float) -> bool:
        """Whether idling from ``now`` to ``horizon_ns`` would cross a bin in which the node should be
        attempting (so it must declare a standing attempt instead of idling silently)."""
        for link in self._links.values():
            if link.standing is not None or link.peer in self._gone:
                continue
            req = self._head(link, now)
            if req is None:
                continue
            if (link.schedule.in_bin(now) or link.schedule.next_bin_start(now) < horizon_ns) \
                    and self.port.communication_qubit_free():
                return True
        return False

    def standing_attempts(self, now: int, horizon_ns: float) -> list[StandingAttempt]:
        """Attempts to keep running while the node idles until ``horizon_ns`` (its next own event): one
        per link whose head request needs a pair, if a communication qubit is free and a bin of the link
        begins before the horizon. Declared standing attempts stay until :meth:`stop_attempts`."""
        out = []
        for link in self._links.values():
            if link.standing is not None:
                out.append(link.standing)
                continue
            req = self._head(link, now)
            if req is None or link.peer in self._gone:
                continue
            if link.schedule.next_bin_start(now) >= horizon_ns and not link.schedule.in_bin(now):
                continue  # no bin before the node acts again: nothing to attempt yet
            if not self._pair_target_free(req):
                continue
            q = self.port.reserve_communication_qubit()
            if q is None:
                continue
            link.standing = StandingAttempt(link.peer, now, f"{req.tag_prefix}/{req.missing[0]}", q)
            out.append(link.standing)
        return out

    def needs_communication_qubit(self, now: int) -> bool:
        """Whether a link's head request waits for a pair and nothing attempts for it, so a busy
        communication qubit holds it back (the node's memory manager may then move a waiting state
        off one). Reads only; reserves nothing."""
        for link in self._links.values():
            if link.standing is not None or link.peer in self._gone:
                continue
            req = self._head(link, now)
            if req is None:
                continue
            if req.kind != L.TYPE_K:
                return True
            vid = self.port.array(req.pid, req.q_array)[req.missing[0]]  # type: ignore[arg-type]
            if vid is not None and not self.port.owns(req.pid, vid):
                return True
        return False

    def _pair_target_free(self, req: EprRequest) -> bool:
        """A create-and-keep pair goes to a virtual qubit id the process must not be holding already."""
        if req.kind != L.TYPE_K:
            return True
        vid = self.port.array(req.pid, req.q_array)[req.missing[0]]  # type: ignore[arg-type]
        if vid is None:
            return False
        if self.port.owns(req.pid, vid):
            return self.port.release_scratch(req.pid, vid)  # only the compiler's scratch electron may go
        return True

    def collect(self, now: int, heralds: tuple[Herald, ...] = ()) -> None:
        """End the standing attempts at ``now``: pairs for the heralded ones, failed batches for the
        rest (the node has something else to do)."""
        by_peer = {h.peer: h for h in heralds}
        for link in self._links.values():
            standing = link.standing
            if standing is None:
                continue
            link.standing = None
            herald = by_peer.get(link.peer)
            req = self._request_of(link, standing.tag)
            try:
                self._collect_one(link, standing, herald, req, now)
            except Exception as exc:  # a device failure ends this request (both sides), not the node
                self.port.release_qubit(standing.qubit)
                if req is not None:
                    self._fail(req, ExecutionError(f"entanglement with {link.peer} failed: {type(exc).__name__}: {exc}"))

    def _request_of(self, link: LinkState, tag: str) -> EprRequest | None:
        prefix = tag.rsplit("/", 1)[0]
        return next((r for r in link.queue if r.tag_prefix == prefix), None)

    def _collect_one(self, link: LinkState, standing: StandingAttempt, herald: Herald | None,
                     req: EprRequest | None, now: int) -> None:
        sched, q = link.schedule, standing.qubit
        if herald is not None:
            instr = EntangleAttempt(q, link.peer, _HUGE, standing.since_ns, standing.tag)
        else:
            first, n = sched.slots(standing.since_ns, now)
            instr = EntangleAttempt(q, link.peer, n, standing.since_ns, standing.tag)
            if n == 0:  # no attempt slot passed: nothing happened on the device
                self.port.release_qubit(q)
                return
        label = f"entangle {standing.tag}"
        lane = req.label if req else 0
        resp = self.port.execute(label, lane, [instr], account=False)[0]
        self._trace_bins(sched, resp.start_ns, resp.end_ns, f"attempts {standing.tag} with {link.peer}", lane, instr)
        self.attempts += resp.attempts
        if resp.status is not Status.ENTANGLED:
            self.port.release_qubit(q)
            if resp.status not in (Status.ENT_FAILURE, Status.ENT_SYNC_FAILURE) and req is not None:
                self._fail(req, ExecutionError(f"entanglement with {link.peer} failed: {resp.message}"))
            return
        if req is None or not req.missing or f"{req.tag_prefix}/{req.missing[0]}" != standing.tag:
            self.port.reset_qubit(label, 0, q)  # a pair nobody here wants any more (its request ended)
            self.port.release_qubit(q)
            return
        if req.creator and resp.bell_state is not BellState.PHI_PLUS:
            self.port.correct(f"correct {standing.tag}", req.label, q, _CORRECTION[resp.bell_state])  # type: ignore[index]
        self._deliver(req, q, resp, now)

    def _trace_bins(self, sched: LinkSchedule, start: int, end: int, label: str, lane: int, instr: Any) -> None:
        """One trace row per bin attempted in (the latest :data:`TRACE_BINS`), busy time for all."""
        busy = sched.in_bins_ns(start, end)
        tail = sched.bins_between(max(start, end - self.TRACE_BINS * sched.period_ns), end)
        shown = sum(hi - lo for lo, hi in tail)
        if busy > shown:  # the earlier bins, summed in one row
            self.port.record_activity(f"{label} (earlier bins)", lane, instr, start, tail[0][0] if tail else end,
                                      busy - shown)
        for lo, hi in tail:
            self.port.record_activity(label, lane, instr, lo, hi, hi - lo)

    def _deliver(self, req: EprRequest, q: int, resp: Any, now: int) -> None:
        index = req.missing.popleft()
        pair_id = int(resp.pair_id or 0)
        remote = self.node_ids[req.peer]
        duration_us = max(1, (resp.end_ns - req.created_ns) // 1000)
        if req.kind == L.TYPE_M:
            outcome, basis = self._measure_directly(req, q)
            self.port.release_qubit(q)
            fields = [L.TYPE_M, req.rid[1], outcome, basis, 0 if req.creator else 1, pair_id, req.socket_id,
                      remote, duration_us, 0]
            self._write(req, index, fields)
        else:
            vid = self.port.array(req.pid, req.q_array)[index]  # type: ignore[arg-type]
            record = EntanglementRecord(q, req.peer, None, pair_id, resp.end_ns, req.f0, 1 / req.decay_per_ns
                                        if req.decay_per_ns else math.inf, resp.end_ns + req.lifetime_ns())
            self.port.hand_over(q, req.pid, vid, record)
            fields = [L.TYPE_K, req.rid[1], vid, 0 if req.creator else 1, pair_id, req.socket_id, remote,
                      duration_us, resp.end_ns // 1000, 0]
            if req.hold:
                expires = resp.end_ns + req.lifetime_ns()
                req.held[index] = HeldPair(q, vid, resp.end_ns, pair_id, expires, fields)
                if expires < NEVER:
                    req.timers.append(self._at(expires, lambda: self._expire(req, index, pair_id)))
            else:
                self._write(req, index, fields)
        self.pairs_delivered += 1
        if not req.missing:
            for i, held in sorted(req.held.items()):
                self._write(req, i, held.fields)
            req.held.clear()
            self._finish(req)

    def _write(self, req: EprRequest, index: int, fields: list) -> None:
        arr = self.port.array(req.pid, req.results)
        arr[index * L.RESULT_FIELDS:(index + 1) * L.RESULT_FIELDS] = fields
        self.port.wake()

    def _finish(self, req: EprRequest) -> None:
        queue = self._links[req.peer].queue
        if req in queue:
            queue.remove(req)
        for timer in req.timers:
            _cancel(timer)
        req.timers.clear()

    def _measure_directly(self, req: EprRequest, q: int) -> tuple[int, int]:
        basis = L.BASIS_Z
        if req.random_basis in (L.RANDOM_XZ, L.RANDOM_XYZ):
            choices = [L.BASIS_X, L.BASIS_Z] if req.random_basis == L.RANDOM_XZ else [L.BASIS_X, L.BASIS_Y, L.BASIS_Z]
            basis = int(self._rng.choice(choices))
            rotations = _BASIS_ROTATION[basis]
        else:
            r1, r2, r3, axes = req.local_rotation
            names = L.AXES.get(axes, L.AXES[0])
            rotations = [(names[i], r * math.pi / 16) for i, r in enumerate((r1, r2, r3)) if r]
        outcome = self.port.rotate_and_measure(f"measure {req.tag_prefix}", req.label, q, rotations)
        return outcome, basis

    # ---- expiry -------------------------------------------------------------------------------
    def _expire(self, req: EprRequest, index: int, pair_id: int) -> None:
        """A held pair reached its cut-off before its request completed: discard it on both nodes."""
        held = req.held.get(index)
        if held is None or held.pair_id != pair_id or not self._is_open(req):
            return
        if req.creator:
            self._send(req.peer, "discard", rid=list(req.rid), index=index, pair=pair_id)
        self._discard(req, index, held)

    def _discard_remote(self, sender: str, rid: tuple[str, int], index: int, pair_id: int) -> None:
        for req in self._links[sender].queue if sender in self._links else ():
            if req.rid == rid:
                held = req.held.get(index)
                if held is not None and held.pair_id == pair_id:
                    self._discard(req, index, held)
                return

    def _discard(self, req: EprRequest, index: int, held: HeldPair) -> None:
        del req.held[index]
        if self.port.process_alive(req.pid) and self.port.owns(req.pid, held.virtual_id):
            q = self.port.take_back(req.pid, held.virtual_id)
            self.port.reset_qubit(f"discard {req.tag_prefix}/{index}", req.label, q)
            self.port.release_qubit(q)
        req.missing.append(index)
        req.discards += 1
        self.pairs_discarded += 1
        budget = self.timing.max_discards * req.number
        if req.discards > budget:
            age = (req.lifetime_ns() / 1e6) if math.isfinite(req.lifetime_ns()) else float("inf")
            self._fail(req, ExecutionError(
                f"EPR request {req.tag_prefix} with {req.peer}: {req.discards} pairs decayed below the cut-off "
                f"(fidelity {req.min_fidelity:.2f}, i.e. {age:.3g} ms per pair) before all {req.number} were ready; "
                f"retry budget of {budget} used up"))

    # ---- failures -----------------------------------------------------------------------------
    def _is_open(self, req: EprRequest) -> bool:
        return req.rid in self._pending or req in self._links[req.peer].queue

    def _accept_overdue(self, req: EprRequest) -> None:
        if self._pending.get(req.rid) is req:
            self._fail(req, ExecutionError(
                f"EPR request {req.tag_prefix} with node {req.peer} timed out: not accepted within "
                f"{(req.accept_deadline_ns - req.created_ns) / 1e9:g} s of device time (is the peer application "
                "running and receiving on that socket?)"))

    def _deadline(self, req: EprRequest) -> None:
        if self._is_open(req):
            done = req.number - len(req.missing)
            self._fail(req, ExecutionError(
                f"EPR request {req.tag_prefix} with node {req.peer} timed out after {done}/{req.number} pairs "
                f"(its max_time of {(req.deadline_ns - req.created_ns) / 1e9:g} s of device time)"))

    def _recv_overdue(self, slot: RecvSlot) -> None:
        for slots in self._recv_slots.values():
            if slot in slots:
                slots.remove(slot)
                self.port.fail_process(slot.pid, ExecutionError(
                    f"recv_epr from node {slot.peer}: no matching create_epr arrived within "
                    f"{self.request_timeout_ns / 1e9:g} s of device time (is the peer application running?)"))
                return

    def _forget_create(self, peer: str, rid: tuple[str, int]) -> None:
        queue = self._incoming.get(peer)
        if queue:
            for msg in [m for m in queue if tuple(m["rid"]) == rid]:
                queue.remove(msg)
        self._seen_creates.pop(rid, None)

    def _skip_accept_gap(self, peer: str) -> None:
        """An ACCEPT lost on the way: stop waiting for its number so later ones are not held back."""
        waiting = self._accepts.get(peer)
        if waiting:
            self._next_accept[peer] = max(self._next_accept.get(peer, 0), min(waiting))
            self._activate_accepted(peer)

    def _fail(self, req: EprRequest, error: Exception) -> None:
        self._drop(req)
        self._send(req.peer, "abort", rid=list(req.rid), reason=str(error))
        self.port.fail_process(req.pid, error)

    def _drop(self, req: EprRequest) -> None:
        self._pending.pop(req.rid, None)
        for timer in req.timers:
            _cancel(timer)
        req.timers.clear()
        link = self._links.get(req.peer)
        if link is None:
            return
        if req in link.queue:
            link.queue.remove(req)
        for held in req.held.values():
            if self.port.process_alive(req.pid) and self.port.owns(req.pid, held.virtual_id):
                q = self.port.take_back(req.pid, held.virtual_id)
                self.port.release_qubit(q)
        req.held.clear()

    def _abort_local(self, sender: str, rid: tuple[str, int], reason: str) -> None:
        self._forget_create(sender, rid)
        for req in self._all_requests():
            if req.rid == rid and req.peer == sender:  # a node can only abort its own link's requests
                self._drop(req)
                self.port.fail_process(req.pid, ExecutionError(f"EPR request aborted by {req.peer}: {reason}"))

    def peer_gone(self, peer: str) -> None:
        """``peer`` left the network: nothing it was part of can complete."""
        self._gone.add(peer)
        for req in self._all_requests():
            if req.peer == peer:
                done = req.number - len(req.missing)
                self._drop(req)
                self.port.fail_process(req.pid, ExecutionError(
                    f"EPR request {req.tag_prefix}: node {peer} left the network after {done}/{req.number} pairs"))
        for (p, _), slots in self._recv_slots.items():
            if p == peer:
                while slots:
                    self.port.fail_process(slots.popleft().pid, ExecutionError(
                        f"recv_epr from node {peer}: that node left the network"))
        self._incoming.pop(peer, None)

    def quiescent(self) -> None:
        """Nothing in the network will ever happen again: whatever waits here waits for ever."""
        for req in self._all_requests():
            done = req.number - len(req.missing)
            self._drop(req)
            self._send(req.peer, "abort", rid=list(req.rid), reason="the network went idle")  # peer forgets it
            what = ("was not accepted" if req.creator and req.active_from_ns == NEVER
                    else f"cannot complete after {done}/{req.number} pairs")
            self.port.fail_process(req.pid, ExecutionError(
                f"EPR request {req.tag_prefix} with node {req.peer} {what}: the network has nothing left to do "
                "(the peer application ended or never asked for this pair)"))
        for (peer, _), slots in self._recv_slots.items():
            while slots:
                self.port.fail_process(slots.popleft().pid, ExecutionError(
                    f"recv_epr from node {peer}: no matching create_epr will ever arrive (the network is idle)"))

    def process_ended(self, proc: "Process") -> None:
        """Forget everything of an ended process; tell peers about its unfinished requests."""
        for req in self._all_requests():
            if req.pid == proc.pid:
                self._drop(req)
                self._send(req.peer, "abort", rid=list(req.rid), reason=f"process {proc.name} on {self.port.name} ended")
        for slots in self._recv_slots.values():
            for slot in [s for s in slots if s.pid == proc.pid]:
                slots.remove(slot)
                _cancel(slot.timer)
        for key in [k for k in self._sockets if k[0] == proc.pid]:
            del self._sockets[key]

    def _all_requests(self) -> list[EprRequest]:
        return list(self._pending.values()) + [r for link in self._links.values() for r in link.queue]

    def stats(self) -> dict[str, Any]:
        return {"pairs_delivered": self.pairs_delivered, "pairs_discarded": self.pairs_discarded,
                "attempts": self.attempts, "open_requests": len(self._all_requests()),
                "dropped_control_messages": self.dropped_messages, "peers_gone": sorted(self._gone)}


def _cancel(timer: Any) -> None:
    if timer is not None:
        timer.cancel()


def _has(schedule: NetworkSchedule, a: str, b: str) -> bool:
    return ((a, b) if a < b else (b, a)) in schedule.links


def _finite(x: float) -> float:
    return x if math.isfinite(x) else 0.0


_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "create": {"rid": list, "socket": int, "kind": int, "number": int, "rotation": list, "random_basis": int,
               "timeout": (int, float), "t2_ns": (int, float), "min_fidelity": (int, float), "f0": (int, float)},
    "accept": {"rid": list, "seq": int, "start_ns": int, "t2_ns": (int, float), "min_fidelity": (int, float)},
    "abort": {"rid": list},
    "discard": {"rid": list, "index": int, "pair": int},
}


def _validate(msg: Any) -> tuple[str, tuple[str, int]]:
    """Check a control message's shape; return (what, rid) or raise."""
    if not isinstance(msg, dict):
        raise TypeError("not a map")
    what = msg["what"]
    for key, kind in _FIELDS[what].items():
        if not isinstance(msg[key], kind) or isinstance(msg[key], bool):
            raise TypeError(f"{key} has the wrong type")
    rid = msg["rid"]
    if len(rid) != 2 or not isinstance(rid[0], str) or not isinstance(rid[1], int):
        raise ValueError("bad request id")
    if what == "create":
        if not 1 <= msg["number"] <= 1_000_000 or msg["socket"] < 0 or not 0 <= msg["timeout"] <= 86_400:
            raise ValueError("out of range")
        if len(msg["rotation"]) != 4 or not all(isinstance(x, int) for x in msg["rotation"]):
            raise ValueError("bad rotation")
        if not (0 <= msg["min_fidelity"] <= 1 and 0 <= msg["f0"] <= 1 and msg["t2_ns"] >= 0):
            raise ValueError("out of range")
    if what == "accept" and (msg["seq"] < 0 or msg["start_ns"] < 0 or not 0 <= msg["min_fidelity"] <= 1
                             or msg["t2_ns"] < 0):
        raise ValueError("out of range")
    if what == "discard" and (msg["index"] < 0 or msg["pair"] < 0):
        raise ValueError("out of range")
    return what, (rid[0], rid[1])

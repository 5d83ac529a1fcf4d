"""The entanglement generation protocol (EGP) of one node: NetQASM EPR requests → heralded pairs.

A ``create_epr`` sends a CREATE to the peer node over the classical control channel; the peer
ACCEPTs once one of its processes has a matching ``recv_epr`` (same EPR socket). Both nodes then work
through the accepted requests of that link in the same order, one pair at a time: each reserves a
communication qubit and attempts entanglement through the heralding link (the device's rendezvous puts
both nodes in the same attempt window). On a herald the creator corrects the pair to Φ+, so
applications always see Φ+ (as QNodeOS does); create-and-keep halves are handed to the process under
the virtual qubit ids it asked for, measure-directly halves are measured in the requested basis. The
10 result fields per pair are then written into the process's array, which wakes its ``wait_all``.

Failures end in a clear error for the process on both nodes (ABORT is sent to the peer), and every
reserved qubit is freed: unknown peer, request timeout (``max_time`` or the node's default), a peer
that never answers or died.
"""
from __future__ import annotations

import itertools
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from qnodeos.hal import Axis, BellState, EntangleAttempt, Init, Status

from ..entanglement import EntanglementRecord
from ..errors import ExecutionError
from . import epr_layout as L

if TYPE_CHECKING:
    from ..executor import Executor
    from ..node import Node
    from ..process import Process
    from .mailbox import Mailbox

NETWORK_PID = 0  # the network stack's own reservations in the memory manager
# Local Pauli corrections (in order) turning the heralded Bell state into Phi+ on the creator's side.
_CORRECTION = {BellState.PHI_PLUS: (), BellState.PHI_MINUS: ("z",), BellState.PSI_PLUS: ("x",),
               BellState.PSI_MINUS: ("x", "z")}


@dataclass
class EprRequest:
    """One accepted (or pending) request as this node sees it."""

    rid: tuple[str, int]  # (creator node, creator's counter): the same on both nodes
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
    deadline: float = math.inf
    done: int = 0
    accepted: bool = False
    backoff_until: float = 0.0
    started_ns: int = 0


@dataclass
class RecvSlot:
    pid: int
    number: int
    results: int
    q_array: int | None
    peer: str = ""
    deadline: float = math.inf


@dataclass
class EprSocket:
    remote_node: str
    remote_socket_id: int
    min_fidelity: float = 0.0


class EntanglementService:
    """Per-node EGP. Runs on the node's thread: executor hooks, :meth:`step` and :meth:`on_message`."""

    def __init__(self, node: "Node", mailbox: "Mailbox | None", node_ids: dict[str, int], *,
                 request_timeout_s: float = 30.0, attempts_per_call: int = 1_000_000, seed: int | None = None,
                 max_pending_per_process: int = 64) -> None:
        self.node = node
        self.mailbox = mailbox
        self.node_ids = dict(node_ids)
        self.node_names = {v: k for k, v in node_ids.items()}
        self.request_timeout_s = request_timeout_s
        self.attempts_per_call = attempts_per_call
        self._rng = np.random.default_rng(seed)
        self._counter = itertools.count(1)
        self._sockets: dict[tuple[int, int], EprSocket] = {}
        self._incoming: dict[str, deque[dict[str, Any]]] = {}
        self._recv_slots: dict[tuple[str, int], deque[RecvSlot]] = {}
        self._active: dict[str, deque[EprRequest]] = {}  # per peer, in the order both nodes agree on
        self._pending: dict[tuple[str, int], EprRequest] = {}  # created here, not yet accepted
        self._seen_creates: dict[tuple[str, int], float] = {}  # request id -> when to forget it
        self._accept_seq: dict[str, int] = {}  # per peer: next sequence number of the ACCEPTs we send
        self._next_accept: dict[str, int] = {}  # per peer: sequence number of the ACCEPT we expect next
        self._accepts: dict[str, dict[int, tuple[str, int]]] = {}  # per peer: ACCEPTs that came early
        self._gap_since: dict[str, float] = {}  # per peer: since when an earlier ACCEPT is missing
        self.accept_grace_s = min(1.0, request_timeout_s / 4)
        self.max_pending_per_process = max_pending_per_process
        self.pairs_delivered = 0
        self.dropped_messages = 0

    # ---- set-up -----------------------------------------------------------------------------
    def open_socket(self, pid: int, socket_id: int, remote_node_id: int, remote_socket_id: int,
                    min_fidelity_percent: int = 100) -> None:
        """Register an application's EPR socket. NetQASM's default minimum fidelity (100 %) means
        "no requirement"; a lower figure is checked against what the link can deliver."""
        minimum = min_fidelity_percent / 100 if 0 < min_fidelity_percent < 100 else 0.0
        self._sockets[(pid, socket_id)] = EprSocket(self._peer_name(remote_node_id), remote_socket_id, minimum)

    def _check_fidelity(self, sock: EprSocket) -> None:
        link = self.node.capabilities.entanglement
        if sock.min_fidelity and link is not None and link.fidelity < sock.min_fidelity:
            raise ExecutionError(f"the link to {sock.remote_node} delivers pairs of fidelity ~{link.fidelity:.3f}, "
                                 f"below this socket's minimum {sock.min_fidelity:.2f}")

    def _peer_name(self, remote_node_id: int) -> str:
        name = self.node_names.get(remote_node_id)
        if name == self.node.name:
            raise ExecutionError(f"an EPR socket to an application on this same node ({name}): entanglement "
                                 "needs two different nodes")
        if name is None:
            known = {n: i for n, i in self.node_ids.items() if n != self.node.name}
            raise ExecutionError(f"unknown peer node id {remote_node_id} (peers: {known})")
        if self.mailbox is not None and name not in self.mailbox.peers:
            raise ExecutionError(f"node {self.node.name} has no link to node {name!r}")
        return name

    # ---- executor hooks ---------------------------------------------------------------------
    def create_epr(self, executor: "Executor", proc: "Process", op: Any, values: tuple) -> None:
        remote_node_id, socket_id, q_array, args_address, results = values
        peer = self._peer_name(remote_node_id)
        sock = self._sockets.get((proc.pid, socket_id), EprSocket(peer, 0))
        self._check_fidelity(sock)
        args = list(executor._array(proc, args_address))
        if len(args) < L.REQUEST_ARGS:
            raise ExecutionError(f"create_epr argument array @{args_address} has {len(args)} entries, "
                                 f"needs {L.REQUEST_ARGS}")
        kind = args[L.ARG_TYPE] or 0
        if kind not in (L.TYPE_K, L.TYPE_M):
            raise ExecutionError(f"EPR request type {kind} is not supported (create-and-keep 0, measure-directly 1)")
        number = args[L.ARG_NUMBER] or 1
        self._check_results(executor, proc, results, number, q_array, kind)
        timeout = self.request_timeout_s
        if args[L.ARG_MAX_TIME]:
            timeout = args[L.ARG_MAX_TIME] * L.TIME_UNIT_S.get(args[L.ARG_TIME_UNIT] or 0, 1e-6)
        open_requests = sum(1 for r in self._all_requests() if r.pid == proc.pid)
        if open_requests >= self.max_pending_per_process:
            raise ExecutionError(f"process already has {open_requests} open EPR requests "
                                 f"(limit {self.max_pending_per_process})")
        rid = (self.node.name, next(self._counter))
        local = tuple(args[i] or 0 for i in L.ARG_ROTATION_LOCAL) + (args[L.ARG_AXES_LOCAL] or 0,)
        remote = tuple(args[i] or 0 for i in L.ARG_ROTATION_REMOTE) + (args[L.ARG_AXES_REMOTE] or 0,)
        req = EprRequest(rid, peer, True, proc.pid, kind, number, results, q_array, local,  # type: ignore[arg-type]
                         args[L.ARG_RANDOM_BASIS_LOCAL] or 0, socket_id, time.monotonic() + timeout)
        self._pending[rid] = req
        self._send(peer, "create", rid=list(rid), socket=sock.remote_socket_id, kind=kind, number=number,
                   rotation=list(remote), random_basis=args[L.ARG_RANDOM_BASIS_REMOTE] or 0, timeout=timeout)

    def recv_epr(self, executor: "Executor", proc: "Process", op: Any, values: tuple) -> None:
        remote_node_id, socket_id, q_array, results = values
        peer = self._peer_name(remote_node_id)
        self._check_fidelity(self._sockets.get((proc.pid, socket_id), EprSocket(peer, 0)))
        arr = executor._array(proc, results)
        if len(arr) % L.RESULT_FIELDS:
            raise ExecutionError(f"recv_epr result array @{results} has {len(arr)} entries, "
                                 f"not a multiple of {L.RESULT_FIELDS}")
        open_slots = sum(1 for q in self._recv_slots.values() for s in q if s.pid == proc.pid)
        if open_slots >= self.max_pending_per_process:
            raise ExecutionError(f"process already has {open_slots} open recv_epr requests "
                                 f"(limit {self.max_pending_per_process})")
        slot = RecvSlot(proc.pid, len(arr) // L.RESULT_FIELDS, results, q_array, peer,
                        time.monotonic() + self.request_timeout_s)
        self._recv_slots.setdefault((peer, socket_id), deque()).append(slot)
        self._match(peer)

    def _check_results(self, executor: "Executor", proc: "Process", results: int, number: int,
                       q_array: int | None, kind: int) -> None:
        arr = executor._array(proc, results)
        if len(arr) < number * L.RESULT_FIELDS:
            raise ExecutionError(f"result array @{results} holds {len(arr)} entries, {number} pairs need "
                                 f"{number * L.RESULT_FIELDS}")
        if kind == L.TYPE_K:
            if q_array is None or len(executor._array(proc, q_array)) < number:
                raise ExecutionError(f"create-and-keep of {number} pairs needs {number} virtual qubit ids")

    # ---- protocol messages --------------------------------------------------------------------
    def _send(self, peer: str, what: str, **body: Any) -> None:
        if self.mailbox is None:
            raise ExecutionError("this node has no network: entanglement needs a peer node")
        self.mailbox.send(peer, "egp", what=what, **body)

    def on_message(self, sender: str, msg: Any) -> None:
        """Handle one control message from ``sender``. Malformed, duplicated or stale messages are
        dropped (counted in ``dropped_messages``); reordered ACCEPTs are put back in order."""
        try:
            what, rid = _validate(msg)
        except (KeyError, TypeError, ValueError):
            self.dropped_messages += 1
            return
        if what == "create":
            if rid in self._seen_creates or rid[0] != sender:
                self.dropped_messages += 1  # a duplicate, or a creator claiming to be someone else
                return
            self._seen_creates[rid] = time.monotonic() + 2 * msg["timeout"]
            msg["expires"] = time.monotonic() + msg["timeout"]
            self._incoming.setdefault(sender, deque()).append(msg)
            self._match(sender)
        elif what == "accept":
            if msg["seq"] < self._next_accept.get(sender, 0):
                self.dropped_messages += 1  # a repeat, or one we stopped waiting for
                return
            self._accepts.setdefault(sender, {})[msg["seq"]] = rid
            self._activate_accepted(sender)
            if self._accepts[sender]:
                self._gap_since.setdefault(sender, time.monotonic())
        elif what == "abort":
            self._abort_local(sender, rid, str(msg.get("reason", "the peer aborted"))[:500])

    def _activate_accepted(self, peer: str) -> None:
        """Activate accepted requests strictly in the peer's accept order, so both nodes work through
        the link's requests in the same order even if ACCEPTs arrive out of order."""
        waiting = self._accepts.get(peer, {})
        if not waiting:
            self._gap_since.pop(peer, None)
        while self._next_accept.get(peer, 0) in waiting:
            seq = self._next_accept.get(peer, 0)
            rid = waiting.pop(seq)
            self._next_accept[peer] = seq + 1
            req = self._pending.get(rid)
            if req is not None and req.peer == peer:  # only the peer a request went to can accept it
                del self._pending[rid]
                req.accepted = True
                req.started_ns = self.node.device.now_ns
                self._active.setdefault(peer, deque()).append(req)

    def _match(self, peer: str) -> None:
        """Accept the peer's CREATEs for which a local process is receiving on that socket (any queued
        CREATE, not only the oldest: one socket's missing receiver must not block the others)."""
        queue = self._incoming.get(peer)
        if not queue:
            return
        waiting: deque = deque()
        while queue:
            msg = queue.popleft()
            slots = self._recv_slots.get((peer, msg["socket"]))
            if not slots:
                waiting.append(msg)
                continue
            slot = slots.popleft()
            proc = self.node.process(slot.pid)
            rid = tuple(msg["rid"])
            if msg["number"] != slot.number or msg["kind"] not in (L.TYPE_K, L.TYPE_M):
                reason = (f"peer {peer} requests {msg['number']} pairs of type {msg['kind']} but process "
                          f"{slot.pid} on {self.node.name} receives {slot.number}")
                try:
                    self._send(peer, "abort", rid=list(rid), reason=reason)
                except ExecutionError:
                    pass
                self.node.close_process(slot.pid, ExecutionError(reason))
                continue
            rot = tuple(msg["rotation"]) if msg["kind"] == L.TYPE_M else (0, 0, 0, 0)
            req = EprRequest(rid, peer, False, proc.pid, msg["kind"], slot.number, slot.results,  # type: ignore[arg-type]
                             slot.q_array, rot, msg["random_basis"], msg["socket"],  # type: ignore[arg-type]
                             time.monotonic() + msg["timeout"], accepted=True,
                             started_ns=self.node.device.now_ns)
            self._active.setdefault(peer, deque()).append(req)
            seq = self._accept_seq.get(peer, 0)
            self._accept_seq[peer] = seq + 1
            try:
                self._send(peer, "accept", rid=list(rid), seq=seq)
            except ExecutionError:
                self.dropped_messages += 1  # no network to answer on: the creator will time out
        queue.extend(waiting)

    # ---- pair generation ----------------------------------------------------------------------
    def busy(self) -> bool:
        return any(self._active.values()) or bool(self._pending)

    def step(self) -> bool:
        """Generate at most one pair (or one failed batch); False if nothing could be done now."""
        now = time.monotonic()
        for peer, queue in list(self._active.items()):
            if not queue:
                continue
            req = queue[0]
            if req.backoff_until > now:
                continue
            try:
                progressed = self._generate(req)
            except Exception as exc:  # a device failure ends this request (both sides), not the node
                self._fail(req, ExecutionError(f"entanglement with {req.peer} failed: {type(exc).__name__}: {exc}"))
                return True
            if progressed:
                if req.done >= req.number:
                    queue.popleft()
                return True
        return False

    def _generate(self, req: EprRequest) -> bool:
        node, memory = self.node, self.node.memory
        proc = node.process(req.pid)
        if proc.finished:
            return False
        vid = None
        if req.kind == L.TYPE_K:
            vid = proc.arrays[req.q_array][req.done]  # type: ignore[index]
            if vid is None:
                return False
            if vid in memory.qubits_of(req.pid):
                if vid not in proc.scratch_qubits:
                    return False  # sequential use of one id: wait for the process to free the last pair's qubit
                memory.free(req.pid, vid)  # the compiler's scratch electron: the pair replaces it
                proc.scratch_qubits.discard(vid)
        q = memory.free_communication_qubit()
        if q is None:
            return False
        executor = node.executor
        memory.assign(NETWORK_PID, -1, q)
        executor._classical.pop(q, None)  # about to be entangled: no longer a known basis state
        try:
            init, resp = node.device.execute_many(
                (Init(q), EntangleAttempt(q, req.peer, max_attempts=self.attempts_per_call,
                                          tag=f"{req.rid[0]}#{req.rid[1]}/{req.done}")))
            init.raise_for_status()
            executor.busy_ns += resp.end_ns - init.start_ns
        except Exception:
            memory.free(NETWORK_PID, -1)
            raise
        if resp.status is Status.ENT_SYNC_FAILURE:
            memory.free(NETWORK_PID, -1)
            req.backoff_until = time.monotonic() + float(self._rng.uniform(0.001, 0.02))
            return False
        if resp.status is not Status.ENTANGLED:
            memory.free(NETWORK_PID, -1)
            if resp.status is Status.ENT_FAILURE:
                return True  # a batch of failed attempts: try again on the next step
            self._fail(req, ExecutionError(f"entanglement with {req.peer} failed: {resp.message}"))
            return True
        if req.creator and resp.bell_state is not BellState.PHI_PLUS:
            correction = _CORRECTION[resp.bell_state]  # type: ignore[index]
            u = np.eye(2)
            for gate in correction:
                u = executor._gates[gate] @ u
            executor.execute_physical(executor.translator.gate("correct-" + "".join(correction), u, q))
        memory.free(NETWORK_PID, -1)
        index = req.done
        req.done += 1
        self.pairs_delivered += 1
        if req.kind == L.TYPE_K:
            memory.assign(req.pid, vid, q)  # type: ignore[arg-type]
            t2 = node.capabilities.qubits[q].t2_ns
            fidelity = node.capabilities.entanglement.fidelity if node.capabilities.entanglement else 1.0
            memory.entanglement.add(EntanglementRecord(q, req.peer, None, int(resp.pair_id or 0),
                                                       node.device.now_ns, fidelity, t2))
            fields = [L.TYPE_K, req.rid[1], vid, 0 if req.creator else 1, resp.pair_id, req.socket_id,
                      self.node_ids[req.peer], max(1, (resp.end_ns - req.started_ns) // 1000),
                      node.device.now_ns // 1000, 0]
        else:
            outcome, basis = self._measure_directly(req, q)
            fields = [L.TYPE_M, req.rid[1], outcome, basis, 0 if req.creator else 1, resp.pair_id, req.socket_id,
                      self.node_ids[req.peer], max(1, (resp.end_ns - req.started_ns) // 1000), 0]
        arr = proc.arrays[req.results]
        arr[index * L.RESULT_FIELDS:(index + 1) * L.RESULT_FIELDS] = fields
        return True

    def _measure_directly(self, req: EprRequest, q: int) -> tuple[int, int]:
        executor = self.node.executor
        basis = L.BASIS_Z
        rotations: list[tuple[str, float]] = []
        if req.random_basis in (L.RANDOM_XZ, L.RANDOM_XYZ):
            choices = [L.BASIS_X, L.BASIS_Z] if req.random_basis == L.RANDOM_XZ else [L.BASIS_X, L.BASIS_Y, L.BASIS_Z]
            basis = int(self._rng.choice(choices))
            rotations = {L.BASIS_X: [("y", -math.pi / 2)], L.BASIS_Y: [("x", math.pi / 2)], L.BASIS_Z: []}[basis]
        else:
            r1, r2, r3, axes = req.local_rotation
            names = L.AXES.get(axes, L.AXES[0])
            rotations = [(names[i], r * math.pi / 16) for i, r in enumerate((r1, r2, r3)) if r]
        for axis, angle in rotations:
            executor.execute_physical(executor.translator.rotate(Axis(axis), angle, q))
        outcome = executor._measure(q)
        return outcome, basis

    def _all_requests(self) -> list[EprRequest]:
        return list(self._pending.values()) + [r for q in self._active.values() for r in q]

    # ---- failures -----------------------------------------------------------------------------
    def check_timeouts(self) -> None:
        now = time.monotonic()
        for slots in self._recv_slots.values():
            for slot in [s for s in slots if now > s.deadline]:
                slots.remove(slot)
                self.node.close_process(slot.pid, ExecutionError(
                    f"recv_epr from node {slot.peer}: no matching create_epr arrived within "
                    f"{self.request_timeout_s:g} s (is the peer application running?)"))
        for req in self._all_requests():
            if now > req.deadline:
                self._fail(req, ExecutionError(
                    f"EPR request {req.rid[0]}#{req.rid[1]} with node {req.peer} timed out after "
                    f"{req.done}/{req.number} pairs: the peer did not take part in time"))
        for queue in self._incoming.values():  # CREATEs nobody here received before their creator gave up
            for msg in [m for m in queue if now > m["expires"]]:
                queue.remove(msg)
        for rid in [r for r, t in self._seen_creates.items() if now > t]:
            del self._seen_creates[rid]
        for peer, since in list(self._gap_since.items()):  # an ACCEPT lost on the way: skip its number
            if now - since > self.accept_grace_s:
                del self._gap_since[peer]
                self._skip_accept_gap(peer)

    def _skip_accept_gap(self, peer: str) -> None:
        """A request to ``peer`` ended before its ACCEPT arrived (lost, or the peer gave up): stop
        waiting for that ACCEPT's number so later ones are not held back for ever."""
        waiting = self._accepts.get(peer)
        if waiting:
            self._next_accept[peer] = max(self._next_accept.get(peer, 0), min(waiting))
            self._activate_accepted(peer)
            if waiting:
                self._gap_since[peer] = time.monotonic()

    def _fail(self, req: EprRequest, error: Exception) -> None:
        self._drop(req)
        try:
            self._send(req.peer, "abort", rid=list(req.rid), reason=str(error))
        except Exception:
            pass
        self.node.close_process(req.pid, error)

    def _drop(self, req: EprRequest) -> None:
        if self._pending.pop(req.rid, None) is not None:
            self._skip_accept_gap(req.peer)
        queue = self._active.get(req.peer)
        if queue is not None and req in queue:
            queue.remove(req)

    def _abort_local(self, sender: str, rid: tuple[str, int], reason: str) -> None:
        queue = self._incoming.get(sender)
        if queue:  # a CREATE not yet matched here: forget it
            for msg in [m for m in queue if tuple(m["rid"]) == rid]:
                queue.remove(msg)
        for req in self._all_requests():
            if req.rid == rid and req.peer == sender:  # a node can only abort its own link's requests
                self._drop(req)
                self.node.close_process(req.pid, ExecutionError(f"EPR request aborted by {req.peer}: {reason}"))

    def process_ended(self, proc: "Process") -> None:
        """Forget everything of an ended process; tell peers about its unfinished requests."""
        for req in self._all_requests():
            if req.pid == proc.pid:
                self._drop(req)
                try:
                    self._send(req.peer, "abort", rid=list(req.rid),
                               reason=f"process {proc.name} on {self.node.name} ended")
                except Exception:
                    pass
        for slots in self._recv_slots.values():
            for slot in [s for s in slots if s.pid == proc.pid]:
                slots.remove(slot)
        for key in [k for k in self._sockets if k[0] == proc.pid]:
            del self._sockets[key]


_FIELDS = {
    "create": {"rid": list, "socket": int, "kind": int, "number": int, "rotation": list, "random_basis": int,
               "timeout": (int, float)},
    "accept": {"rid": list, "seq": int},
    "abort": {"rid": list},
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
        if not 1 <= msg["number"] <= 1_000_000 or msg["socket"] < 0 or not 0 < msg["timeout"] <= 86_400:
            raise ValueError("out of range")
        if len(msg["rotation"]) != 4 or not all(isinstance(x, int) for x in msg["rotation"]):
            raise ValueError("bad rotation")
    if what == "accept" and msg["seq"] < 0:
        raise ValueError("bad sequence number")
    return what, (rid[0], rid[1])

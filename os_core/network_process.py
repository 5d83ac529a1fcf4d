"""The node's network process and the port through which the network stack reaches the node.

QNodeOS schedules two classes of process on one QNPU: user processes (applications) and network
processes (entanglement generation). Here the network stack's work — collecting attempts, correcting
and handing over pairs, discarding expired ones, answering control messages — is queued on one
*network process* with the highest priority, and the node's scheduler runs it like any other process.
Whatever it does on the device goes through :class:`NodePort` (the
:class:`~qnodeos.network.port.NetworkPort` of a :class:`~qnodeos.node.Node`): traced under the
request it serves and counted in utilisation in whole device ticks, like gates.
"""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from qnodeos.hal import Axis, PhysicalInstruction, Response

from .errors import QNodeOSError
from .process import Process, ProcessState

if TYPE_CHECKING:
    from .entanglement import EntanglementRecord
    from .node import Node

NETWORK_PID = 0
NETWORK_PRIORITY = 0  # above every user priority (users default to 1; QNodeOS has four levels)


def network_process() -> Process:
    proc = Process(pid=NETWORK_PID, name="network", priority=NETWORK_PRIORITY, pending=deque(), persistent=True)
    proc.state = ProcessState.IDLE
    proc.kind = "network"
    return proc


class NodePort:
    """:class:`~qnodeos.network.port.NetworkPort` over a node (the only way the EGP touches it)."""

    def __init__(self, node: "Node") -> None:
        self._node = node
        self.name = node.name
        self.capabilities = node.capabilities

    # ---- time and the device -------------------------------------------------------------------
    def now_ns(self) -> int:
        return self._node.device.now_ns

    def execute(self, label: str, request: int, instructions: Sequence[PhysicalInstruction], *,
                account: bool = True) -> list[Response]:
        node = self._node
        ex = node.executor
        start = node.device.now_ns
        if account:
            before = ex._last_physical
            ex._last_physical = ()
            try:
                responses = [ex.execute_physical(tuple(instructions))]
            finally:
                physical, ex._last_physical = ex._last_physical, before
            node.trace.record(NETWORK_PID, request, 0, label, start, node.device.now_ns, physical)
            return responses
        responses = list(node.device.execute_many(tuple(instructions)))
        for r in responses:
            r.raise_for_status()
        ex.physical_count += len(responses)
        return responses

    def record_activity(self, label: str, request: int, instruction: PhysicalInstruction, start_ns: int,
                        end_ns: int, busy_ns: int) -> None:
        node = self._node
        tick = node.capabilities.tick_ns
        node.executor.busy_ns += -(-busy_ns // tick) * tick if busy_ns > 0 else 0
        node.trace.record(NETWORK_PID, request, 0, label, start_ns, end_ns, (instruction,))

    # ---- qubits ----------------------------------------------------------------------------------
    def reserve_communication_qubit(self) -> int | None:
        memory = self._node.memory
        q = memory.free_communication_qubit()
        if q is None:
            return None
        memory.assign(NETWORK_PID, _network_vid(q), q)
        self._node.executor._classical.pop(q, None)  # about to be entangled: no longer a known basis state
        return q

    def communication_qubit_free(self) -> bool:
        return self._node.memory.free_communication_qubit() is not None

    def release_qubit(self, physical: int) -> None:
        memory = self._node.memory
        if memory.qubits_of(NETWORK_PID).get(_network_vid(physical)) == physical:
            memory.free(NETWORK_PID, _network_vid(physical))

    def hand_over(self, physical: int, pid: int, virtual_id: int, record: "EntanglementRecord") -> None:
        memory = self._node.memory
        self.release_qubit(physical)
        memory.assign(pid, virtual_id, physical)
        memory.entanglement.add(record)

    def take_back(self, pid: int, virtual_id: int) -> int:
        memory = self._node.memory
        q = memory.free(pid, virtual_id)
        memory.assign(NETWORK_PID, _network_vid(q), q)
        return q

    def correct(self, label: str, request: int, physical: int, gates: Sequence[str]) -> None:
        ex = self._node.executor
        u = np.eye(2)
        for gate in gates:
            u = ex._gates[gate] @ u
        self.execute(label, request, ex.translator.gate("correct-" + "".join(gates), u, physical))

    def rotate_and_measure(self, label: str, request: int, physical: int,
                           rotations: Sequence[tuple[str, float]]) -> int:
        node, ex = self._node, self._node.executor
        start = node.device.now_ns
        before = ex._last_physical
        ex._last_physical = ()
        try:
            for axis, angle in rotations:
                ex.execute_physical(ex.translator.rotate(Axis(axis), angle, physical))
            outcome = ex._measure(physical)
        finally:
            physical_seq, ex._last_physical = ex._last_physical, before
        node.trace.record(NETWORK_PID, request, 0, label, start, node.device.now_ns, physical_seq)
        return outcome

    def reset_qubit(self, label: str, request: int, physical: int) -> None:
        self.execute(label, request, self._node.executor.translator.init(physical))
        self._node.executor._classical[physical] = 0

    # ---- processes -------------------------------------------------------------------------------
    def process_alive(self, pid: int) -> bool:
        proc = self._node._processes.get(pid)
        return proc is not None and not proc.finished

    def array(self, pid: int, address: int) -> list:
        return self._node.executor._array(self._node.process(pid), address)

    def owns(self, pid: int, virtual_id: int) -> bool:
        return virtual_id in self._node.memory.qubits_of(pid)

    def release_scratch(self, pid: int, virtual_id: int) -> bool:
        proc = self._node.process(pid)
        if virtual_id not in proc.scratch_qubits:
            return False
        self._node.memory.free(pid, virtual_id)
        proc.scratch_qubits.discard(virtual_id)
        return True

    def fail_process(self, pid: int, error: Exception) -> None:
        self._node.close_process(pid, error)

    def wake(self) -> None:
        """Waiting processes are re-checked on every scheduling step: nothing to do."""


def _network_vid(physical: int) -> int:
    return -1 - physical  # the network process names its reservations after the qubit


class NetworkWork:
    """The network process's queue: work items run when the scheduler gives it the device."""

    def __init__(self, node: "Node", proc: Process) -> None:
        self._node = node
        self.proc = proc
        self._items: deque[Callable[[], Any]] = deque()
        self.errors: deque[str] = deque(maxlen=50)

    def post(self, fn: Callable[[], Any]) -> None:
        self._items.append(fn)
        if self.proc.state is ProcessState.IDLE:
            self.proc.state = ProcessState.READY
            self._node.policy.push(self.proc)

    def run(self) -> None:
        """Run everything queued (items may queue more); errors end the item, not the node."""
        while self._items:
            fn = self._items.popleft()
            try:
                fn()
            except QNodeOSError as exc:
                self.errors.append(str(exc))
        self.proc.state = ProcessState.IDLE

    def __len__(self) -> int:
        return len(self._items)

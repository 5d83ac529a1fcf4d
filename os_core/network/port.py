"""The typed port between a node's OS and its network stack.

The entanglement generation protocol (:mod:`qnodeos.network.egp`) runs as the node's *network
process*: it never reaches into the executor or the memory manager directly, only through this
interface, which the node implements (:class:`qnodeos.node.Node`). Everything it does on the device
goes through :meth:`NetworkPort.execute`, so attempts and corrections are traced under their request
and counted in utilisation by the same rule as gates.
"""
from __future__ import annotations

from typing import Any, Protocol, Sequence

from qnodeos.hal import Capabilities, PhysicalInstruction, Response


class NetworkPort(Protocol):
    """What the network stack may do on its node."""

    name: str
    capabilities: Capabilities

    def now_ns(self) -> int:
        """The device clock."""
        ...

    def execute(self, label: str, request: int, instructions: Sequence[PhysicalInstruction], *,
                account: bool = True) -> list[Response]:
        """Run physical instructions for the network process, traced as ``label`` under ``request`` and
        counted as busy time (``account=False``: neither — the caller accounts, e.g. per attempt bin)."""
        ...

    def record_activity(self, label: str, request: int, instruction: PhysicalInstruction, start_ns: int,
                        end_ns: int, busy_ns: int) -> None:
        """Trace device time used by the network outside :meth:`execute` (attempt batches)."""
        ...

    def reserve_communication_qubit(self) -> int | None:
        """A free communication qubit, now held by the network process (None if none is free)."""
        ...

    def communication_qubit_free(self) -> bool:
        """Whether a communication qubit is free (without reserving it)."""
        ...

    def release_qubit(self, physical: int) -> None:
        """Give back a qubit the network process holds."""
        ...

    def hand_over(self, physical: int, pid: int, virtual_id: int, record: Any) -> None:
        """Give a qubit the network holds to process ``pid`` as ``virtual_id`` (with its pair record)."""
        ...

    def take_back(self, pid: int, virtual_id: int) -> int:
        """Take a pair's qubit back from process ``pid`` (to discard it); returns the physical qubit."""
        ...

    def correct(self, label: str, request: int, physical: int, gates: Sequence[str]) -> None:
        """Apply named Pauli gates (``x``, ``z``) to a qubit the network holds."""
        ...

    def rotate_and_measure(self, label: str, request: int, physical: int,
                           rotations: Sequence[tuple[str, float]]) -> int:
        """Rotate (axis name, angle) then measure a qubit the network holds; returns the outcome."""
        ...

    def reset_qubit(self, label: str, request: int, physical: int) -> None:
        """Re-initialise a qubit the network holds (a discarded pair's half)."""
        ...

    def process_alive(self, pid: int) -> bool:
        ...

    def array(self, pid: int, address: int) -> list:
        """Process ``pid``'s array at ``address`` (raises ExecutionError if missing)."""
        ...

    def owns(self, pid: int, virtual_id: int) -> bool:
        """Whether process ``pid`` holds a qubit under ``virtual_id``."""
        ...

    def release_scratch(self, pid: int, virtual_id: int) -> bool:
        """If ``virtual_id`` is the process's implicit scratch qubit, free it (a pair replaces it)."""
        ...

    def fail_process(self, pid: int, error: Exception) -> None:
        """End process ``pid`` with ``error`` (it frees everything it holds)."""
        ...

    def wake(self) -> None:
        """Something processes may be waiting for has changed (results written)."""
        ...

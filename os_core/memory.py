"""The qubit map: which process owns which physical qubit, under which virtual id.

Processes only ever see virtual qubit ids; every access goes through :meth:`QuantumMemory.physical`,
which refuses ids the process does not own — that is the isolation boundary between applications.
What goes where, and when a state moves, the memory manager decides
(:mod:`qnodeos.memory_manager`); this map records it (:meth:`assign`, :meth:`relocate`,
:meth:`exchange`). :meth:`allocate` without a choice applies NetQASM's NV convention (virtual qubit 0
= the communication qubit, other ids memory qubits) on devices that have both roles.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from qnodeos.hal import Capabilities, QubitRole

from .entanglement import EntanglementTable
from .errors import OutOfQubits, QubitAccessError


@dataclass
class QubitOwner:
    pid: int
    virtual_id: int


@dataclass
class QuantumMemory:
    """Virtual→physical qubit mapping for all processes of one node."""

    capabilities: Capabilities
    entanglement: EntanglementTable = field(default_factory=EntanglementTable)

    def __post_init__(self) -> None:
        caps = self.capabilities
        self._owner: dict[int, QubitOwner] = {}
        self._maps: dict[int, dict[int, int]] = {}
        #: read-only live view of every process's virtual→physical map, for the executor's hot path
        #: (an id missing here goes through :meth:`physical`, which names the error)
        self.virtual_maps: Mapping[int, Mapping[int, int]] = MappingProxyType(self._maps)
        self._communication = caps.qubits_with(QubitRole.COMMUNICATION)
        self._memory_only = tuple(q.index for q in caps.qubits if QubitRole.COMMUNICATION not in q.roles)
        # NV-style devices (dedicated communication qubits) pin virtual id 0 to a communication qubit;
        # a device without communication qubits (no network link) has nothing to pin to.
        self.role_pinned = bool(self._memory_only) and bool(self._communication)

    # ---- queries ------------------------------------------------------------------------------
    def physical(self, pid: int, virtual_id: int) -> int:
        """The physical qubit behind ``virtual_id`` of process ``pid`` (raises if not owned)."""
        try:
            return self._maps[pid][virtual_id]
        except KeyError:
            raise QubitAccessError(f"process {pid} has no qubit with virtual id {virtual_id}") from None

    def owner_of(self, physical: int) -> QubitOwner | None:
        return self._owner.get(physical)

    def qubits_of(self, pid: int) -> dict[int, int]:
        """A copy of ``pid``'s virtual→physical map."""
        return dict(self._maps.get(pid, {}))

    def allocated(self) -> dict[int, QubitOwner]:
        return dict(self._owner)

    def is_free(self, physical: int) -> bool:
        return physical not in self._owner

    def free_qubits(self) -> list[int]:
        return [q.index for q in self.capabilities.qubits if q.index not in self._owner]

    def wants_communication(self, virtual_id: int) -> bool:
        """Whether this virtual id must sit on a communication qubit (NV convention: id 0)."""
        return self.role_pinned and virtual_id == 0

    def _pool(self, communication: bool) -> tuple[tuple[int, ...], str]:
        if self.role_pinned:
            return (self._communication, "communication") if communication else (self._memory_only, "memory")
        if communication:
            return self._communication, "communication"
        return tuple(q.index for q in self.capabilities.qubits), "any"

    # ---- changes ------------------------------------------------------------------------------
    def allocate(self, pid: int, virtual_id: int, communication: bool | None = None) -> int:
        """Give ``pid`` a free physical qubit under ``virtual_id``.

        ``communication`` forces the role; ``None`` applies the platform convention.
        """
        vmap = self._maps.setdefault(pid, {})
        if virtual_id in vmap:
            raise QubitAccessError(f"process {pid} already holds virtual qubit {virtual_id}")
        if communication is None:
            communication = self.wants_communication(virtual_id)
        pool, role = self._pool(communication)
        for phys in pool:
            if phys not in self._owner:
                self._owner[phys] = QubitOwner(pid, virtual_id)
                vmap[virtual_id] = phys
                return phys
        raise OutOfQubits(f"process {pid}: no free {role} qubit for virtual id {virtual_id} "
                          f"({len(pool)} such qubits, all in use)")

    def assign(self, pid: int, virtual_id: int, physical: int) -> None:
        """Give ``pid`` the specific free qubit ``physical`` under ``virtual_id`` (an EPR half)."""
        vmap = self._maps.setdefault(pid, {})
        if virtual_id in vmap:
            raise QubitAccessError(f"process {pid} already holds virtual qubit {virtual_id}")
        if physical in self._owner:
            raise OutOfQubits(f"physical qubit {physical} is in use by process {self._owner[physical].pid}")
        self._owner[physical] = QubitOwner(pid, virtual_id)
        vmap[virtual_id] = physical

    def relocate(self, pid: int, virtual_id: int, physical: int) -> int:
        """Re-map ``pid``'s ``virtual_id`` to the free qubit ``physical`` (its state was moved there);
        its pair record follows. Returns the qubit it left."""
        old = self.physical(pid, virtual_id)
        if physical in self._owner:
            raise OutOfQubits(f"physical qubit {physical} is in use by process {self._owner[physical].pid}")
        del self._owner[old]
        self._owner[physical] = QubitOwner(pid, virtual_id)
        self._maps[pid][virtual_id] = physical
        record = self.entanglement.discard(old)
        if record is not None:
            self.entanglement.add(dataclasses.replace(record, physical_qubit=physical))
        return old

    def exchange(self, pid: int, vid_a: int, vid_b: int) -> None:
        """Swap the physical qubits behind two of ``pid``'s virtual ids (their states were swapped)."""
        qa, qb = self.physical(pid, vid_a), self.physical(pid, vid_b)
        vmap = self._maps[pid]
        vmap[vid_a], vmap[vid_b] = qb, qa
        self._owner[qa], self._owner[qb] = QubitOwner(pid, vid_b), QubitOwner(pid, vid_a)
        ra, rb = self.entanglement.discard(qa), self.entanglement.discard(qb)
        for record, q in ((ra, qb), (rb, qa)):
            if record is not None:
                self.entanglement.add(dataclasses.replace(record, physical_qubit=q))

    def free_communication_qubit(self) -> int | None:
        """A free communication qubit, if any."""
        return next((q for q in self._communication if q not in self._owner), None)

    def free(self, pid: int, virtual_id: int) -> int:
        """Release one virtual qubit; also drops its entanglement record."""
        phys = self.physical(pid, virtual_id)
        del self._maps[pid][virtual_id]
        del self._owner[phys]
        self.entanglement.discard(phys)
        return phys

    def free_all(self, pid: int) -> list[int]:
        """Release everything ``pid`` holds (process end or failure). Returns the physical qubits."""
        freed = [self.free(pid, v) for v in list(self._maps.get(pid, {}))]
        self._maps.pop(pid, None)
        return freed

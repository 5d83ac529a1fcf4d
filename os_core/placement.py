"""Placement by need: which free physical qubit a virtual qubit gets.

A qubit is scored by what the process will ask of it (:mod:`qnodeos.qubit_needs`) at this qubit's
costs (:mod:`qnodeos.qubit_costs`): its local operations, its readout (direct, or through an ancilla
on qubits that cannot be measured), the coherence it loses while it is held across the host's next
round trip, and one move for every two-qubit partner it could not meet directly. The cheapest wins;
ties go to the faster qubit, then to a qubit without a communication role (kept free for
entanglement), then to the lowest index.

On NV this puts a qubit that is used and measured within one subroutine on the electron (fast gates,
direct readout) and a qubit held across a long host wait on a carbon (seconds of coherence instead of
milliseconds); on a trapped ion all ions are alike. Programs written in NetQASM's NV flavour are not
placed freely: their virtual qubit 0 is the electron and the others are carbons (the flavour's
convention, which the SDK's NV compiler relies on).
"""
from __future__ import annotations

import math
from typing import Sequence

from qnodeos.hal import QubitRole

from .qubit_costs import CostModel
from .qubit_needs import VirtualNeeds

_TIE = 1e-9


class Placement:
    """Chooses physical qubits for virtual ones on one device."""

    def __init__(self, costs: CostModel) -> None:
        self.costs = costs
        caps = costs.caps
        self.communication = caps.qubits_with(QubitRole.COMMUNICATION)
        self.memory_only = tuple(q.index for q in caps.qubits if not q.is_communication)
        #: the NV convention applies where the device separates communication and memory qubits
        self.has_roles = bool(self.communication) and bool(self.memory_only)
        self._move: float | None = None

    def typical_move(self) -> float:
        """Fidelity cost of the cheapest move between two qubits of this device (inf if none)."""
        if self._move is None:
            n = self.costs.caps.num_qubits
            self._move = min((self.costs.move(a, b)[0] for a in range(n) for b in range(n) if a != b),
                             default=math.inf)
        return self._move

    def convention_pool(self, virtual_id: int) -> tuple[int, ...]:
        """Qubits an NV-flavour program's virtual qubit may hold: 0 = communication, others = memory."""
        return self.communication if virtual_id == 0 else self.memory_only

    def score(self, qubit: int, need: VirtualNeeds | None, *, hold_ns: float = 0.0,
              partners_at: Sequence[int] = (), unplaced_partners: int = 0,
              free: Sequence[int] = ()) -> tuple[float, int]:
        """(fidelity cost, device time) of serving ``need`` on ``qubit``."""
        costs = self.costs
        local_ops, measured, kept = (1, True, False) if need is None else (need.local_ops, need.measured, need.kept)
        op_err, op_ns = costs.local_op(qubit)
        fid, ns = local_ops * op_err, local_ops * op_ns
        if measured:
            m_err, m_ns = costs.measure(qubit)
            fid, ns = fid + m_err, ns + m_ns
        if kept:
            fid += costs.storage(qubit, hold_ns)
        translator = costs.translator
        misses = sum(1 for p in partners_at if not translator.can_entangle(qubit, p))
        if unplaced_partners:
            neighbours = sum(1 for f in free if f != qubit and translator.can_entangle(qubit, f))
            misses += max(0, unplaced_partners - neighbours)
        if misses:
            fid += misses * self.typical_move()
        return fid, ns

    def rank(self, candidates: Sequence[int], need: VirtualNeeds | None, **context: object) -> list[int]:
        """``candidates`` best first (see the module docstring)."""
        comm = set(self.communication)

        def key(q: int) -> tuple:
            fid, ns = self.score(q, need, **context)  # type: ignore[arg-type]
            return (round(fid / _TIE) if math.isfinite(fid) else math.inf, ns, q in comm, q)

        return sorted(candidates, key=key)

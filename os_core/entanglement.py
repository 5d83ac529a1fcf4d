"""The entanglement table: which local physical qubit shares a pair with which remote qubit.

Each record carries the pair id both nodes agreed on, when it was created (device time) and a fidelity
estimate that decays with the qubit's coherence time; the cut-off drops pairs that have decohered too far.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class EntanglementRecord:
    physical_qubit: int
    remote_node: str
    remote_qubit: int | None
    pair_id: int
    created_ns: int
    fidelity: float
    t2_ns: float = math.inf
    #: when the application's request stops counting the pair as good (its minimum fidelity or maximum
    #: age, device time; inf: never)
    expires_ns: float = math.inf

    def fidelity_at(self, now_ns: int) -> float:
        """Estimated fidelity now: the Bell-state coherence decays as exp(-t/T2) (F -> 1/2 floor)."""
        if math.isinf(self.t2_ns):
            return self.fidelity
        decay = math.exp(-(now_ns - self.created_ns) / self.t2_ns)
        return 0.5 + (self.fidelity - 0.5) * decay


class EntanglementTable:
    """Records by local physical qubit; at most one pair per qubit."""

    def __init__(self, min_fidelity: float = 0.0) -> None:
        self.min_fidelity = min_fidelity
        self._records: dict[int, EntanglementRecord] = {}

    def add(self, record: EntanglementRecord) -> None:
        self._records[record.physical_qubit] = record

    def get(self, physical_qubit: int) -> EntanglementRecord | None:
        return self._records.get(physical_qubit)

    def discard(self, physical_qubit: int) -> EntanglementRecord | None:
        return self._records.pop(physical_qubit, None)

    def records(self) -> list[EntanglementRecord]:
        return list(self._records.values())

    def expires_ns(self, record: EntanglementRecord) -> float:
        """When the pair stops being good (device time; inf: never): its request's expiry, or when its
        estimated fidelity falls below the table's cut-off, whichever comes first."""
        floor = self.min_fidelity
        if floor <= 0.5 or math.isinf(record.t2_ns):
            return record.expires_ns
        if record.fidelity < floor:
            return float(record.created_ns)
        below = record.created_ns + record.t2_ns * math.log((record.fidelity - 0.5) / (floor - 0.5))
        return min(below, record.expires_ns)

    def expired(self, now_ns: int) -> list[EntanglementRecord]:
        """Records whose estimated fidelity has fallen below the cut-off."""
        return [r for r in self._records.values() if r.fidelity_at(now_ns) < self.min_fidelity]

    def __len__(self) -> int:
        return len(self._records)

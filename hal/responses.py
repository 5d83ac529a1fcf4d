"""What a QDevice answers: one response per physical instruction, stamped with the device clock.

Mirrors QNodeOS's response codes: measured 0/1, entanglement failure (this attempt failed),
entanglement *sync* failure (the peer was not attempting in the same window), the heralded Bell state
on success, and the explicit refusals (unsupported request, invalid qubit, hardware failure).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from .errors import DeviceFault, InvalidQubit, QDeviceError, UnsupportedInstruction
from .instructions import PhysicalInstruction


class Status(str, enum.Enum):
    """Outcome class of one physical instruction."""

    OK = "ok"
    MEASURED = "measured"
    ENTANGLED = "entangled"
    ENT_FAILURE = "entanglement_failure"
    ENT_SYNC_FAILURE = "entanglement_sync_failure"
    UNSUPPORTED = "unsupported"
    INVALID_QUBIT = "invalid_qubit"
    HARDWARE_FAILURE = "hardware_failure"


class BellState(str, enum.Enum):
    """The heralded two-qubit state (qubit order: this node's qubit first)."""

    PHI_PLUS = "phi+"
    PHI_MINUS = "phi-"
    PSI_PLUS = "psi+"
    PSI_MINUS = "psi-"


_ERRORS: dict[Status, type[QDeviceError]] = {
    Status.UNSUPPORTED: UnsupportedInstruction,
    Status.INVALID_QUBIT: InvalidQubit,
    Status.HARDWARE_FAILURE: DeviceFault,
}


@dataclass(frozen=True, slots=True)
class Response:
    """A device's answer to one instruction.

    ``instruction`` is what was asked, ``status`` how it went (``message`` says why when it did not
    succeed); ``start_ns``/``end_ns`` are device-clock stamps (the instruction began on a tick boundary);
    ``outcome`` is set for measurements, ``bell_state``/``pair_id`` on a heralded success and
    ``attempts`` counts the entanglement attempts made.
    """

    instruction: PhysicalInstruction
    status: Status
    start_ns: int
    end_ns: int
    outcome: int | None = None
    bell_state: BellState | None = None
    attempts: int = 0
    pair_id: int | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        """True unless the device refused or failed the instruction (a failed attempt is 'ok')."""
        return self.status not in _ERRORS

    def raise_for_status(self) -> "Response":
        """Turn a refusal into the matching :mod:`qnodeos.hal.errors` exception; return self otherwise."""
        err = _ERRORS.get(self.status)
        if err is not None:
            raise err(self.message or f"{self.status.value}: {self.instruction!r}")
        return self

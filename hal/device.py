"""The QDevice contract every driver implements.

One method does the work: :meth:`QDevice.execute` takes one physical instruction, performs it on the
device (starting on the next tick boundary of the device clock) and returns a :class:`Response` stamped
with device time. Refusals come back as responses (status ``UNSUPPORTED`` / ``INVALID_QUBIT``), as in
QNodeOS; transport failures raise :class:`~qnodeos.hal.errors.DeviceFault` or ``DeviceTimeout``.
"""
from __future__ import annotations

import abc
from typing import Iterable

from .capabilities import Capabilities
from .instructions import PhysicalInstruction
from .responses import Response


class QDevice(abc.ABC):
    """A quantum device as the OS sees it: capabilities, a clock, and one-instruction execution."""

    #: Node name this device belongs to (the name peers use in ``EntangleAttempt.peer``).
    node: str = "node"

    #: True when ``now_ns`` is a simulated clock that only moves when instructions (or ``Wait``) run:
    #: the OS then idles by executing ``Wait`` instead of sleeping on the wall clock.
    simulated: bool = False

    @property
    @abc.abstractmethod
    def capabilities(self) -> Capabilities:
        """The device's static description."""

    @property
    @abc.abstractmethod
    def now_ns(self) -> int:
        """The device clock (simulated on mock devices, controller time on real ones)."""

    @abc.abstractmethod
    def execute(self, instruction: PhysicalInstruction) -> Response:
        """Perform one instruction and return its response."""

    def execute_many(self, instructions: Iterable[PhysicalInstruction]) -> list[Response]:
        """Perform instructions in order; drivers that upload sequences override this to batch I/O."""
        return [self.execute(i) for i in instructions]

    @abc.abstractmethod
    def reset(self) -> None:
        """Return every qubit to |0> and forget entanglement; the clock keeps running."""

    def close(self) -> None:  # noqa: B027 (an optional hook: in-process devices hold nothing to release)
        """Release the transport (no-op for in-process devices)."""

    def __enter__(self) -> "QDevice":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

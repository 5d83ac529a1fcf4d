"""A QDevice that does no physics: every instruction succeeds at once (measurements give 0).

It borrows a real driver's capabilities so the OS translates exactly as it would for that device,
which makes it the right stand-in for measuring OS overhead without the cost of the physics.
"""
from __future__ import annotations

from qnodeos.hal import Capabilities, EntangleAttempt, Measure, QDevice, Response, Status, Wait


class NullDevice(QDevice):
    simulated = True

    def __init__(self, capabilities: Capabilities) -> None:
        self._caps = capabilities
        self._now = 0
        self._tick = capabilities.tick_ns
        self._durations: dict[type, int] = {}

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    @property
    def now_ns(self) -> int:
        return self._now

    def execute(self, instruction) -> Response:  # type: ignore[no-untyped-def]
        start = self._now
        if isinstance(instruction, Wait):
            self._now += instruction.duration_ns
            return Response(instruction, Status.OK, start, self._now)
        self._now += self._tick
        if isinstance(instruction, Measure):
            return Response(instruction, Status.MEASURED, start, self._now, outcome=0)
        if isinstance(instruction, EntangleAttempt):
            return Response(instruction, Status.ENT_FAILURE, start, self._now, attempts=1)
        return Response(instruction, Status.OK, start, self._now)

    def reset(self) -> None:
        pass

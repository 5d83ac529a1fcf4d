"""The controller shims' clock: asked for once, then followed through the responses.

A simulated controller clock only moves with the instructions this shim sends, and the OS reads the
clock around every instruction, so after one ``SYST:TIME?`` the shims answer from the last response
instead of a round trip. A real controller's clock runs on its own and is always asked.
"""
from __future__ import annotations

import abc
from typing import Iterable

from qnodeos.hal import Capabilities, DeviceFault, PhysicalInstruction, QDevice, Response


class ControllerClock(QDevice):
    """QDevice base for shims: ``capabilities``, ``now_ns``, ``execute``, ``execute_many`` and
    ``reset`` in terms of the transport's ``_caps``, ``_time_reply``, ``_execute_many`` and ``_reset``."""

    _clock: int | None = None
    _caps: Capabilities  # read from the controller (CAPS?) when the shim connects

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    @abc.abstractmethod
    def _time_reply(self) -> str:
        """The controller's answer to ``SYST:TIME?``."""

    @abc.abstractmethod
    def _execute_many(self, instructions: Iterable[PhysicalInstruction]) -> list[Response]:
        """Run a sequence on the controller and return its responses."""

    @abc.abstractmethod
    def _reset(self) -> None:
        """Reset the controller."""

    @abc.abstractmethod
    def _who(self) -> str:
        """Instrument and link, for error messages."""

    @property
    def now_ns(self) -> int:
        if self.simulated and self._clock is not None:
            return self._clock
        reply = self._time_reply()
        try:
            self._clock = int(reply)
        except ValueError:
            raise DeviceFault(f"{self._who()}: 'SYST:TIME?' answered {reply!r}, not an integer") from None
        return self._clock

    def execute(self, instruction: PhysicalInstruction) -> Response:
        return self.execute_many([instruction])[0]

    def execute_many(self, instructions: Iterable[PhysicalInstruction]) -> list[Response]:
        results = self._execute_many(instructions)
        if results and self._clock is not None:
            self._clock = max(self._clock, results[-1].end_ns)
        return results

    def reset(self) -> None:
        self._clock = None
        self._reset()

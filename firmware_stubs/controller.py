"""Emulated qnodeos controller firmware: the controller protocol's command set on a :class:`FirmwareStub`.

The servers (:mod:`.servers`) only move bytes; everything the controller *means* lives here, so the
text and framed links share one command set, one error queue and one table of executed sequences.
Wrap a mock device to get a controller backed by the mock physics::

    >>> from qnodeos.drivers.mock_nv import MockNVDevice
    >>> ctl = Controller(MockNVDevice.from_config(seed=1, preset="ideal"))
    >>> ctl.handle("*IDN?")
    'QNODEOS,QCTRL-EMU,SN0001,1.0'
    >>> ctl.handle("SEQ:RUN? demo.1 INIT 0|MEAS 0")
    'demo.1 2|ok 0 2000 - - 0 - -|measured 10000 13700 0 - 0 - -'
    >>> print(ctl.handle("FLY?"))
    ERR -113,"undefined header 'FLY?'"

:attr:`Controller.executed` logs every instruction handed to the device, which is how tests prove
that retries and reconnects neither lose nor duplicate work.
"""
from __future__ import annotations

from collections import OrderedDict

from qnodeos.drivers import protocol as proto
from qnodeos.hal import QDevice, Response
from qnodeos.hal.instructions import PhysicalInstruction

from .faults import Faults
from .stub import CommandError, FirmwareStub, command

__all__ = ["CommandError", "Controller"]


class Controller(FirmwareStub):
    """The qnodeos controller firmware: stages/arms/runs sequences and remembers results by id."""

    def __init__(self, device: QDevice, *, maker: str = proto.IDN_MAKER, model: str = "QCTRL-EMU",
                 serial: str = "SN0001", firmware: str = "1.0", faults: Faults | None = None) -> None:
        super().__init__(device, idn=proto.format_idn(maker, model, serial, firmware), faults=faults)
        self._staged: list[PhysicalInstruction] = []
        self._armed: tuple[str, list[PhysicalInstruction]] | None = None
        self._results: OrderedDict[str, list[Response]] = OrderedDict()

    def results_for(self, seq_id: str) -> list[Response] | None:
        """The responses of sequence ``seq_id`` if it ran (for tests)."""
        with self._lock:
            return self._results.get(seq_id)

    # --------------------------------------------------------------------------------- commands
    @command("*RST")
    def _rst(self, _: str) -> None:
        self._staged.clear()
        self._armed = None
        self.device.reset()

    @command("CAPS?")
    def _caps(self, _: str) -> str:
        return proto.encode_capabilities(self.device.capabilities.to_dict())

    @command("SYST:TIME?")
    def _time(self, _: str) -> str:
        return str(int(self.device.now_ns))

    @command("SYST:CLOCK?")
    def _clock(self, _: str) -> str:
        return "SIMULATED" if getattr(self.device, "simulated", False) else "REAL"

    @command("SEQ:CLEAR")
    def _clear(self, _: str) -> None:
        self._staged.clear()

    @command("SEQ:APPEND")
    def _append(self, arg: str) -> None:
        if not arg:
            raise CommandError(proto.ERR_MISSING_PARAMETER, "SEQ:APPEND needs at least one instruction")
        self._staged.extend(self._decode(arg))

    @command("SEQ:ARM")
    def _arm(self, arg: str) -> None:
        seq_id, _, count = arg.partition(",")
        seq_id = self._seq_id(seq_id.strip())
        try:
            n = int(count)
        except ValueError:
            raise CommandError(proto.ERR_MISSING_PARAMETER, f"SEQ:ARM wants <id>,<count>, got {arg!r}") from None
        if seq_id in self._results:
            self._staged.clear()
            return  # already ran: re-arming a finished id is a harmless no-op (host retry)
        if n != len(self._staged):
            staged = len(self._staged)
            self._staged.clear()
            raise CommandError(proto.ERR_SETTINGS_CONFLICT,
                               f"SEQ:ARM {seq_id}: host sent {n} instruction(s), controller staged {staged}")
        self._armed = (seq_id, list(self._staged))
        self._staged.clear()

    @command("*TRG")
    def _trg(self, _: str) -> None:
        if self._armed is None:
            raise CommandError(proto.ERR_SETTINGS_CONFLICT, "*TRG with no armed sequence")
        seq_id, instrs = self._armed
        self._armed = None
        self._run_once(seq_id, instrs)

    @command("SEQ:STAT?")
    def _stat(self, arg: str) -> str:
        seq_id = self._seq_id(arg)
        if seq_id in self._results:
            return "DONE"
        if self._armed is not None and self._armed[0] == seq_id:
            return "ARMED"
        return "UNKNOWN"

    @command("SEQ:RESULTS?")
    def _results_q(self, arg: str) -> str:
        seq_id = self._seq_id(arg)
        results = self._results.get(seq_id)
        if results is None:
            raise CommandError(proto.ERR_SETTINGS_CONFLICT, f"sequence {seq_id} has not run")
        return proto.encode_results(seq_id, results)

    @command("SEQ:RUN?")
    def _run_q(self, arg: str) -> str:
        seq_id, _, body = arg.partition(" ")
        seq_id = self._seq_id(seq_id)
        if seq_id not in self._results:
            self._run_once(seq_id, self._decode(body))
        return proto.encode_results(seq_id, self._results[seq_id])

    # ---------------------------------------------------------------------------------- helpers
    def _seq_id(self, text: str) -> str:
        try:
            return proto.check_seq_id(text.strip())
        except ValueError as exc:
            raise CommandError(proto.ERR_ILLEGAL_VALUE, str(exc)) from None

    def _decode(self, text: str) -> list[PhysicalInstruction]:
        try:
            return proto.decode_instructions(text)
        except (ValueError, TypeError) as exc:
            raise CommandError(proto.ERR_ILLEGAL_VALUE, str(exc)) from None

    def _run_once(self, seq_id: str, instrs: list[PhysicalInstruction]) -> None:
        """Execute and file the results under ``seq_id`` (the last RESULTS_KEPT ids are kept)."""
        self._results[seq_id] = self.run(instrs)
        while len(self._results) > proto.RESULTS_KEPT:
            self._results.popitem(last=False)

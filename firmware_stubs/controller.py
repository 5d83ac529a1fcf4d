"""Emulated real-time controller firmware: the protocol state machine around any :class:`QDevice`.

The transports (:mod:`.tcp_server`, :mod:`.serial_server`) only move bytes; everything the controller
*means* lives here, so the text and framed protocols share one command set, one error queue and one
table of executed sequences. Wrap a mock device to get a controller backed by the mock physics::

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

import threading
from collections import OrderedDict, deque
from typing import Callable

from qnodeos.drivers import controller_protocol as proto
from qnodeos.hal import QDevice, Response, Status
from qnodeos.hal.instructions import PhysicalInstruction

from .faults import Faults


class CommandError(Exception):
    """A command the controller refuses: SCPI-style code plus message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Controller:
    """The firmware: parses commands, stages/arms/runs sequences, remembers results by id."""

    def __init__(self, device: QDevice, *, maker: str = proto.IDN_MAKER, model: str = "QCTRL-EMU",
                 serial: str = "SN0001", firmware: str = "1.0", faults: Faults | None = None) -> None:
        self.device = device
        self.idn = proto.format_idn(maker, model, serial, firmware)
        self.faults = faults if faults is not None else Faults()
        #: Every instruction handed to the device, in order (the test oracle for "run once").
        self.executed: list[PhysicalInstruction] = []
        #: Every command line received (text and framed), in order.
        self.commands: list[str] = []
        #: Framed requests answered from the reply cache instead of being executed again.
        self.replayed = 0
        self._lock = threading.RLock()
        self._errors: deque[tuple[int, str]] = deque(maxlen=32)
        self._staged: list[PhysicalInstruction] = []
        self._armed: tuple[str, list[PhysicalInstruction]] | None = None
        self._results: OrderedDict[str, list[Response]] = OrderedDict()
        self._replies: OrderedDict[int, tuple[str, str]] = OrderedDict()
        self._table: dict[str, Callable[[str], str | None]] = {
            "*IDN?": self._idn, "*RST": self._rst, "*CLS": self._cls, "*OPC?": lambda _: "1",
            "CAPS?": self._caps, "SYST:TIME?": self._time, "SYST:CLOCK?": self._clock, "SYST:ERR?": self._err,
            "SEQ:CLEAR": self._clear, "SEQ:APPEND": self._append, "SEQ:ARM": self._arm, "*TRG": self._trg,
            "SEQ:STAT?": self._stat, "SEQ:RESULTS?": self._results_q, "SEQ:RUN?": self._run_q,
        }

    # ------------------------------------------------------------------------------ entry points
    def handle(self, line: str) -> str | None:
        """Text protocol: the reply line for a query, None for a command. A failed command queues
        its error; a failed query also answers ``ERR <code>,"<message>"`` so the host never waits
        for a reply that is not coming."""
        header, arg = proto.split_command(line)
        with self._lock:
            self.commands.append(line.strip())
            try:
                return self._dispatch(header, arg)
            except CommandError as exc:
                self._errors.append((exc.code, exc.message))
                if header.endswith("?"):
                    return proto.framed_error(exc.code, exc.message)
                return None

    def handle_framed(self, seq: int, payload: str) -> str:
        """Framed protocol: every request answers. A re-sent ``seq`` with the same payload gets the
        cached reply, so a host retry never executes anything twice."""
        with self._lock:
            cached = self._replies.get(seq)
            if cached is not None and cached[0] == payload:
                self.replayed += 1
                return cached[1]
            header, arg = proto.split_command(payload)
            self.commands.append(payload.strip())
            try:
                reply = self._dispatch(header, arg)
                reply = proto.framed_ok() if reply is None else reply
            except CommandError as exc:
                reply = proto.framed_error(exc.code, exc.message)
            size = len(reply.encode("utf-8"))
            if size > proto.MAX_PAYLOAD:  # cannot travel in one frame: say so instead
                reply = proto.framed_error(proto.ERR_EXECUTION, (
                    f"{header}: reply of {size} bytes exceeds the frame limit of {proto.MAX_PAYLOAD} bytes "
                    "(run fewer instructions per sequence)"))
            self._replies[seq] = (payload, reply)
            while len(self._replies) > proto.RESULTS_KEPT:
                self._replies.popitem(last=False)
            return reply

    def results_for(self, seq_id: str) -> list[Response] | None:
        """The responses of sequence ``seq_id`` if it ran (for tests)."""
        with self._lock:
            return self._results.get(seq_id)

    # --------------------------------------------------------------------------------- commands
    def _dispatch(self, header: str, arg: str) -> str | None:
        fn = self._table.get(header)
        if fn is None:
            raise CommandError(proto.ERR_UNDEFINED_HEADER, f"undefined header {header!r}")
        try:
            return fn(arg)
        except CommandError:
            raise
        except Exception as exc:  # a firmware bug must not take the link down: report it as an error
            raise CommandError(proto.ERR_EXECUTION, f"{header}: internal error {type(exc).__name__}: {exc}") from exc

    def _idn(self, _: str) -> str:
        return self.faults.wrong_idn if self.faults.wrong_idn is not None else self.idn

    def _rst(self, _: str) -> None:
        self._staged.clear()
        self._armed = None
        self.device.reset()

    def _cls(self, _: str) -> None:
        self._errors.clear()

    def _caps(self, _: str) -> str:
        return proto.encode_capabilities(self.device.capabilities.to_dict())

    def _time(self, _: str) -> str:
        return str(int(self.device.now_ns))

    def _clock(self, _: str) -> str:
        return "SIMULATED" if getattr(self.device, "simulated", False) else "REAL"

    def _err(self, _: str) -> str:
        code, msg = self._errors.popleft() if self._errors else proto.NO_ERROR
        return proto.format_error(code, msg)

    def _clear(self, _: str) -> None:
        self._staged.clear()

    def _append(self, arg: str) -> None:
        if not arg:
            raise CommandError(proto.ERR_MISSING_PARAMETER, "SEQ:APPEND needs at least one instruction")
        self._staged.extend(self._decode(arg))

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

    def _trg(self, _: str) -> None:
        if self._armed is None:
            raise CommandError(proto.ERR_SETTINGS_CONFLICT, "*TRG with no armed sequence")
        seq_id, instrs = self._armed
        self._armed = None
        self._run(seq_id, instrs)

    def _stat(self, arg: str) -> str:
        seq_id = self._seq_id(arg)
        if seq_id in self._results:
            return "DONE"
        if self._armed is not None and self._armed[0] == seq_id:
            return "ARMED"
        return "UNKNOWN"

    def _results_q(self, arg: str) -> str:
        seq_id = self._seq_id(arg)
        results = self._results.get(seq_id)
        if results is None:
            raise CommandError(proto.ERR_SETTINGS_CONFLICT, f"sequence {seq_id} has not run")
        return proto.encode_results(seq_id, results)

    def _run_q(self, arg: str) -> str:
        seq_id, _, body = arg.partition(" ")
        seq_id = self._seq_id(seq_id)
        if seq_id not in self._results:
            self._run(seq_id, self._decode(body))
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

    def _run(self, seq_id: str, instrs: list[PhysicalInstruction]) -> None:
        """Execute once and file the results under ``seq_id``; a device fault (or any exception the
        driver raises) becomes a hardware-failure response (the link is fine, the device is not)."""
        out: list[Response] = []
        for instr in instrs:
            self.executed.append(instr)
            try:
                out.append(self.device.execute(instr))
            except Exception as exc:  # a QDeviceError, or a driver bug: the device failed, the link did not
                now = int(self.device.now_ns)
                out.append(Response(instr, Status.HARDWARE_FAILURE, now, now,
                                    message=f"{type(exc).__name__}: {exc}"))
        self._results[seq_id] = out
        while len(self._results) > proto.RESULTS_KEPT:
            self._results.popitem(last=False)

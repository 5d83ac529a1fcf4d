"""QDevice driver for a real-time controller (ADwin/FPGA sequencer) that speaks the qnodeos controller
protocol (:mod:`qnodeos.drivers.protocol`), over any :mod:`transport <qnodeos.drivers.transports>`.

:class:`ControllerShim` lowers physical instructions to the protocol and leaves the bytes to its
transport: :class:`VisaControllerDevice` (driver ``visa-controller``) is the shim on text lines through
pyvisa, :class:`SerialControllerDevice` (driver ``serial-controller``) the shim on CRC-checked frames
through pyserial, and tests hand it a :class:`~qnodeos.drivers.transports.replay.ReplayTransport`.

Failure handling, the part labs trip over:

* every I/O failure becomes :class:`~qnodeos.hal.DeviceFault` (or :class:`~qnodeos.hal.DeviceTimeout`)
  naming the driver, the instrument, where it is and the command that failed;
* the controller must identify itself (``*IDN?``) as expected, on connect and on every reconnect;
* a lost reply is recovered without running anything twice or losing a result: the controller runs
  each sequence id at most once and keeps its results. On a text link the shim reopens the link and
  asks ``SEQ:STAT? <id>`` to decide between re-fetching and re-uploading; on a framed link it re-sends
  the same frame, which the controller answers from its reply cache.
"""
from __future__ import annotations

import secrets
import threading
from typing import Any, Callable, Iterable, TypeVar

from qnodeos.hal import Capabilities, ConfigError, DeviceFault, DeviceTimeout, QDevice, Response
from qnodeos.hal.instructions import PhysicalInstruction

from .protocol import codec, grammar
from .protocol.grammar import ControllerError
from .transports.base import LinkError, Transport

T = TypeVar("T")

__all__ = ["ControllerShim", "SerialControllerDevice", "VisaControllerDevice"]


class ControllerShim(QDevice):
    """A qnodeos-protocol controller behind ``transport``, as a :class:`QDevice`.

    ``expected_maker`` and ``expected_model`` (class attributes; the model also as an argument) pin
    the first two ``*IDN?`` fields; ``None`` accepts any model. A request that fails on the link is
    tried ``retries`` more times. Subclass to adapt to a lab's controller (see
    ``docs/writing-a-driver.md``).
    """

    driver_name = "controller-shim"
    expected_maker: str = grammar.IDN_MAKER
    expected_model: str | None = None

    def __init__(self, transport: Transport, *, node: str = "node", retries: int = 1,
                 expected_model: str | None = None, session: str | None = None) -> None:
        self._check_retries(retries)
        self._transport = transport
        self.node = node
        self.retries = int(retries)
        if expected_model is not None:
            self.expected_model = expected_model
        self._session = codec.check_seq_id(session or secrets.token_hex(4))
        self._counter = 0
        self._clock: int | None = None
        self._identified_on = -1  # the transport's open count when *IDN? last answered
        self._lock = threading.RLock()
        self.instrument = ""  # '<maker> <model> (SN …)' once *IDN? answered
        self.idn = ""
        try:
            self._caps = self._read_capabilities()
            try:
                self.simulated = self._ask("SYST:CLOCK?") == "SIMULATED"
            except ControllerError:
                self.simulated = False  # firmware without SYST:CLOCK?: a real clock
        except BaseException:
            self.close()
            raise

    # ----------------------------------------------------------------------------- configuration
    @classmethod
    def _check_timeout(cls, timeout: float) -> float:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ConfigError(f"{cls.driver_name}: timeout must be > 0 s, got {timeout!r}")
        return float(timeout)

    @classmethod
    def _check_retries(cls, retries: int) -> None:
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigError(f"{cls.driver_name}: retries must be an integer >= 0, got {retries!r}")

    # ------------------------------------------------------------------------------ QDevice API
    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    @property
    def now_ns(self) -> int:
        """The controller clock. A simulated one moves only with this shim's instructions, so after
        one ``SYST:TIME?`` it is followed through the responses instead of asked every time."""
        if self.simulated and self._clock is not None:
            return self._clock
        reply = self._ask("SYST:TIME?")
        try:
            self._clock = int(reply)
        except ValueError:
            raise DeviceFault(f"{self._who()}: 'SYST:TIME?' answered {reply!r}, not an integer") from None
        return self._clock

    def execute(self, instruction: PhysicalInstruction) -> Response:
        return self.execute_many([instruction])[0]

    def execute_many(self, instructions: Iterable[PhysicalInstruction]) -> list[Response]:
        """Run a whole sequence on the controller: one frame on a framed link; on a text link, one
        program message for a short sequence and one per ~4 KB of instructions for a long one."""
        instrs = list(instructions)
        if not instrs:
            return []
        with self._lock:
            self._counter += 1
            seq_id = f"{self._session}.{self._counter}"
            run = self._run_framed if self._transport.framed else self._run_staged
            results = run(seq_id, instrs)
        if self._clock is not None:
            self._clock = max(self._clock, results[-1].end_ns)
        return results

    def reset(self) -> None:
        self._clock = None
        if self._transport.framed:
            self._ask("*RST")
            return
        reply = self._ask("*RST;*OPC?")
        if reply != "1":
            raise DeviceFault(f"{self._who()}: '*RST;*OPC?' answered {reply!r}, expected '1'")

    def close(self) -> None:
        with self._lock:
            release = getattr(self._transport, "release", self._transport.close)
            release()

    def errors(self) -> list[tuple[int, str]]:
        """Drain the controller's error queue (``SYST:ERR?`` until ``0``)."""
        out: list[tuple[int, str]] = []
        for _ in range(64):
            code, msg = grammar.parse_error(self._ask("SYST:ERR?"))
            if code == 0:
                break
            out.append((code, msg))
        return out

    # ------------------------------------------------------------------------- link statistics
    @property
    def reconnects(self) -> int:
        """Times the link was reopened after a failure (for tests and monitoring)."""
        return self._transport.reconnects

    @property
    def resends(self) -> int:
        """Frames sent again after a missing or corrupt reply."""
        return self._transport.resends

    @property
    def garbage_bytes(self) -> int:
        """Bytes of line noise skipped by a framed transport."""
        return getattr(self._transport, "garbage_bytes", 0)

    # ------------------------------------------------------------------------------- sequences
    def _run_framed(self, seq_id: str, instrs: list[PhysicalInstruction]) -> list[Response]:
        command = f"SEQ:RUN? {seq_id} {codec.encode_instructions(instrs)}"
        reply = self._ask(command)
        try:
            return codec.decode_results(reply, instrs, seq_id)
        except ValueError as exc:
            raise DeviceFault(f"{self._who()}: unusable reply to {_describe(command)!r}: {exc}") from None

    def _run_staged(self, seq_id: str, instrs: list[PhysicalInstruction]) -> list[Response]:
        """Upload, arm, trigger and fetch; after a link failure ask ``SEQ:STAT?`` whether it ran."""
        limit = self._transport.max_message
        *staging, run = grammar.pack_program(
            ["SEQ:CLEAR", *codec.append_commands(instrs, max_line=limit // 2),
             f"SEQ:ARM {seq_id},{len(instrs)}", "*TRG", f"SEQ:RESULTS? {seq_id}"], max_len=limit)
        fetch = f"SEQ:RESULTS? {seq_id}"
        retrying = False

        def attempt() -> list[Response]:
            nonlocal retrying
            if retrying and self._request(f"SEQ:STAT? {seq_id}") == "DONE":
                return self._results(fetch, seq_id, instrs)  # it ran; only the reply was lost
            retrying = True
            for message in staging:
                ack = self._request(message)
                if ack.startswith("ERR "):
                    raise self._refused(message, ack[4:])
                if ack != "1":  # a garbled acknowledgement: the upload restarts from SEQ:CLEAR
                    raise LinkError(f"acknowledged with {ack[:80]!r}, expected '1'")
            return self._results(run, seq_id, instrs)

        return self._with_retry(attempt, lambda: run)

    def _results(self, command: str, seq_id: str, instrs: list[PhysicalInstruction]) -> list[Response]:
        reply = self._request(command)
        if reply.startswith("ERR "):
            raise self._refused(command, reply[4:])
        try:
            return codec.decode_results(reply, instrs, seq_id)
        except ValueError as exc:  # a garbled line: the framing is intact, the results are kept
            raise LinkError(f"garbled reply {reply[:80]!r} ({exc})") from None

    # ---------------------------------------------------------------------------------- requests
    def _ask(self, command: str) -> str:
        """One command's reply (with retries); an ``ERR`` reply raises :class:`ControllerError`."""
        reply = self._with_retry(lambda: self._request(command), lambda: command)
        if reply.startswith("ERR "):
            raise self._refused(command, reply[4:])
        return reply

    def _request(self, message: str) -> str:
        """One exchange on an open, identified link."""
        link = self._transport
        if not link.is_open or self._identified_on != link.opens:  # a new link: who is there?
            try:
                if not link.is_open:
                    link.open()
                reply = link.request("*IDN?")
            except LinkError as exc:
                exc.command = "*IDN?"  # type: ignore[attr-defined]
                raise
            self._check_idn(reply)
            self._identified_on = link.opens
        return link.request(message)

    def _with_retry(self, fn: Callable[[], T], what: Callable[[], str]) -> T:
        """Run ``fn`` (which sends ``what()``); after a link failure make the link safe again and run it again (``retries``
        times). ``fn`` must be safe to repeat: every caller here is, by sequence id, by the reply
        cache of a framed link, or by being a query."""
        with self._lock:
            failures: list[LinkError] = []
            for _ in range(self.retries + 1):
                try:
                    return fn()
                except LinkError as exc:
                    failures.append(exc)
                    self._transport.recover(exc)
            raise self._failure(what(), failures)

    def _failure(self, message: str, failures: list[LinkError]) -> DeviceFault:
        kind = DeviceTimeout if all(f.timed_out for f in failures) else DeviceFault
        first, last = (getattr(f, "command", message) for f in (failures[0], failures[-1]))
        n = len(failures)
        tries = f"{n} attempt{'s' if n != 1 else ''}" + (f" (the last: {_describe(last)!r})" if last != first else "")
        why = "; ".join(dict.fromkeys(f.why for f in failures))
        extra = self._transport.diagnostics()
        fault = kind(f"{self._who()}: {_describe(first)!r} failed after {tries}: {why}{' ' + extra if extra else ''}")
        fault.__cause__ = failures[-1].__cause__ or failures[-1]
        return fault

    def _refused(self, command: str, body: str) -> ControllerError:
        try:
            code, msg = grammar.parse_error(body)
            said = f"{code}: {msg}" if self._transport.framed else msg
        except ValueError:
            said = body
        queue = "" if self._transport.framed else f"; controller errors: {self.errors() or 'none'}"
        return ControllerError(f"{self._who()}: {_describe(command)!r} refused: {said}{queue}")

    # ---------------------------------------------------------------------------------- identity
    def _read_capabilities(self) -> Capabilities:
        reply = self._ask("CAPS?")
        try:
            return Capabilities.from_dict(codec.decode_capabilities(reply))
        except (ValueError, KeyError, TypeError) as exc:
            raise DeviceFault(f"{self._who()}: 'CAPS?' gave unusable capabilities: {exc!r}") from exc

    def _check_idn(self, reply: str) -> None:
        try:
            maker, model, serial_no, firmware = grammar.parse_idn(reply)
        except ValueError:
            want = f"{self.expected_maker},{self.expected_model or '<model>'},<serial>,<firmware>"
            raise DeviceFault(f"{self._who()}: '*IDN?' answered {reply!r}; expected {want!r}") from None
        if maker != self.expected_maker or (self.expected_model and model != self.expected_model):
            raise DeviceFault(f"{self._who()}: '*IDN?' answered {reply!r}: this is not a "
                              f"{self.expected_maker} {self.expected_model or ''} controller".rstrip())
        self.idn = reply
        self.instrument = f"{maker} {model} (SN {serial_no}, fw {firmware})"

    def _who(self) -> str:
        name = f"{self.driver_name} {self.instrument}" if self.instrument else self.driver_name
        return f"{name} {self._transport.where}"


class VisaControllerDevice(ControllerShim):
    """The shim on text lines through pyvisa (driver ``visa-controller``): ``resource`` such as
    ``TCPIP::10.0.0.5::5025::SOCKET``; ``resource_manager`` a ``pyvisa.ResourceManager`` or a backend
    string (default ``"@py"``). Each exchange is one program message ending in one query."""

    driver_name = "visa-controller"

    def __init__(self, resource: str, *, timeout: float = 2.0, node: str = "node", resource_manager: Any = None,
                 retries: int = 1, expected_model: str | None = None, session: str | None = None) -> None:
        from .transports.visa import VisaTransport

        self._check_retries(retries)
        transport = VisaTransport(resource, timeout=self._check_timeout(timeout), resource_manager=resource_manager)
        super().__init__(transport, node=node, retries=retries, expected_model=expected_model, session=session)

    @property
    def resource(self) -> str:
        return self._transport.address


class SerialControllerDevice(ControllerShim):
    """The shim on CRC-checked frames through pyserial (driver ``serial-controller``): ``url`` such as
    ``/dev/ttyUSB0`` or ``socket://10.0.0.5:4000``; ``port`` an already open pyserial-like object.
    ``timeout`` bounds each attempt; a command is sent at most ``retries + 1`` times."""

    driver_name = "serial-controller"

    def __init__(self, url: str, *, timeout: float = 2.0, node: str = "node", retries: int = 2,
                 baudrate: int = 115200, port: Any = None, expected_model: str | None = None,
                 session: str | None = None, seq_start: int | None = None) -> None:
        from .transports.serial import FramedSerialTransport

        self._check_retries(retries)
        transport = FramedSerialTransport(url, timeout=self._check_timeout(timeout), baudrate=baudrate,
                                          port=port, seq_start=seq_start)
        super().__init__(transport, node=node, retries=retries, expected_model=expected_model, session=session)

    @property
    def url(self) -> str:
        return self._transport.address


def _describe(command: str) -> str:
    """A program message as an error shows it: instruction lists summarised, the rest verbatim."""
    units = []
    for unit in grammar.split_program(command):
        if unit.startswith(("SEQ:APPEND ", "SEQ:RUN? ")) and len(unit) > 60:
            head = unit.split(" ", 2)
            keep = head[0] if head[0] == "SEQ:APPEND" else f"{head[0]} {head[1]}"
            unit = f"{keep} <{unit.count('|') + 1} instructions>"
        units.append(unit)
    text = ";".join(units)
    return text if len(text) <= 160 else text[:157] + "..."

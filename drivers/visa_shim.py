"""QDevice driver for a real-time controller (ADwin/FPGA sequencer) reached over VISA.

Physical instructions are lowered to the controller's text protocol
(:mod:`qnodeos.drivers.controller_protocol`) and sent through **pyvisa** — by default the pure-Python
``@py`` backend and a ``TCPIP::<host>::<port>::SOCKET`` resource, but any message-based resource with
``\\n`` termination works. Each exchange is one SCPI program message ending in one query, so one
instruction costs one round trip and a whole sequence uploads at once (:meth:`execute_many`).

Failure handling, the part labs trip over:

* every I/O error becomes :class:`~qnodeos.hal.DeviceFault` (or :class:`~qnodeos.hal.DeviceTimeout`)
  naming the resource, the instrument and the command that failed;
* the controller must identify itself (``*IDN?``) as expected, else the connection is refused;
* a dropped or stuck link is reopened and the sequence resumed *by id*: the controller runs each
  sequence id at most once and keeps its results, so a retry never executes twice and never loses a
  result (``SEQ:STAT?`` decides between re-fetching and re-uploading).
"""
from __future__ import annotations

import secrets
import threading
from typing import Any, Callable, Iterable, TypeVar

import pyvisa
from pyvisa import constants

from qnodeos.hal import Capabilities, ConfigError, DeviceFault, DeviceTimeout, Response
from qnodeos.hal.instructions import PhysicalInstruction

from . import controller_protocol as proto
from .shim_clock import ControllerClock


T = TypeVar("T")

#: Longest program message sent at once: below pyvisa-py's 4096-byte socket write size, so every
#: message leaves in one piece (see :func:`~qnodeos.drivers.controller_protocol.pack_program`).
MAX_MESSAGE = 4000


class _LinkError(Exception):
    """An I/O failure after which reopening the link and resuming by sequence id is safe."""

    def __init__(self, fault: DeviceFault) -> None:
        super().__init__(str(fault))
        self.fault = fault


class VisaControllerDevice(ControllerClock):
    """A controller behind a VISA resource, as a :class:`QDevice`.

    ``expected_maker`` and ``expected_model`` (class attributes; the model also as an argument) pin
    the first two ``*IDN?`` fields; ``None`` accepts any model. ``timeout`` bounds each exchange and
    a failed one is retried ``retries`` times on a fresh connection. Subclass to adapt to a lab's
    controller (see ``examples/qnodeos-driver-template``).
    """

    driver_name = "visa-controller"
    expected_maker: str = proto.IDN_MAKER
    expected_model: str | None = None

    def __init__(self, resource: str, *, timeout: float = 2.0, node: str = "node",
                 resource_manager: Any = None, retries: int = 1,
                 expected_model: str | None = None, session: str | None = None) -> None:
        if not timeout > 0:
            raise ConfigError(f"{self.driver_name}: timeout must be > 0 s, got {timeout!r}")
        if retries < 0:
            raise ConfigError(f"{self.driver_name}: retries must be >= 0, got {retries!r}")
        self.resource = resource
        self.timeout = float(timeout)
        self.node = node
        self.retries = int(retries)
        if expected_model is not None:
            self.expected_model = expected_model
        # A ResourceManager (or anything with open_resource, e.g. a protocol replay) is borrowed;
        # a backend string such as "@py" or "path.yaml@sim" makes one that close() releases.
        self._owns_rm = not hasattr(resource_manager, "open_resource")
        self._rm: Any = (pyvisa.ResourceManager(resource_manager or "@py") if self._owns_rm
                         else resource_manager)
        self._session = proto.check_seq_id(session or secrets.token_hex(4))
        self._counter = 0
        self._lock = threading.RLock()
        self._inst: Any = None
        self.instrument = ""  # '<maker> <model> (SN …)' once *IDN? answered
        self.idn = ""
        #: Times the link was reopened after a failure (for tests and monitoring).
        self.reconnects = 0
        try:
            self._connect()
            caps = proto.decode_capabilities(self._query("CAPS?"))
            self._caps = Capabilities.from_dict(caps)
            self.simulated = self._query("SYST:CLOCK?") == "SIMULATED"
        except _LinkError as exc:
            self._close_quietly()
            raise exc.fault from exc.__cause__
        except (ValueError, KeyError, TypeError) as exc:
            self._close_quietly()
            raise DeviceFault(f"{self._who()}: 'CAPS?' gave unusable capabilities: {exc!r}") from exc
        except BaseException:
            self._close_quietly()
            raise

    # ------------------------------------------------------------------------------ QDevice API
    def _time_reply(self) -> str:
        return self._with_retry(lambda: self._query("SYST:TIME?"))

    def _execute_many(self, instructions: Iterable[PhysicalInstruction]) -> list[Response]:
        """Upload the whole sequence, arm, trigger and read every result: one exchange for a short
        sequence, one per ~4 KB of instructions for a long one."""
        instrs = list(instructions)
        if not instrs:
            return []
        with self._lock:
            self._counter += 1
            seq_id = f"{self._session}.{self._counter}"
            *staging, run = proto.pack_program(
                ["SEQ:CLEAR", *proto.append_commands(instrs, max_line=MAX_MESSAGE // 2),
                 f"SEQ:ARM {seq_id},{len(instrs)}", "*TRG", f"SEQ:RESULTS? {seq_id}"], max_len=MAX_MESSAGE)
            fetch = f"SEQ:RESULTS? {seq_id}"
            retrying = False

            def attempt() -> list[Response]:
                nonlocal retrying
                if retrying and self._query(f"SEQ:STAT? {seq_id}") == "DONE":
                    return self._results(fetch, seq_id, instrs)  # it ran; only the reply was lost
                retrying = True
                for message in staging:
                    ack = self._query(message)
                    if ack.startswith("ERR "):
                        raise proto.ControllerError(f"{self._who()}: {_describe(message)!r} refused: "
                                                    f"{ack[4:]}; controller errors: {self.errors() or 'none'}")
                    if ack != "1":  # a garbled acknowledgement: the upload restarts from SEQ:CLEAR
                        raise _LinkError(DeviceFault(f"{self._who()}: {_describe(message)!r} "
                                                     f"acknowledged with {ack[:80]!r}, expected '1'"))
                return self._results(run, seq_id, instrs)

            return self._with_retry(attempt)

    def _reset(self) -> None:
        reply = self._with_retry(lambda: self._query("*RST;*OPC?"))
        if reply != "1":
            raise DeviceFault(f"{self._who()}: '*RST;*OPC?' answered {reply!r}, expected '1'")

    def close(self) -> None:
        with self._lock:
            self._close_quietly()
            if self._owns_rm:
                try:
                    self._rm.close()
                except Exception:  # noqa: BLE001 - closing must not mask the caller's error
                    pass

    def errors(self) -> list[tuple[int, str]]:
        """Drain the controller's error queue (``SYST:ERR?`` until ``0``)."""
        out: list[tuple[int, str]] = []
        for _ in range(64):
            code, msg = proto.parse_error(self._with_retry(lambda: self._query("SYST:ERR?")))
            if code == 0:
                break
            out.append((code, msg))
        return out

    # ---------------------------------------------------------------------------- connection
    def _connect(self) -> None:
        ms = int(self.timeout * 1000)
        try:
            self._inst = self._rm.open_resource(self.resource, read_termination=proto.TERMINATION,
                                                write_termination=proto.TERMINATION, timeout=ms,
                                                open_timeout=ms)
        except (pyvisa.Error, OSError, ValueError) as exc:
            raise _LinkError(DeviceFault(f"{self._who()}: cannot open the resource: {exc}")) from exc
        except Exception as exc:  # noqa: BLE001 - pyvisa-py raises a bare Exception on refused connects
            raise _LinkError(DeviceFault(f"{self._who()}: cannot open the resource: {exc}")) from exc
        self._check_idn(self._query("*IDN?"))

    def _check_idn(self, reply: str) -> None:
        try:
            maker, model, serial, firmware = proto.parse_idn(reply)
        except ValueError:
            want = f"{self.expected_maker},{self.expected_model or '<model>'},<serial>,<firmware>"
            raise DeviceFault(f"{self._who()}: '*IDN?' answered {reply!r}; expected {want!r}") from None
        if maker != self.expected_maker or (self.expected_model and model != self.expected_model):
            raise DeviceFault(f"{self._who()}: '*IDN?' answered {reply!r}: this is not a "
                              f"{self.expected_maker} {self.expected_model or ''} controller".rstrip())
        self.idn = reply
        self.instrument = f"{maker} {model} (SN {serial}, fw {firmware})"

    def _reconnect(self) -> None:
        self._close_quietly()
        self.reconnects += 1
        self._connect()

    def _close_quietly(self) -> None:
        inst, self._inst = self._inst, None
        if inst is not None:
            try:
                inst.close()
            except Exception:  # noqa: BLE001 - the link is already broken
                pass

    def _with_retry(self, fn: Callable[[], T]) -> T:
        """Run ``fn``; after a link failure reopen the link and run it again (``retries`` times).
        ``fn`` must be safe to repeat — every caller here is, by sequence id or by being a query.
        A link that failed is closed, so a late reply can never be read as the answer to a later
        command: the next call starts on a fresh connection."""
        with self._lock:
            failures: list[DeviceFault] = []
            for n in range(self.retries + 1):
                try:
                    if n or self._inst is None:
                        self._reconnect()
                    return fn()
                except _LinkError as exc:
                    failures.append(exc.fault)
                    cause = exc.__cause__
                    self._close_quietly()
            first, last = failures[0], failures[-1]
            tries = f"{len(failures)} attempt{'s' if len(failures) != 1 else ''}"
            if str(first) == str(last):
                raise type(last)(f"{last} ({tries})") from cause
            later = str(last).removeprefix(self._who() + ": ")
            raise type(last)(f"{first}; {tries}, the last: {later}") from cause

    # ------------------------------------------------------------------------------------- I/O
    def _who(self) -> str:
        name = f"{self.driver_name} {self.instrument}" if self.instrument else self.driver_name
        return f"{name} at {self.resource}"

    def _query(self, command: str) -> str:
        """One exchange; any transport failure becomes a :class:`_LinkError` naming ``command``."""
        shown = _describe(command)
        try:
            reply = self._inst.query(command)
        except pyvisa.errors.VisaIOError as exc:
            kind = DeviceTimeout if exc.error_code == constants.StatusCode.error_timeout else DeviceFault
            why = f"no reply within {self.timeout:g} s" if kind is DeviceTimeout else str(exc)
            raise _LinkError(kind(f"{self._who()}: {shown!r} failed: {why}")) from exc
        except (pyvisa.Error, OSError, AttributeError) as exc:
            raise _LinkError(DeviceFault(f"{self._who()}: {shown!r} failed: link error ({exc!r})")) from exc
        except UnicodeDecodeError as exc:
            raise _LinkError(DeviceFault(f"{self._who()}: {shown!r} failed: garbled reply ({exc})")) from exc
        return reply.strip()

    def _results(self, command: str, seq_id: str, instrs: list[PhysicalInstruction]) -> list[Response]:
        reply = self._query(command)
        if reply.startswith("ERR "):
            raise proto.ControllerError(f"{self._who()}: {proto.split_program(command)[-1]!r} refused: "
                                        f"{reply[4:]}; controller errors: {self.errors() or 'none'}")
        try:
            return proto.decode_results(reply, instrs, seq_id)
        except ValueError as exc:  # a garbled line: the framing is intact, the results are kept
            raise _LinkError(DeviceFault(f"{self._who()}: garbled reply to 'SEQ:RESULTS? {seq_id}': "
                                         f"{reply[:80]!r} ({exc})")) from None


def _describe(command: str) -> str:
    """A program message as an error shows it: long instruction lists summarised, the rest verbatim."""
    units = []
    for unit in proto.split_program(command):
        if unit.startswith("SEQ:APPEND ") and len(unit) > 60:
            unit = f"SEQ:APPEND <{unit.count('|') + 1} instructions>"
        units.append(unit)
    return ";".join(units)

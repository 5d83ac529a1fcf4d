"""QDevice driver for a real-time controller on a serial line (or anything pyserial opens by URL).

The port is opened with ``serial.serial_for_url``, so a device path (``/dev/ttyUSB0``, a pty),
``socket://host:port`` or ``loop://`` all work. Messages travel in the framed binary protocol of
:mod:`qnodeos.drivers.controller_protocol`: a corrupted or missing reply is detected by CRC or by the
deadline, and the *same* frame (same sequence number) is sent again — the controller answers a
repeated sequence number from its reply cache, so a retry never executes twice. Garbage on the line
is skipped by the frame decoder; our own frames echoed back (``loop://``) are ignored as requests.
"""
from __future__ import annotations

import secrets
import threading
import time
from typing import Any, Iterable

import serial

from qnodeos.hal import Capabilities, ConfigError, DeviceFault, DeviceTimeout, Response
from qnodeos.hal.instructions import PhysicalInstruction

from . import controller_protocol as proto
from .shim_clock import ControllerClock

_POLL_S = 0.05


class SerialControllerDevice(ControllerClock):
    """A controller on a serial link, as a :class:`QDevice`.

    ``timeout`` bounds each attempt (seconds); a command is sent at most ``retries + 1`` times.
    Pass ``port`` to use an already open pyserial-like object instead of opening ``url``.
    """

    driver_name = "serial-controller"
    expected_maker: str = proto.IDN_MAKER
    expected_model: str | None = None

    def __init__(self, url: str, *, timeout: float = 2.0, node: str = "node", retries: int = 2,
                 baudrate: int = 115200, port: Any = None, expected_model: str | None = None,
                 session: str | None = None, seq_start: int | None = None) -> None:
        if not timeout > 0:
            raise ConfigError(f"{self.driver_name}: timeout must be > 0 s, got {timeout!r}")
        if retries < 0:
            raise ConfigError(f"{self.driver_name}: retries must be >= 0, got {retries!r}")
        self.url = url
        self.timeout = float(timeout)
        self.node = node
        self.retries = int(retries)
        self.baudrate = baudrate
        if expected_model is not None:
            self.expected_model = expected_model
        self._given_port = port is not None
        self._port: Any = port
        self._decoder = proto.FrameDecoder()
        self._seq = secrets.randbelow(proto.SEQ_MODULO) if seq_start is None else seq_start
        self._session = proto.check_seq_id(session or secrets.token_hex(4))
        self._counter = 0
        self._lock = threading.RLock()
        self.instrument = ""  # '<maker> <model> (SN …)' once *IDN? answered
        self.idn = ""
        #: Frames sent again after a missing or corrupt reply, and link reopenings.
        self.resends = 0
        self.reconnects = 0
        try:
            self._check_idn(self._exchange("*IDN?"))
            self._caps = Capabilities.from_dict(proto.decode_capabilities(self._exchange("CAPS?")))
            try:
                self.simulated = self._exchange("SYST:CLOCK?") == "SIMULATED"
            except proto.ControllerError:
                self.simulated = False  # firmware without SYST:CLOCK?: a real clock
        except (ValueError, KeyError, TypeError) as exc:
            self.close()
            raise DeviceFault(f"{self._who()}: 'CAPS?' gave unusable capabilities: {exc}") from exc
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------------------ QDevice API
    def _time_reply(self) -> str:
        return self._exchange("SYST:TIME?")

    def _execute_many(self, instructions: Iterable[PhysicalInstruction]) -> list[Response]:
        """Send the whole sequence in one frame; the reply frame carries every result."""
        instrs = list(instructions)
        if not instrs:
            return []
        with self._lock:
            self._counter += 1
            seq_id = f"{self._session}.{self._counter}"
            command = f"SEQ:RUN? {seq_id} {proto.encode_instructions(instrs)}"
            reply = self._exchange(command)
            try:
                return proto.decode_results(reply, instrs, seq_id)
            except ValueError as exc:
                raise DeviceFault(f"{self._who()}: unusable reply to {_short(command)!r}: {exc}") from None

    def _reset(self) -> None:
        self._exchange("*RST")

    def close(self) -> None:
        with self._lock:
            port, self._port = self._port, None
            if port is not None:
                try:
                    port.close()
                except Exception:  # noqa: BLE001 - closing must not mask the caller's error
                    pass

    @property
    def garbage_bytes(self) -> int:
        """Bytes the frame decoder skipped so far (line noise, corrupt frames)."""
        return self._decoder.discarded

    # ------------------------------------------------------------------------------------- I/O
    def _who(self) -> str:
        name = f"{self.driver_name} {self.instrument}" if self.instrument else self.driver_name
        return f"{name} on {self.url}"

    def _open(self) -> None:
        try:
            self._port = serial.serial_for_url(self.url, baudrate=self.baudrate,
                                               timeout=min(_POLL_S, self.timeout), write_timeout=self.timeout)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceFault(f"{self._who()}: cannot open the port: {exc}") from exc
        self._decoder.clear()  # half a frame from the old link can never complete

    def _exchange(self, command: str) -> str:
        """Send ``command`` in a frame and return the reply text; an ``ERR`` reply raises
        :class:`DeviceFault`, no valid reply after every retry raises :class:`DeviceTimeout`."""
        with self._lock:
            self._seq = (self._seq + 1) % proto.SEQ_MODULO
            seq = self._seq
            frame = proto.encode_frame(seq, command)
            problems: list[str] = []
            for attempt in range(self.retries + 1):
                if attempt:
                    self.resends += 1
                try:
                    if self._port is None:
                        if attempt:
                            self.reconnects += 1
                        self._open()
                    self._port.write(frame)
                    text = self._await_reply(seq)
                except serial.SerialTimeoutException as exc:
                    problems.append(f"write timed out ({exc})")
                    continue
                except (serial.SerialException, OSError) as exc:
                    problems.append(f"link lost ({exc})")
                    if not self._given_port:
                        self.close()
                    continue
                if text is None:
                    problems.append(f"no valid reply within {self.timeout:g} s")
                    continue
                ok, body = proto.parse_framed_reply(text)
                if not ok:
                    raise proto.ControllerError(f"{self._who()}: {_short(command)!r} refused: {body}")
                return body
            timed_out = all(p.startswith(("no valid reply", "write timed out")) for p in problems)
            kind = DeviceTimeout if timed_out else DeviceFault
            raise kind(f"{self._who()}: {_short(command)!r} failed after {len(problems)} attempt(s): "
                       f"{'; '.join(dict.fromkeys(problems))} ({self._decoder.discarded} garbage bytes skipped)")

    def _await_reply(self, seq: int) -> str | None:
        """The text of the reply frame for ``seq``, or None at the deadline. Other frames (stale
        replies to earlier attempts, our own echo) are dropped."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            data = self._port.read(max(self._decoder.needed, self._port.in_waiting))
            if not data:
                continue
            for frame in self._decoder.feed(data):
                if frame.reply and frame.seq == seq:
                    return frame.text
        return None

    def _check_idn(self, reply: str) -> None:
        try:
            maker, model, serial_no, firmware = proto.parse_idn(reply)
        except ValueError:
            want = f"{self.expected_maker},{self.expected_model or '<model>'},<serial>,<firmware>"
            raise DeviceFault(f"{self._who()}: '*IDN?' answered {reply!r}; expected {want!r}") from None
        if maker != self.expected_maker or (self.expected_model and model != self.expected_model):
            raise DeviceFault(f"{self._who()}: '*IDN?' answered {reply!r}: this is not a "
                              f"{self.expected_maker} {self.expected_model or ''} controller".rstrip())
        self.idn = reply
        self.instrument = f"{maker} {model} (SN {serial_no}, fw {firmware})"


def _short(command: str) -> str:
    return command if len(command) <= 120 else command[:117] + "..."

"""The lab's controller as a QDevice: the ACME SEQ-9000, which has a command set of its own.

Each physical instruction becomes one ``OP?`` line (:mod:`.protocol`) sent through qnodeos's
:class:`~qnodeos.drivers.transports.visa.VisaTransport`, which brings the timeouts and turns every I/O
failure into a :class:`~qnodeos.drivers.transports.LinkError`. What the SEQ-9000 cannot report — its
qubits, gates, durations and error rates — comes from the lab's calibration file, in the HAL's
capabilities format (``qnodeos drivers --describe`` prints one).
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from qnodeos.drivers.transports import LinkError
from qnodeos.drivers.transports.visa import VisaTransport
from qnodeos.hal import (
    Capabilities,
    ConfigError,
    DeviceFault,
    DeviceTimeout,
    PhysicalInstruction,
    QDevice,
    Response,
    Status,
)

from .protocol import MAKER, MODEL, decode_record, encode_operation


def load_calibration(path: str | Path) -> Capabilities:
    """The setup's capabilities from a JSON calibration file; ConfigError says what is wrong."""
    try:
        return Capabilities.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except OSError as exc:
        raise ConfigError(f"template-seq9000: cannot read calibration {str(path)!r}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"template-seq9000: calibration {str(path)!r} is not a capabilities file: {exc!r}") from None


class Seq9000Device(QDevice):
    """ACME SEQ-9000 at VISA ``resource`` (e.g. ``TCPIP::192.168.1.50::5025::SOCKET``)."""

    driver_name = "template-seq9000"

    def __init__(self, resource: str, *, calibration: str | Path, timeout: float = 5.0, node: str = "node",
                 resource_manager: Any = None) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ConfigError(f"{self.driver_name}: timeout must be > 0 s, got {timeout!r}")
        self._caps = load_calibration(calibration)
        self.node = node
        self._link = VisaTransport(resource, timeout=timeout, resource_manager=resource_manager)
        self._lock = threading.Lock()
        self.instrument = ""
        try:
            self._ask("*IDN?", check_identity=True)
            self.simulated = self._clock()[1] == "SIM"
        except BaseException:
            self.close()
            raise

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    @property
    def now_ns(self) -> int:
        return self._clock()[0]

    def _clock(self) -> tuple[int, str]:
        reply = self._ask("CLK?")
        try:
            ns, kind = reply.split()
            return int(ns), kind
        except ValueError:
            raise DeviceFault(f"{self._who()}: 'CLK?' answered {reply!r}, not '<ns> SIM|REAL'") from None

    def execute(self, instruction: PhysicalInstruction) -> Response:
        try:
            operation = encode_operation(instruction)
        except TypeError as exc:
            now = self.now_ns
            return Response(instruction, Status.UNSUPPORTED, now, now, message=str(exc))
        reply = self._ask(f"OP? {operation}")
        try:
            return decode_record(reply, instruction)
        except (ValueError, IndexError) as exc:
            raise DeviceFault(f"{self._who()}: garbled reply to 'OP? {operation}': {reply[:80]!r} ({exc})") from None

    def reset(self) -> None:
        reply = self._ask("RST")
        if reply != "DONE":
            raise DeviceFault(f"{self._who()}: 'RST' answered {reply!r}, expected 'DONE'")

    def close(self) -> None:
        self._link.release()

    def _ask(self, command: str, check_identity: bool = False) -> str:
        """One exchange. Operations are not idempotent, so a failed one is reported, never repeated."""
        with self._lock:
            try:
                if not self._link.is_open:
                    self._link.open()
                    if not check_identity:
                        self._check_idn(self._link.request("*IDN?"))
                reply = self._link.request(command)
            except LinkError as exc:
                self._link.close()
                kind = DeviceTimeout if exc.timed_out else DeviceFault
                raise kind(f"{self._who()}: {command!r} failed: {exc.why}") from exc
        if check_identity:
            self._check_idn(reply)
        if reply.startswith("ERR "):
            raise DeviceFault(f"{self._who()}: {command!r} refused: {reply[4:]}")
        return reply

    def _check_idn(self, reply: str) -> None:
        fields = reply.split(",")
        if fields[:2] != [MAKER, MODEL] or len(fields) != 4:
            raise DeviceFault(f"{self._who()}: '*IDN?' answered {reply!r}: this is not a {MAKER} {MODEL}")
        self.instrument = f"{MAKER} {MODEL} (SN {fields[2]}, fw {fields[3]})"

    def _who(self) -> str:
        return f"{self.driver_name} {self.instrument or ''} {self._link.where}".replace("  ", " ")

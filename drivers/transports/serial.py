"""CRC-checked binary frames through pyserial, re-sent as they were after a lost reply."""
from __future__ import annotations

import secrets
import time
from typing import Any

import serial

from qnodeos.drivers.protocol import framing

from .base import LinkError, Transport

_POLL_S = 0.05


class FramedSerialTransport(Transport):
    """A port opened with ``serial.serial_for_url`` (``/dev/ttyUSB0``, a pty, ``socket://host:port``,
    ``loop://``), or an already open pyserial-like ``port`` (never closed on failure then).

    Replies are matched to requests by sequence number, so stale replies and our own echo are
    dropped; garbage on the line is skipped by the frame decoder (:attr:`garbage_bytes`)."""

    framed = True
    max_message = framing.MAX_PAYLOAD

    def __init__(self, url: str, *, timeout: float, baudrate: int = 115200, port: Any = None,
                 seq_start: int | None = None) -> None:
        super().__init__(url, "on")
        self.url = url
        self.timeout = float(timeout)
        self.baudrate = baudrate
        self._given_port = port is not None
        self._port: Any = port
        self._decoder = framing.FrameDecoder()
        self._seq = secrets.randbelow(framing.SEQ_MODULO) if seq_start is None else seq_start
        self._unanswered: dict[str, int] = {}  # the request that failed last, and its sequence number

    @property
    def is_open(self) -> bool:
        return self._port is not None

    @property
    def garbage_bytes(self) -> int:
        """Bytes the frame decoder skipped so far (line noise, corrupt frames)."""
        return self._decoder.discarded

    def _open(self) -> None:
        try:
            self._port = serial.serial_for_url(self.url, baudrate=self.baudrate,
                                               timeout=min(_POLL_S, self.timeout), write_timeout=self.timeout)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkError(f"cannot open the port: {exc}") from exc
        self._decoder.clear()  # half a frame from the old link can never complete

    def request(self, message: str) -> str:
        seq = self._unanswered.get(message)
        if seq is None:
            self._seq = (self._seq + 1) % framing.SEQ_MODULO
            seq = self._seq
        else:
            self.resends += 1
        try:
            self._port.write(framing.encode_frame(seq, message))
            text = self._await_reply(seq)
            if text is None:
                raise LinkError(f"no valid reply within {self.timeout:g} s", timed_out=True, broken=False)
        except serial.SerialTimeoutException as exc:
            self._unanswered = {message: seq}
            raise LinkError(f"write timed out ({exc})", timed_out=True, broken=False) from exc
        except (serial.SerialException, OSError) as exc:
            self._unanswered = {message: seq}
            raise LinkError(f"link lost ({exc})") from exc
        except LinkError:
            self._unanswered = {message: seq}  # until answered, a repeat of it is a re-send
            raise
        self._unanswered.pop(message, None)
        return text

    def _await_reply(self, seq: int) -> str | None:
        """The text of the reply frame for ``seq``, or None at the deadline."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            data = self._port.read(max(self._decoder.needed, self._port.in_waiting))
            if not data:
                continue
            for frame in self._decoder.feed(data):
                if frame.reply and frame.seq == seq:
                    return frame.text
        return None

    def recover(self, failure: LinkError) -> None:
        if failure.broken and not self._given_port:
            self.close()

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except Exception:  # noqa: BLE001 - closing must not mask the caller's error
                pass

    def diagnostics(self) -> str:
        return f"({self.garbage_bytes} garbage bytes skipped)"

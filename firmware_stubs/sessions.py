"""What one link to a stub says: bytes in, reply bytes out, with the fault knobs applied.

A session belongs to one connection (or to the pty). :class:`TextSession` speaks lines (SCPI-style
program messages for qnodeos's controller, one command a line for stubs that want it);
:class:`FramedSession` speaks the serial link's binary frames. Both are bounded: a text line longer
than the stub's ``max_line_bytes`` is refused with an error line and the link is closed, and the frame
decoder holds at most one frame's worth of bytes. Both take time linear in the bytes fed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from qnodeos.drivers.protocol import framing, grammar

from .faults import garble_text
from .stub import FirmwareStub


@dataclass(frozen=True)
class Output:
    """What the server must do after feeding a session: send ``data`` (after ``delay_s``), then
    close the link if ``close``."""

    data: bytes = b""
    delay_s: float = 0.0
    close: bool = False


class Session(Protocol):
    """One link's protocol state."""

    def feed(self, data: bytes) -> Output: ...


class TextSession:
    """Lines of text; each line's query replies go back as one line."""

    def __init__(self, stub: FirmwareStub) -> None:
        self.stub = stub
        self._term = stub.termination.encode()
        self._buf = bytearray()
        self._searched = 0  # the first bytes of _buf known to hold no terminator

    def feed(self, data: bytes) -> Output:
        self._buf += data
        out = bytearray()
        delay = 0.0
        limit = self.stub.max_line_bytes
        while True:
            end = self._buf.find(self._term, max(0, self._searched - len(self._term) + 1))
            if end < 0:
                self._searched = len(self._buf)
                if len(self._buf) > limit:
                    return Output(bytes(out) + self._refusal(limit), delay, close=True)
                return Output(bytes(out), delay)
            if end > limit:
                return Output(bytes(out) + self._refusal(limit), delay, close=True)
            line = self._buf[:end].decode("utf-8", errors="replace").rstrip("\r")
            del self._buf[:end + len(self._term)]
            self._searched = 0
            reply, keep = self._answer(line)
            if not keep:
                return Output(bytes(out), delay, close=True)
            if reply is not None:
                out += reply.encode("utf-8") + self._term
                delay = self.stub.faults.reply_delay_s or delay

    def _refusal(self, limit: int) -> bytes:
        message = (f"line longer than {limit} bytes without a {self.stub.termination!r} terminator; "
                   "closing the connection")
        return grammar.framed_error(grammar.ERR_TOO_MUCH_DATA, message).encode("utf-8") + self._term

    def _answer(self, line: str) -> tuple[str | None, bool]:
        """Run one line's commands; (reply line or None, keep the link?)."""
        faults = self.stub.faults
        if faults.mute:
            return None, True
        replies: list[str] = []
        for command in self.stub.split_message(line):
            reply = self.stub.handle(command)
            if faults.take_drop():
                return None, False
            if reply is not None:
                replies.append(reply)
        if not replies:
            return None, True
        text = self.stub.join_replies(replies)
        return (garble_text(text) if faults.take_garble() else text), True


class FramedSession:
    """Binary frames: every request frame gets one reply frame (same ``seq``)."""

    def __init__(self, stub: FirmwareStub) -> None:
        self.stub = stub
        self.decoder = framing.FrameDecoder()

    def feed(self, data: bytes) -> Output:
        faults = self.stub.faults
        out = bytearray()
        delay = 0.0
        for frame in self.decoder.feed(data):
            if frame.reply or faults.mute:
                continue  # our own echo, or a controller that never answers
            reply = self.stub.handle_framed(frame.seq, frame.text)
            if faults.take_drop():
                return Output(bytes(out), delay, close=True)
            delay = faults.reply_delay_s or delay
            out += faults.take_garbage()
            encoded = bytearray(framing.encode_frame(frame.seq, reply, reply=True))
            if faults.take_garble():
                encoded[-1] ^= 0xFF  # the CRC no longer matches: the host must drop it and retry
            out += encoded
        return Output(bytes(out), delay)

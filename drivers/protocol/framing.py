"""Binary frames of the serial controller link, and a decoder that cannot be starved.

Each message travels in a frame (all integers big-endian)::

    0xA5 | flags:u8 | seq:u32 | len:u32 | hcrc:u16 | payload[len] | crc:u32

``flags`` holds the protocol version in its high nibble and :data:`FLAG_REPLY` in bit 0; ``hcrc`` is
CRC-16/XMODEM (``binascii.crc_hqx``) of the first 10 bytes, so a corrupted length is rejected at once;
``crc`` is ``binascii.crc32`` of header and payload. A host that gets no (valid) reply re-sends the
*same* ``seq``; the controller answers a repeated ``seq`` from its reply cache.

:class:`FrameDecoder` finds every valid frame in any amount of line noise, however the bytes are
chunked, in time linear in the bytes fed: see its docstring for how.
"""
from __future__ import annotations

import binascii
import heapq
import struct
from dataclasses import dataclass

PROTOCOL_VERSION = 1
START = 0xA5
FLAG_REPLY = 0x01
_HEADER = struct.Struct(">BBIIH")  # start, flags, seq, len, hcrc
HEADER_SIZE = _HEADER.size  # 12
TRAILER_SIZE = 4
MAX_PAYLOAD = 1 << 20
SEQ_MODULO = 1 << 32
#: Plausible headers whose bodies are awaited at once; a newer one pushes the oldest out.
OPEN_CANDIDATES = 4


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its sequence number, direction and payload bytes."""

    seq: int
    payload: bytes
    reply: bool = False

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")


def encode_frame(seq: int, payload: bytes | str, reply: bool = False) -> bytes:
    """Serialise one frame (``payload`` text is UTF-8 encoded)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"frame payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    flags = (PROTOCOL_VERSION << 4) | (FLAG_REPLY if reply else 0)
    head = struct.pack(">BBII", START, flags, seq % SEQ_MODULO, len(payload))
    head += struct.pack(">H", binascii.crc_hqx(head, 0))
    body = head + payload
    return body + struct.pack(">I", binascii.crc32(body) & 0xFFFFFFFF)


#: A header whose checksum holds, waiting for its body: (end offset, start offset, seq, flags), a
#: tuple so that the heap orders candidates by where they end.
_Candidate = tuple[int, int, int, int]


class FrameDecoder:
    """Incremental frame parser that resynchronises after garbage, in linear time.

    Feed it bytes as they arrive; it returns every complete, checksum-valid frame in stream order and
    counts the bytes it skipped in :attr:`discarded`. It sweeps the stream once: each start byte is
    examined once, and a header whose checksum holds becomes a *candidate* that waits for its body.
    The first candidate to complete with a valid CRC is a frame; everything before it is garbage (so
    a frame cut short by a reset never swallows the replies after it) and everything inside it is
    payload. At most :data:`OPEN_CANDIDATES` candidates wait at once — a newer one pushes out the
    oldest — and a body's CRC is computed once, when it is complete, so every byte is checksummed at
    most ``OPEN_CANDIDATES`` times: crafted headers cannot make the work grow faster than the input.
    (Real payloads are ASCII — the protocol percent-encodes the rest — so they hold no start byte,
    let alone several valid headers.)
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._base = 0          # stream offset of _buf[0]
        self._scan = 0          # next stream offset to examine for a start byte
        self._accounted = 0     # stream offsets below this are either emitted or counted as discarded
        self._open: list[_Candidate] = []  # a heap by end offset
        self.discarded = 0

    # ---------------------------------------------------------------------------------- status
    @property
    def pending(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    @property
    def needed(self) -> int:
        """Bytes still missing before the decoder can decide anything (at least 1), so a reader can
        ask its port for that many instead of polling byte by byte."""
        end = self._end
        partial = self._buf.find(START, self._scan - self._base)
        if partial >= 0 and end - (self._base + partial) < HEADER_SIZE:
            return HEADER_SIZE - (end - (self._base + partial))
        if self._open:
            return max(1, self._open[0][0] - end)
        return HEADER_SIZE

    @property
    def _end(self) -> int:
        return self._base + len(self._buf)

    def clear(self) -> None:
        """Forget everything held (a reopened link can never complete half a frame)."""
        self.discarded += self._end - self._accounted
        self._base = self._scan = self._accounted = self._end
        self._buf.clear()
        self._open.clear()

    # ---------------------------------------------------------------------------------- decoding
    def feed(self, data: bytes) -> list[Frame]:
        self._buf.extend(data)
        frames: list[Frame] = []
        while True:
            first_end = self._open[0][0] if self._open else None
            limit = self._end - HEADER_SIZE + 1  # a header must have fully arrived to be examined
            if first_end is not None:
                limit = min(limit, first_end)
            if self._scan < limit and self._examine_next_header(limit):
                continue
            if first_end is not None and first_end <= self._end:
                frame = self._complete(heapq.heappop(self._open))
                if frame is not None:
                    frames.append(frame)
                continue
            break
        self._trim()
        return frames

    def _examine_next_header(self, limit: int) -> bool:
        """Look at the next start byte before ``limit``; True if there was one."""
        i = self._buf.find(START, self._scan - self._base, limit - self._base)
        if i < 0:
            self._scan = limit
            return False
        pos = self._base + i
        self._scan = pos + 1
        _, flags, seq, length, hcrc = _HEADER.unpack_from(self._buf, i)
        if flags >> 4 != PROTOCOL_VERSION or length > MAX_PAYLOAD:
            return True
        if binascii.crc_hqx(bytes(self._buf[i:i + HEADER_SIZE - 2]), 0) != hcrc:
            return True
        heapq.heappush(self._open, (pos + HEADER_SIZE + length + TRAILER_SIZE, pos, seq, flags))
        if len(self._open) > OPEN_CANDIDATES:
            self._open.remove(min(self._open, key=lambda c: c[1]))  # the oldest
            heapq.heapify(self._open)
        return True

    def _complete(self, cand: _Candidate) -> Frame | None:
        """Check a candidate whose bytes have all arrived; a valid one is a frame."""
        end, pos, seq, flags = cand
        start, stop = pos - self._base, end - self._base - TRAILER_SIZE
        with memoryview(self._buf) as view:
            crc = binascii.crc32(view[start:stop]) & 0xFFFFFFFF
        (expected,) = struct.unpack_from(">I", self._buf, stop)
        if crc != expected:
            return None
        payload = bytes(self._buf[start + HEADER_SIZE:stop])
        self.discarded += max(0, pos - self._accounted)
        self._accounted = end
        self._scan = max(self._scan, end)
        if self._open:
            self._open = [c for c in self._open if c[1] >= end]  # earlier ones were garbage
            heapq.heapify(self._open)
        return Frame(seq, payload, bool(flags & FLAG_REPLY))

    def _trim(self) -> None:
        """Drop the bytes no candidate and no unexamined header can need any more."""
        keep_from = min([self._scan, *(c[1] for c in self._open)])
        if keep_from > self._accounted:
            self.discarded += keep_from - self._accounted
            self._accounted = keep_from
        drop = min(keep_from, self._accounted) - self._base
        if drop > 0:
            del self._buf[:drop]
            self._base += drop

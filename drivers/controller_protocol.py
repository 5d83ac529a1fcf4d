"""Wire protocol between a qnodeos controller shim and a real-time controller (ADwin/FPGA sequencer).

Pure encoding and decoding, no I/O: the shims (:mod:`qnodeos.drivers.visa_shim`,
:mod:`qnodeos.drivers.serial_shim`) and the emulated firmware (:mod:`qnodeos.firmware_stubs`) import the
same functions, so the two ends cannot drift apart.

Text protocol (VISA shim, one message per line, ``\\n``-terminated, UTF-8)
------------------------------------------------------------------------------
SCPI-flavoured: headers are case-insensitive, only queries (ending in ``?``) answer, and a command
that fails answers nothing but queues an error read with ``SYST:ERR?``. Unlike strict SCPI a failed
*query* still answers, with ``ERR <code>,"<message>"``, so a host never waits out a timeout for a
reply that is not coming. As in SCPI, one line may carry several commands separated by ``;`` (a
*program message*); the replies of its queries come back on one line, joined by ``;``. The shims send
each exchange as one such line ending in a single query, so it costs one network round trip (and
never waits on Nagle's algorithm, which pyvisa-py's sockets leave enabled); a long upload is split
into messages under 4 KB, each but the last acknowledged with ``*OPC?`` (:func:`pack_program`).
No argument contains ``;`` (the compact encoding percent-encodes it; JSON instructions must not
contain it either).

==========================  =====================================================================
``*IDN?``                   ``<maker>,<model>,<serial>,<firmware>`` e.g. ``QNODEOS,QCTRL-EMU,SN0001,1.0``
``*RST``                    every qubit back to \\|0>, entanglement forgotten; the clock keeps running
``*CLS``                    clear the error queue
``*OPC?``                   ``1`` once every earlier command is done
``CAPS?``                   the device :class:`~qnodeos.hal.Capabilities` as one line of JSON
``SYST:TIME?``              the device clock in ns
``SYST:CLOCK?``             ``SIMULATED`` (clock moves only with instructions, as on an emulator) or ``REAL``
``SYST:ERR?``               oldest queued error ``<code>,"<message>"``; ``0,"No error"`` when empty
``SEQ:CLEAR``               discard the staged (not yet armed) sequence
``SEQ:APPEND <i>[|<i>…]``   stage instructions (compact encoding below, or one JSON object each)
``SEQ:ARM <id>,<count>``    freeze the staged sequence under ``id``; ``count`` must match what was staged
``*TRG``                    run the armed sequence — at most once per ``id``, whatever is re-sent
``SEQ:STAT? <id>``          ``DONE`` (results held), ``ARMED`` (not run yet) or ``UNKNOWN``
``SEQ:RESULTS? <id>``       ``<id> <n>|<r1>|…|<rn>`` (compact responses); ``ERR …`` if ``id`` has not run
``SEQ:RUN? <id> <i>|<i>…``  stage, arm, trigger and answer the results in one exchange (used framed)
==========================  =====================================================================

Sequence ids (``[A-Za-z0-9._-]{1,64}``) are chosen by the host and remembered by the controller for
its last :data:`RESULTS_KEPT` sequences. They make a reconnect safe: after a dropped link the host asks
``SEQ:STAT? <id>``; ``DONE`` means fetch the results, anything else means upload and trigger again —
the controller never runs one id twice, so no result is lost or duplicated.

Compact instruction encoding (fields separated by one space)::

    INIT q | ROT q axis angle | CROT control target axis angle | MS q0 q1 angle | MEAS q
    ENT q peer max_attempts window_start_ns|-  | WAIT duration_ns

Compact response encoding: ``status start_ns end_ns outcome bell attempts pair_id message`` where
``-`` stands for None (or an empty message) and the message is percent-encoded.

Framed binary protocol (serial shim)
------------------------------------
Each message travels in a frame (all integers big-endian)::

    0xA5 | flags:u8 | seq:u32 | len:u32 | hcrc:u16 | payload[len] | crc:u32

``flags`` holds the protocol version in its high nibble and :data:`FLAG_REPLY` in bit 0; ``hcrc`` is
CRC-16/XMODEM (``binascii.crc_hqx``) of the first 10 bytes, so a corrupted length is rejected at once;
``crc`` is ``binascii.crc32`` of header and payload. The payload is one text-protocol command and the
reply frame (same ``seq``) carries its answer; in framed mode every command answers (``OK`` for a
command, ``ERR <code>,"<message>"`` for a failure) and ``SEQ:RUN? <id> <i>|<i>…`` uploads, runs and
returns results in one exchange. :class:`FrameDecoder` resynchronises after garbage by discarding one
byte and hunting for the next start byte whose header and payload checksums hold. A host that gets no
(valid) reply re-sends the *same* ``seq``; the controller answers a repeated ``seq`` from its reply
cache instead of executing again, and never runs a sequence id twice, so retries are idempotent.
"""
from __future__ import annotations

import binascii
import json
import re
import struct
from dataclasses import dataclass
from typing import Iterable, Sequence
from urllib.parse import quote, unquote

from qnodeos.hal.errors import DeviceFault
from qnodeos.hal.instructions import (
    Axis,
    ControlledRotate,
    EntangleAttempt,
    Init,
    Measure,
    MolmerSorensen,
    PhysicalInstruction,
    Rotate,
    Wait,
    from_dict,
)
from qnodeos.hal.responses import BellState, Response, Status

PROTOCOL_VERSION = 1
TERMINATION = "\n"
IDN_MAKER = "QNODEOS"
RESULTS_KEPT = 256
NO_ERROR = (0, "No error")

# SCPI-style error codes the controller queues.
ERR_SYNTAX = -102
ERR_UNDEFINED_HEADER = -113
ERR_MISSING_PARAMETER = -109
ERR_ILLEGAL_VALUE = -224
ERR_SETTINGS_CONFLICT = -221
ERR_EXECUTION = -200
ERR_HARDWARE = -240

_SEQ_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class ControllerError(DeviceFault):
    """The controller understood the link but refused the command (an ``ERR`` reply)."""


# ---------------------------------------------------------------------------------------- strings
def quote_token(text: str) -> str:
    """Percent-encode ``text`` into one token free of spaces, ``|``, ``,``, ``;`` and newlines.

    The empty string becomes ``-``; a literal ``-`` is encoded so the two never collide.
    """
    if text == "":
        return "-"
    return quote(text, safe="").replace("-", "%2D")


def unquote_token(token: str) -> str:
    """Inverse of :func:`quote_token`."""
    return "" if token == "-" else unquote(token)


def check_seq_id(seq_id: str) -> str:
    """Return ``seq_id`` if it is a valid sequence id, else raise ``ValueError`` saying why."""
    if not isinstance(seq_id, str) or not _SEQ_ID.match(seq_id):
        raise ValueError(f"bad sequence id {seq_id!r}: want 1-64 characters of [A-Za-z0-9._-]")
    return seq_id


# ---------------------------------------------------------------------------------- instructions
_AXES = {a.value: a for a in Axis}


def _int(token: str, what: str) -> int:
    try:
        return int(token)
    except ValueError:
        raise ValueError(f"{what}: expected an integer, got {token!r}") from None


def _float(token: str, what: str) -> float:
    try:
        return float(token)
    except ValueError:
        raise ValueError(f"{what}: expected a number, got {token!r}") from None


def _axis(token: str) -> Axis:
    try:
        return _AXES[token.lower()]
    except KeyError:
        raise ValueError(f"bad axis {token!r} (want x, y or z)") from None


def _num(x: float) -> str:
    return repr(float(x))


def encode_instruction(instr: PhysicalInstruction) -> str:
    """The compact one-token-group encoding of a physical instruction (exact float round-trip)."""
    if isinstance(instr, Init):
        return f"INIT {int(instr.qubit)}"
    if isinstance(instr, Rotate):
        return f"ROT {int(instr.qubit)} {Axis(instr.axis).value} {_num(instr.angle)}"
    if isinstance(instr, ControlledRotate):
        return f"CROT {int(instr.control)} {int(instr.target)} {Axis(instr.axis).value} {_num(instr.angle)}"
    if isinstance(instr, MolmerSorensen):
        a, b = instr.qubits
        return f"MS {int(a)} {int(b)} {_num(instr.angle)}"
    if isinstance(instr, Measure):
        return f"MEAS {int(instr.qubit)}"
    if isinstance(instr, EntangleAttempt):
        window = "-" if instr.window_start_ns is None else str(int(instr.window_start_ns))
        tag = "" if instr.tag is None else f" {quote_token(instr.tag)}"
        return f"ENT {int(instr.qubit)} {quote_token(instr.peer)} {int(instr.max_attempts)} {window}{tag}"
    if isinstance(instr, Wait):
        return f"WAIT {int(instr.duration_ns)}"
    raise TypeError(f"not a physical instruction: {instr!r}")


_ARITY = {"INIT": 1, "ROT": 3, "CROT": 4, "MS": 3, "MEAS": 1, "ENT": 4, "WAIT": 1}


def decode_instruction(text: str) -> PhysicalInstruction:
    """Parse one compact (or JSON-object) instruction; ``ValueError`` names what is wrong."""
    text = text.strip()
    if text.startswith("{"):
        return _instruction_from_json(text)
    parts = text.split(" ")
    op = parts[0].upper()
    if op not in _ARITY:
        raise ValueError(f"unknown instruction mnemonic {parts[0]!r} in {text!r}")
    args = parts[1:]
    if len(args) != _ARITY[op] and not (op == "ENT" and len(args) == 5):  # ENT's tag is optional
        raise ValueError(f"{op} takes {_ARITY[op]} field(s), got {len(args)} in {text!r}")
    if op == "INIT":
        return Init(_int(args[0], "INIT qubit"))
    if op == "ROT":
        return Rotate(_int(args[0], "ROT qubit"), _axis(args[1]), _float(args[2], "ROT angle"))
    if op == "CROT":
        return ControlledRotate(_int(args[0], "CROT control"), _int(args[1], "CROT target"), _axis(args[2]),
                                _float(args[3], "CROT angle"))
    if op == "MS":
        return MolmerSorensen((_int(args[0], "MS qubit"), _int(args[1], "MS qubit")), _float(args[2], "MS angle"))
    if op == "MEAS":
        return Measure(_int(args[0], "MEAS qubit"))
    if op == "ENT":
        window = None if args[3] == "-" else _int(args[3], "ENT window_start_ns")
        return EntangleAttempt(_int(args[0], "ENT qubit"), unquote_token(args[1]),
                               _int(args[2], "ENT max_attempts"), window,
                               unquote_token(args[4]) if len(args) == 5 else None)
    return Wait(_int(args[0], "WAIT duration_ns"))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: What each field of a physical instruction must hold (JSON gives any type; the device trusts them).
_FIELD_CHECKS = {
    "qubit": (_is_int, "an integer"),
    "control": (_is_int, "an integer"),
    "target": (_is_int, "an integer"),
    "max_attempts": (_is_int, "an integer"),
    "duration_ns": (_is_int, "an integer"),
    "window_start_ns": (lambda v: v is None or _is_int(v), "an integer or null"),
    "angle": (_is_number, "a number"),
    "axis": (lambda v: isinstance(v, Axis), "x, y or z"),
    "peer": (lambda v: isinstance(v, str), "a string"),
    "tag": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "qubits": (lambda v: isinstance(v, tuple) and len(v) == 2 and all(_is_int(q) for q in v),
               "a list of two integers"),
}


def _instruction_from_json(text: str) -> PhysicalInstruction:
    """A JSON-object instruction, its field types checked (``ValueError`` names the bad field)."""
    shown = text if len(text) <= 80 else text[:77] + "..."
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise ValueError(f"bad JSON instruction {shown!r}: {type(exc).__name__}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("op"), str):
        raise ValueError(f"bad JSON instruction {shown!r}: not an object with a string \"op\"")
    try:
        instr = from_dict(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"bad JSON instruction {shown!r}: {exc}") from None
    for name in instr.__dataclass_fields__:  # type: ignore[union-attr]
        check, want = _FIELD_CHECKS.get(name, (lambda v: True, ""))  # a field added later: unchecked
        value = getattr(instr, name)
        if not check(value):
            raise ValueError(f"bad JSON instruction {shown!r}: {name}={value!r} must be {want}")
    return instr


def encode_instructions(instrs: Iterable[PhysicalInstruction]) -> str:
    """Several instructions joined with ``|`` (the argument of ``SEQ:APPEND`` / ``SEQ:RUN?``)."""
    return "|".join(encode_instruction(i) for i in instrs)


def decode_instructions(text: str) -> list[PhysicalInstruction]:
    """Inverse of :func:`encode_instructions` (an empty text is an empty list)."""
    text = text.strip()
    if not text:
        return []
    return [decode_instruction(part) for part in text.split("|")]


def append_commands(instrs: Sequence[PhysicalInstruction], max_line: int = 4000) -> list[str]:
    """``SEQ:APPEND`` lines staging ``instrs``, each at most about ``max_line`` characters long."""
    lines: list[str] = []
    chunk: list[str] = []
    size = 0
    for instr in instrs:
        enc = encode_instruction(instr)
        if chunk and size + len(enc) + 1 > max_line:
            lines.append("SEQ:APPEND " + "|".join(chunk))
            chunk, size = [], 0
        chunk.append(enc)
        size += len(enc) + 1
    if chunk:
        lines.append("SEQ:APPEND " + "|".join(chunk))
    return lines


# ------------------------------------------------------------------------------------- responses
def _opt_int(token: str, what: str) -> int | None:
    return None if token == "-" else _int(token, what)


def encode_response(resp: Response) -> str:
    """Compact encoding of one response (the instruction itself is not sent back)."""
    fields = [
        resp.status.value,
        str(int(resp.start_ns)),
        str(int(resp.end_ns)),
        "-" if resp.outcome is None else str(int(resp.outcome)),
        "-" if resp.bell_state is None else resp.bell_state.value,
        str(int(resp.attempts)),
        "-" if resp.pair_id is None else str(int(resp.pair_id)),
        quote_token(resp.message),
    ]
    return " ".join(fields)


def decode_response(text: str, instruction: PhysicalInstruction) -> Response:
    """Inverse of :func:`encode_response`, re-attaching the ``instruction`` the host sent."""
    parts = text.strip().split(" ")
    if len(parts) != 8:
        raise ValueError(f"response needs 8 fields, got {len(parts)}: {text!r}")
    try:
        status = Status(parts[0])
    except ValueError:
        raise ValueError(f"unknown response status {parts[0]!r} in {text!r}") from None
    try:
        bell = None if parts[4] == "-" else BellState(parts[4])
    except ValueError:
        raise ValueError(f"unknown Bell state {parts[4]!r} in {text!r}") from None
    return Response(
        instruction=instruction,
        status=status,
        start_ns=_int(parts[1], "start_ns"),
        end_ns=_int(parts[2], "end_ns"),
        outcome=_opt_int(parts[3], "outcome"),
        bell_state=bell,
        attempts=_int(parts[5], "attempts"),
        pair_id=_opt_int(parts[6], "pair_id"),
        message=unquote_token(parts[7]),
    )


def encode_results(seq_id: str, responses: Sequence[Response]) -> str:
    """The ``SEQ:RESULTS?`` / ``SEQ:RUN?`` reply: ``<id> <n>|<r1>|…``."""
    return "|".join([f"{seq_id} {len(responses)}", *(encode_response(r) for r in responses)])


def decode_results(text: str, instructions: Sequence[PhysicalInstruction],
                   seq_id: str | None = None) -> list[Response]:
    """Parse a results reply for ``instructions``; ``ValueError`` if it is garbled, for another
    sequence, or has the wrong number of responses."""
    parts = text.strip().split("|")
    head = parts[0].split(" ")
    if len(head) != 2:
        raise ValueError(f"bad results header {parts[0]!r}")
    rid, count = head[0], _int(head[1], "result count")
    if seq_id is not None and rid != seq_id:
        raise ValueError(f"results are for sequence {rid!r}, expected {seq_id!r}")
    body = parts[1:]
    if count != len(body) or count != len(instructions):
        raise ValueError(f"expected {len(instructions)} results, header says {count}, got {len(body)}")
    return [decode_response(t, i) for t, i in zip(body, instructions)]


# ------------------------------------------------------------------------------ commands & errors
def split_program(line: str) -> list[str]:
    """The commands of one program message (``;``-separated; empty units dropped)."""
    return [unit.strip() for unit in line.split(";") if unit.strip()]


def join_program(commands: Iterable[str]) -> str:
    """One program message from several commands (inverse of :func:`split_program`)."""
    return ";".join(commands)


def pack_program(commands: Sequence[str], max_len: int = 4000, ack: str = "*OPC?") -> list[str]:
    """Pack ``commands`` into as few program messages of at most ``max_len`` characters as possible.

    Every message but the last ends with the ``ack`` query, so the host waits for each one before
    sending the next: a large upload then never sits behind Nagle's algorithm (pyvisa-py sends in
    4 KiB pieces on a socket without ``TCP_NODELAY``) and flow control stays simple. A single
    command longer than ``max_len`` travels alone.
    """
    messages: list[str] = []
    current: list[str] = []
    size = 0
    for cmd in commands:
        extra = len(cmd) + (1 if current else 0)
        if current and size + extra + len(ack) + 1 > max_len:
            messages.append(join_program([*current, ack]))
            current, size, extra = [], 0, len(cmd)
        current.append(cmd)
        size += extra
    if current:
        messages.append(join_program(current))
    return messages


def split_command(line: str) -> tuple[str, str]:
    """``(HEADER, argument text)`` of one command line; the header upper-cased."""
    line = line.strip()
    head, _, rest = line.partition(" ")
    return head.upper(), rest.strip()


def format_error(code: int, message: str) -> str:
    """``SYST:ERR?`` answer: ``<code>,"<message>"`` (double quotes in the message doubled)."""
    return f'{int(code)},"{message.replace(chr(34), chr(34) * 2)}"'


def parse_error(reply: str) -> tuple[int, str]:
    """Inverse of :func:`format_error`; ``ValueError`` on a malformed reply."""
    code, sep, msg = reply.strip().partition(",")
    if not sep:
        raise ValueError(f"malformed error reply {reply!r}")
    msg = msg.strip()
    if len(msg) >= 2 and msg[0] == msg[-1] == '"':
        msg = msg[1:-1].replace('""', '"')
    return _int(code.strip(), "error code"), msg


def format_idn(maker: str, model: str, serial: str, firmware: str) -> str:
    return f"{maker},{model},{serial},{firmware}"


def parse_idn(reply: str) -> tuple[str, str, str, str]:
    """The four ``*IDN?`` fields; ``ValueError`` unless there are exactly four."""
    fields = [f.strip() for f in reply.strip().split(",")]
    if len(fields) != 4 or not all(fields[:2]):
        raise ValueError(f"not a '<maker>,<model>,<serial>,<firmware>' identification: {reply!r}")
    return fields[0], fields[1], fields[2], fields[3]


def encode_capabilities(caps_dict: dict) -> str:
    """One-line JSON for ``CAPS?`` (infinite coherence times travel as JSON's ``Infinity``)."""
    return json.dumps(caps_dict, separators=(",", ":"), allow_nan=True)


def decode_capabilities(text: str) -> dict:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError; nesting too deep
        raise ValueError(f"bad CAPS? reply (not JSON: {type(exc).__name__}: {exc}): {text[:80]!r}") from None
    if not isinstance(data, dict):
        raise ValueError(f"bad CAPS? reply (not an object): {text[:80]!r}")
    return data


# ----------------------------------------------------------------------------------------- frames
START = 0xA5
FLAG_REPLY = 0x01
_HEADER = struct.Struct(">BBIIH")  # start, flags, seq, len, hcrc
HEADER_SIZE = _HEADER.size  # 12
TRAILER_SIZE = 4
MAX_PAYLOAD = 1 << 20
SEQ_MODULO = 1 << 32


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


class FrameDecoder:
    """Incremental frame parser that resynchronises after garbage.

    Feed it bytes as they arrive; it returns every complete, checksum-valid frame in order and
    counts the bytes it had to skip in :attr:`discarded`. A corrupt frame costs only its start byte:
    the search resumes right after it, so a valid frame hidden inside garbage is still found. A
    plausible header whose body has not arrived yet (say, a frame cut short when the peer reset) is
    abandoned as soon as a complete valid frame starts later in the buffer, so it cannot swallow the
    replies that follow it. (Text payloads are ASCII — the protocol percent-encodes the rest — so a
    real payload never contains a start byte, let alone a whole frame.)
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._lookahead = 1  # positions before this are known not to start a valid frame
        self.discarded = 0

    @property
    def pending(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    @property
    def needed(self) -> int:
        """Bytes still missing for the frame begun at the head of the buffer (at least 1), so a
        reader can ask its port for exactly that many instead of polling byte by byte."""
        buf = self._buf
        if len(buf) < HEADER_SIZE:
            return HEADER_SIZE - len(buf)
        _, _, _, length, _ = _HEADER.unpack_from(buf)
        return max(1, min(HEADER_SIZE + length + TRAILER_SIZE, HEADER_SIZE + MAX_PAYLOAD) - len(buf))

    def clear(self) -> None:
        self.discarded += len(self._buf)
        self._drop(len(self._buf))

    def feed(self, data: bytes) -> list[Frame]:
        self._buf.extend(data)
        frames: list[Frame] = []
        buf = self._buf
        while True:
            i = buf.find(START)
            if i < 0:
                self.discarded += len(buf)
                self._drop(len(buf))
                return frames
            if i:
                self.discarded += i
                self._drop(i)
            verdict = self._check(0)
            if verdict is None:  # incomplete: keep it unless a later complete frame proves it bogus
                later = self._later_frame()
                if later is None:
                    return frames
                self.discarded += later
                self._drop(later)
                continue
            if verdict is False:
                self.discarded += 1
                self._drop(1)
                continue
            seq, flags, length = verdict
            frames.append(Frame(seq, bytes(buf[HEADER_SIZE:HEADER_SIZE + length]), bool(flags & FLAG_REPLY)))
            self._drop(HEADER_SIZE + length + TRAILER_SIZE)

    def _check(self, pos: int) -> tuple[int, int, int] | bool | None:
        """At ``pos``: ``(seq, flags, length)`` for a valid frame, False if none can start there,
        None if the bytes so far are consistent with a frame that has not fully arrived."""
        buf = self._buf
        if len(buf) - pos < HEADER_SIZE:
            return None
        _, flags, seq, length, hcrc = _HEADER.unpack_from(buf, pos)
        if (binascii.crc_hqx(bytes(buf[pos:pos + HEADER_SIZE - 2]), 0) != hcrc or length > MAX_PAYLOAD
                or flags >> 4 != PROTOCOL_VERSION):
            return False
        end = pos + HEADER_SIZE + length + TRAILER_SIZE
        if len(buf) < end:
            return None
        (crc,) = struct.unpack_from(">I", buf, end - TRAILER_SIZE)
        if binascii.crc32(bytes(buf[pos:end - TRAILER_SIZE])) & 0xFFFFFFFF != crc:
            return False
        return seq, flags, length

    def _later_frame(self) -> int | None:
        """Offset of the first complete valid frame after the head, if any (remembering how far
        the buffer is known to hold no frame start, so repeated calls stay cheap)."""
        pos = self._lookahead
        settled = True
        while True:
            pos = self._buf.find(START, pos)
            if pos < 0:
                if settled:
                    self._lookahead = len(self._buf)
                return None
            verdict = self._check(pos)
            if isinstance(verdict, tuple):
                return pos
            if verdict is None:
                settled = False
            elif settled:
                self._lookahead = pos + 1
            pos += 1

    def _drop(self, n: int) -> None:
        del self._buf[:n]
        self._lookahead = 1


# ------------------------------------------------------------------------------ framed replies
def framed_ok() -> str:
    return "OK"


def framed_error(code: int, message: str) -> str:
    return "ERR " + format_error(code, message)


def parse_framed_reply(text: str) -> tuple[bool, str]:
    """``(True, body)`` for a normal reply, ``(False, "<code>: <message>")`` for an ``ERR`` reply."""
    if text.startswith("ERR "):
        try:
            code, msg = parse_error(text[4:])
        except ValueError:
            return False, text[4:]
        return False, f"{code}: {msg}"
    return True, text

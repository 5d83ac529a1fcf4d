"""The controller protocol's value encodings: instructions, responses, results, capabilities.

Pure functions, no I/O; the compact encodings round-trip floats exactly. The grammar that carries
these values (headers, program messages, errors) is :mod:`.grammar`; the binary frames of the serial
link are :mod:`.framing`.

Compact instruction encoding (fields separated by one space)::

    INIT q | ROT q axis angle | CROT control target axis angle | MS q0 q1 angle | MEAS q
    ENT q peer max_attempts window_start_ns|- [tag]  | WAIT duration_ns

Compact response encoding: ``status start_ns end_ns outcome bell attempts pair_id message`` where
``-`` stands for None (or an empty message) and the message is percent-encoded.
"""
from __future__ import annotations

import json
import re
from typing import Iterable, Sequence
from urllib.parse import quote, unquote

from qnodeos.hal.instructions import Axis, ControlledRotate, EntangleAttempt, Init, Measure, MolmerSorensen
from qnodeos.hal.instructions import PhysicalInstruction, Rotate, Wait, from_dict
from qnodeos.hal.responses import BellState, Response, Status

_SEQ_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


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
    for name in instr.__dataclass_fields__:
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



"""The ACME SEQ-9000's own command set, both directions: the driver encodes operations and decodes
result records; the emulated firmware (:mod:`.stub`) does the reverse. One module, so the two ends
cannot drift apart.

One command per line, ``\\n``-terminated; every command answers one line::

    *IDN?                     ACMELAB,SEQ-9000,<serial>,<firmware>
    CLK?                      controller clock in ns, then SIM (an emulator's clock, moved only by
                              operations) or REAL
    RST                       DONE — all qubits back to |0>
    OP? <operation>           one result record

Operations (angles in degrees)::

    PREP q | PULSE q axis deg | CPULSE c t axis deg | MSGATE a b deg | READ q | IDLE ns
    HERALD q peer max_attempts window|-

Result records: ``<kind> <t0_ns> <t1_ns> <fields…>`` with kind ``DONE``; ``BIT`` + outcome;
``PAIR`` + bell state, pair id, attempts; ``NOPAIR`` / ``NOSYNC`` + attempts; and the refusals
``NAK-OP`` / ``NAK-Q`` / ``FAULT`` + a message (percent-encoded).
"""
from __future__ import annotations

import math
from urllib.parse import quote, unquote

from qnodeos.hal import Axis, BellState, ControlledRotate, EntangleAttempt, Init, Measure, MolmerSorensen
from qnodeos.hal import PhysicalInstruction, Response, Rotate, Status, Wait

#: What the SEQ-9000 answers to *IDN? (maker, model); the driver refuses anything else.
MAKER, MODEL = "ACMELAB", "SEQ-9000"

_KIND = {Status.OK: "DONE", Status.MEASURED: "BIT", Status.ENTANGLED: "PAIR", Status.ENT_FAILURE: "NOPAIR",
         Status.ENT_SYNC_FAILURE: "NOSYNC", Status.UNSUPPORTED: "NAK-OP", Status.INVALID_QUBIT: "NAK-Q",
         Status.HARDWARE_FAILURE: "FAULT"}
_STATUS = {kind: status for status, kind in _KIND.items()}


def _deg(angle: float) -> str:
    return repr(math.degrees(angle))


def encode_operation(instr: PhysicalInstruction) -> str:
    """The SEQ-9000 operation performing ``instr``."""
    match instr:
        case Init(q):
            return f"PREP {q}"
        case Rotate(q, axis, angle):
            return f"PULSE {q} {Axis(axis).name} {_deg(angle)}"
        case ControlledRotate(c, t, axis, angle):
            return f"CPULSE {c} {t} {Axis(axis).name} {_deg(angle)}"
        case MolmerSorensen((a, b), angle):
            return f"MSGATE {a} {b} {_deg(angle)}"
        case Measure(q):
            return f"READ {q}"
        case Wait(ns):
            return f"IDLE {ns}"
        case EntangleAttempt(q, peer, max_attempts, window):
            return f"HERALD {q} {quote(peer, safe='')} {max_attempts} {'-' if window is None else window}"
    raise TypeError(f"the SEQ-9000 has no operation for {instr!r}")


def decode_operation(text: str) -> PhysicalInstruction:
    """Inverse of :func:`encode_operation`; ``ValueError`` names what is wrong."""
    op, *args = text.split()
    try:
        if op == "PREP" and len(args) == 1:
            return Init(int(args[0]))
        if op == "PULSE" and len(args) == 3:
            return Rotate(int(args[0]), Axis[args[1]], math.radians(float(args[2])))
        if op == "CPULSE" and len(args) == 4:
            return ControlledRotate(int(args[0]), int(args[1]), Axis[args[2]], math.radians(float(args[3])))
        if op == "MSGATE" and len(args) == 3:
            return MolmerSorensen((int(args[0]), int(args[1])), math.radians(float(args[2])))
        if op == "READ" and len(args) == 1:
            return Measure(int(args[0]))
        if op == "IDLE" and len(args) == 1:
            return Wait(int(args[0]))
        if op == "HERALD" and len(args) == 4:
            window = None if args[3] == "-" else int(args[3])
            return EntangleAttempt(int(args[0]), unquote(args[1]), int(args[2]), window)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"bad operation {text!r}: {exc}") from None
    raise ValueError(f"unknown operation or wrong field count: {text!r}")


def encode_record(resp: Response) -> str:
    """The result record of a response (what the firmware answers to ``OP?``)."""
    head = f"{_KIND[resp.status]} {resp.start_ns} {resp.end_ns}"
    if resp.status is Status.MEASURED:
        return f"{head} {resp.outcome}"
    if resp.status is Status.ENTANGLED:
        return f"{head} {resp.bell_state.value} {resp.pair_id} {resp.attempts}"  # type: ignore[union-attr]
    if resp.status in (Status.ENT_FAILURE, Status.ENT_SYNC_FAILURE):
        return f"{head} {resp.attempts}" + (f" {quote(resp.message, safe='')}" if resp.message else "")
    if resp.status is Status.OK:
        return head
    return f"{head} {quote(resp.message or resp.status.value, safe='')}"


def decode_record(text: str, instr: PhysicalInstruction) -> Response:
    """Inverse of :func:`encode_record` for the operation ``instr``; ``ValueError`` if garbled."""
    kind, *fields = text.split()
    if kind not in _STATUS or len(fields) < 2:
        raise ValueError(f"not a SEQ-9000 result record: {text!r}")
    status, t0, t1, rest = _STATUS[kind], int(fields[0]), int(fields[1]), fields[2:]
    if status is Status.MEASURED:
        return Response(instr, status, t0, t1, outcome=int(rest[0]))
    if status is Status.ENTANGLED:
        return Response(instr, status, t0, t1, bell_state=BellState(rest[0]), pair_id=int(rest[1]),
                        attempts=int(rest[2]))
    if status in (Status.ENT_FAILURE, Status.ENT_SYNC_FAILURE):
        return Response(instr, status, t0, t1, attempts=int(rest[0]), message=unquote(rest[1]) if len(rest) > 1 else "")
    if status is Status.OK:
        return Response(instr, status, t0, t1)
    return Response(instr, status, t0, t1, message=unquote(rest[0]) if rest else status.value)

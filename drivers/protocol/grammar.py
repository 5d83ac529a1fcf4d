"""The controller protocol's grammar: SCPI-style commands, program messages, errors, identity.

Headers are case-insensitive; only queries (ending in ``?``) answer on the text link, and a failed
command queues an error read with ``SYST:ERR?`` (a failed *query* answers ``ERR <code>,"<message>"``
at once, so a host never waits out a timeout). Several commands separated by ``;`` form one *program
message*, whose query replies come back on one line joined by ``;``. On the framed link every command
answers: ``OK`` for a command, ``ERR <code>,"<message>"`` for a failure.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from qnodeos.hal.errors import DeviceFault

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
ERR_TOO_MUCH_DATA = -223
ERR_EXECUTION = -200
ERR_HARDWARE = -240


class ControllerError(DeviceFault):
    """The controller understood the link but refused the command (an ``ERR`` reply)."""


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
    try:
        return int(code.strip()), msg
    except ValueError:
        raise ValueError(f"malformed error reply {reply!r}: code {code.strip()!r} is not an integer") from None


def format_idn(maker: str, model: str, serial: str, firmware: str) -> str:
    return f"{maker},{model},{serial},{firmware}"


def parse_idn(reply: str) -> tuple[str, str, str, str]:
    """The four ``*IDN?`` fields; ``ValueError`` unless there are exactly four."""
    fields = [f.strip() for f in reply.strip().split(",")]
    if len(fields) != 4 or not all(fields[:2]):
        raise ValueError(f"not a '<maker>,<model>,<serial>,<firmware>' identification: {reply!r}")
    return fields[0], fields[1], fields[2], fields[3]


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

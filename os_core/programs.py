"""Loading NetQASM subroutines with the netqasm package's own parsers (text and binary encodings).

Programs are outside input, so loading is defensive: whatever the source, the result is a
``Subroutine`` or a :class:`ProgramError` naming the cause (for text, the offending line when one line
alone is at fault). Sources are bounded before netqasm sees them — :data:`MAX_SOURCE_CHARS` /
:data:`MAX_SOURCE_BYTES` in all, :data:`MAX_LINE_CHARS` per line, also after ``# DEFINE`` macro
expansion — because netqasm's text parser is quadratic in the length of a line, and chained macros
(``$a`` → ``$b $b`` → …) grow a few hundred bytes into gigabytes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Union

from netqasm.lang.instr.flavour import Flavour, NVFlavour, TrappedIonFlavour, VanillaFlavour
from netqasm.lang.parsing import parse_text_subroutine
from netqasm.lang.parsing.binary import deserialize
from netqasm.lang.subroutine import Subroutine

from .errors import ProgramError

FLAVOURS: dict[str, type[Flavour]] = {
    "vanilla": VanillaFlavour,
    "nv": NVFlavour,
    "trapped_ion": TrappedIonFlavour,
}

ProgramSource = Union[str, bytes, Path, Subroutine]

#: Largest NetQASM text accepted (characters, also after macro expansion).
MAX_SOURCE_CHARS = 1 << 20
#: Largest binary encoding accepted (bytes; about 150 000 instructions).
MAX_SOURCE_BYTES = 1 << 20
#: Longest line of NetQASM text accepted (characters, also after macro expansion).
MAX_LINE_CHARS = 4096
#: A failed parse is retried line by line (to name the faulty line) only for texts this short.
_LOCATE_MAX_LINES = 2000


def flavour_named(name: str) -> Flavour:
    """The netqasm flavour object for ``name`` (vanilla, nv, trapped_ion)."""
    try:
        return FLAVOURS[name]()
    except (KeyError, TypeError):
        raise ProgramError(f"unknown NetQASM flavour {name!r} (known: {', '.join(FLAVOURS)})") from None


def load_subroutine(source: ProgramSource, flavour: str = "vanilla") -> Subroutine:
    """Parse ``source`` into a netqasm ``Subroutine``.

    ``str`` is NetQASM text; ``bytes`` is the binary encoding (decoded with the given flavour); a
    ``Path`` is read as binary if it ends in ``.bin``/``.nqb`` and as text otherwise.
    """
    if isinstance(source, Subroutine):
        return source
    if isinstance(source, Path):
        source = _read(source)
    if isinstance(source, (bytes, bytearray)):
        if len(source) > MAX_SOURCE_BYTES:
            raise ProgramError(f"binary NetQASM of {len(source)} bytes exceeds the limit of {MAX_SOURCE_BYTES}")
        fl = flavour_named(flavour)
        try:
            return deserialize(bytes(source), flavour=fl)
        except Exception as exc:  # netqasm raises many kinds on corrupt input
            raise ProgramError(f"cannot decode binary NetQASM ({len(source)} bytes, flavour {flavour}): "
                               f"{_describe(exc)}") from exc
    if isinstance(source, str):
        fl = flavour_named(flavour)
        _check_size(source)
        try:
            return parse_text_subroutine(source, flavour=fl)
        except Exception as exc:
            raise ProgramError(f"cannot parse NetQASM text{_locate(source, flavour)}: {_describe(exc)}") from exc
    raise ProgramError(f"a NetQASM program must be text, bytes, a path or a Subroutine, not {type(source).__name__}")


def encode_subroutine(subroutine: Subroutine, app_id: int = 0) -> bytes:
    """The binary encoding of ``subroutine`` (netqasm's own serialiser)."""
    if subroutine.app_id is None:
        subroutine.app_id = app_id
    return bytes(subroutine)


# ------------------------------------------------------------------------------------ helpers
def _read(path: Path) -> str | bytes:
    binary = path.suffix in (".bin", ".nqb")
    try:
        if path.stat().st_size > (MAX_SOURCE_BYTES if binary else 4 * MAX_SOURCE_CHARS):
            raise ProgramError(f"program file {str(path)!r} is too large ({path.stat().st_size} bytes)")
        return path.read_bytes() if binary else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProgramError(f"cannot read program file {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ProgramError(f"program file {str(path)!r} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                           "binary NetQASM files must end in .bin or .nqb") from None


def _describe(exc: BaseException) -> str:
    """``Type: message`` of a netqasm exception, saying so when netqasm gave no message."""
    text = str(exc).strip()
    if isinstance(exc, KeyError) and exc.args:
        text = f"unknown name {exc.args[0]!r}"
    if not text:
        text = "malformed operand or instruction (netqasm gave no detail)"
    if len(text) > 300:
        text = text[:300] + "…"
    return f"{type(exc).__name__}: {text}"


def _check_size(text: str) -> None:
    """Refuse texts netqasm would take unbounded time or memory on (see the module docstring)."""
    if len(text) > MAX_SOURCE_CHARS:
        raise ProgramError(f"NetQASM text of {len(text)} characters exceeds the limit of {MAX_SOURCE_CHARS}")
    for number, line in enumerate(text.split("\n"), 1):
        if len(line) > MAX_LINE_CHARS:
            raise ProgramError(f"line {number} of the NetQASM text is {len(line)} characters long "
                               f"(limit {MAX_LINE_CHARS})")
    if "$" in text:
        _check_macro_expansion(text)


def _check_macro_expansion(text: str) -> None:
    """Expand ``# DEFINE`` macros as netqasm does, refusing expansions beyond the size limits."""
    try:  # netqasm's own preamble reader, so the simulation cannot drift from the real expansion
        from netqasm.lang.parsing.text import _parse_preamble, _split_preamble_body
        from netqasm.lang.symbols import Symbols

        preamble, body_lines = _split_preamble_body(text)
        macros = _parse_preamble(preamble).get(Symbols.PREAMBLE_DEFINE, [])
    except Exception:  # a malformed preamble: the real parse reports it
        return
    body = "\n".join(body_lines)
    for operands in macros:
        if len(operands) != 2:
            return  # refused by the real parse
        key, value = operands[0], operands[1].strip(Symbols.PREAMBLE_DEFINE_BRACKETS)
        pattern = f"{Symbols.MACRO_START}{key}"
        size = len(body) + body.count(pattern) * (len(value) - len(pattern))
        if size > MAX_SOURCE_CHARS:
            raise ProgramError(f"macro ${key} expands the NetQASM text to {size} characters "
                               f"(limit {MAX_SOURCE_CHARS})")
        body = body.replace(pattern, value)
    for number, line in enumerate(body.split("\n"), 1):
        if len(line) > MAX_LINE_CHARS:
            raise ProgramError(f"body line {number} is {len(line)} characters long after macro expansion "
                               f"(limit {MAX_LINE_CHARS})")


def _locate(text: str, flavour: str) -> str:
    """`` at text line N `…``` (1-based, counting the preamble), the first line that fails to parse on
    its own (with the preamble and the label definitions), or ``""`` when no single line is at fault."""
    lines = text.split("\n")
    if len(lines) > _LOCATE_MAX_LINES:
        return ""
    fl = flavour_named(flavour)

    def code(line: str) -> str:
        return line.split("//")[0].strip()

    preamble: list[str] = []
    start = 0
    for start, line in enumerate(lines):  # noqa: B007 (where the loop stops is read below)
        if code(line) and not code(line).startswith("#"):
            break
        preamble.append(line)
    else:
        start = len(lines)
    head = "\n".join(preamble) + "\n"
    try:
        parse_text_subroutine(head, flavour=fl)
    except Exception:
        return " in the preamble (the lines starting with #)"
    labels = "\n".join(dict.fromkeys(code(line) for line in lines[start:] if code(line).endswith(":")))
    for number, line in enumerate(lines[start:], start + 1):
        stripped = code(line)
        if not stripped:
            continue
        probe = head + stripped + ("\n" if stripped.endswith(":") else "\n" + labels + "\n")
        try:
            parse_text_subroutine(probe, flavour=fl)
        except Exception:
            return f" at text line {number} `{stripped[:80]}`"
    return ""

"""Loading NetQASM subroutines with the netqasm package's own parsers (text and binary encodings)."""
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


def flavour_named(name: str) -> Flavour:
    """The netqasm flavour object for ``name`` (vanilla, nv, trapped_ion)."""
    try:
        return FLAVOURS[name]()
    except KeyError:
        raise ProgramError(f"unknown NetQASM flavour {name!r} (known: {', '.join(FLAVOURS)})") from None


def load_subroutine(source: ProgramSource, flavour: str = "vanilla") -> Subroutine:
    """Parse ``source`` into a netqasm ``Subroutine``.

    ``str`` is NetQASM text; ``bytes`` is the binary encoding (decoded with the given flavour); a
    ``Path`` is read as binary if it ends in ``.bin``/``.nqb`` and as text otherwise.
    """
    if isinstance(source, Subroutine):
        return source
    if isinstance(source, Path):
        if source.suffix in (".bin", ".nqb"):
            source = source.read_bytes()
        else:
            source = source.read_text()
    if isinstance(source, (bytes, bytearray)):
        try:
            return deserialize(bytes(source), flavour=flavour_named(flavour))
        except ProgramError:
            raise
        except Exception as exc:  # netqasm raises many kinds on corrupt input
            raise ProgramError(f"cannot decode binary NetQASM ({len(source)} bytes, flavour {flavour}): {exc}") from exc
    if isinstance(source, str):
        try:
            return parse_text_subroutine(source, flavour=flavour_named(flavour))
        except ProgramError:
            raise
        except Exception as exc:
            raise ProgramError(f"cannot parse NetQASM text: {type(exc).__name__}: {exc}") from exc
    raise ProgramError(f"a NetQASM program must be text, bytes, a path or a Subroutine, not {type(source).__name__}")


def encode_subroutine(subroutine: Subroutine, app_id: int = 0) -> bytes:
    """The binary encoding of ``subroutine`` (netqasm's own serialiser)."""
    if subroutine.app_id is None:
        subroutine.app_id = app_id
    return bytes(subroutine)

"""Declarative instrument parameters: unit, allowed values and SCPI command templates in one line.

A :class:`Parameter` is a descriptor on an instrument class, so ``mw.frequency = "2.87 GHz"``
validates (unit and range) *before* any I/O, and ``mw.frequency`` queries the instrument. As in
QCoDeS, the public :meth:`Parameter.get`/:meth:`Parameter.set` add validation and error context while
:meth:`Parameter.get_raw`/:meth:`Parameter.set_raw` only do I/O.

>>> Numbers(0, 10).describe("V")
'[0, 10] V'
>>> parse_quantity("2.87 GHz", "Hz")
2870000000.0
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from .base import VisaInstrument

_PREFIXES = {"p": -12, "n": -9, "u": -6, "µ": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12}
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S*)\s*$")


def parse_quantity(text: str, unit: str) -> float:
    """``"2.87 GHz"`` → 2.87e9 for unit ``Hz``; ``ValueError`` if the unit (or number) is wrong.

    A bare number is taken in ``unit``. SI prefixes convert between multiples of the same base unit
    (``"2500 uW"`` is 2.5 for ``mW``), except for logarithmic units (dB…), which take none.
    """
    m = _QUANTITY.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a number with an optional unit")
    number, given = float(m.group(1)), m.group(2)
    if given in ("", unit):
        return number
    if unit and not unit.startswith("dB") and not given.startswith("dB"):
        for p, pe in _PREFIXES.items():
            for q, qe in _PREFIXES.items():
                base = given[len(p):]
                if base and given.startswith(p) and unit == q + base:
                    shift = pe - qe  # one correctly rounded operation, so 750 mV is exactly 0.75 V
                    return number * 10**shift if shift >= 0 else number / 10**-shift
    raise ValueError(f"{text!r} has unit {given!r}, expected {unit or 'no unit'}")


class Validator:
    """Checks one value; :meth:`check` returns the value to send or raises ``ValueError(reason)``."""

    def check(self, value: Any) -> Any:
        raise NotImplementedError

    def describe(self, unit: str = "") -> str:
        raise NotImplementedError


def _g(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class Numbers(Validator):
    """A finite real number in ``[min_value, max_value]``."""

    min_value: float = -math.inf
    max_value: float = math.inf

    def check(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a number, got {type(value).__name__}")
        if not math.isfinite(value) or not self.min_value <= value <= self.max_value:
            raise ValueError("out of range")
        return float(value)

    def describe(self, unit: str = "") -> str:
        return f"[{_g(self.min_value)}, {_g(self.max_value)}]" + (f" {unit}" if unit else "")


@dataclass(frozen=True)
class Ints(Numbers):
    """An integer in ``[min_value, max_value]``."""

    def check(self, value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer, got {type(value).__name__}")
        if not self.min_value <= value <= self.max_value:
            raise ValueError("out of range")
        return value

    def describe(self, unit: str = "") -> str:
        return f"integers in [{_g(self.min_value)}, {_g(self.max_value)}]" + (f" {unit}" if unit else "")


@dataclass(frozen=True)
class Enum(Validator):
    """One of a fixed set of values."""

    values: tuple[Any, ...]

    def check(self, value: Any) -> Any:
        if value not in self.values:
            raise ValueError("not an allowed value")
        return value

    def describe(self, unit: str = "") -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Bool(Validator):
    """On/off (``True``/``False``, or 0/1)."""

    def check(self, value: Any) -> bool:
        if value in (0, 1) and not isinstance(value, float):
            return bool(value)
        raise ValueError("not a boolean")

    def describe(self, unit: str = "") -> str:
        return "True or False"


def parse_bool(text: str) -> bool:
    """Instrument on/off replies: ``1``/``0``/``ON``/``OFF``."""
    t = text.strip().upper()
    if t in ("1", "ON", "TRUE"):
        return True
    if t in ("0", "OFF", "FALSE"):
        return False
    raise ValueError(f"{text!r} is not an on/off reply")


class Parameter:
    """One settable/gettable instrument setting, declared as a class attribute.

    ``set_cmd``/``get_cmd`` are ``str.format`` templates (``"FREQ {:.3f}"``, ``"FREQ?"``); ``None``
    makes the parameter read- or write-only. ``parser`` turns a reply into a value.
    """

    def __init__(self, *, unit: str = "", get_cmd: str | None = None, set_cmd: str | None = None,
                 vals: Validator | None = None, parser: Callable[[str], Any] = float, doc: str = "") -> None:
        self.unit = unit
        self.get_cmd = get_cmd
        self.set_cmd = set_cmd
        self.vals = vals
        self.parser = parser
        self.__doc__ = doc
        self.name = "?"

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, inst: "VisaInstrument | None", owner: type) -> Any:
        if inst is None:
            return self
        return self.get(inst)

    def __set__(self, inst: "VisaInstrument", value: Any) -> None:
        self.set(inst, value)

    # -------------------------------------------------------------------------- public: checked
    def validate(self, inst: "VisaInstrument", value: Any) -> Any:
        """The value to send, or ``ValueError`` naming instrument, parameter, value and what is allowed."""
        shown = f"{value!r}"
        try:
            if isinstance(value, str) and not isinstance(self.vals, Enum):
                value = parse_quantity(value, self.unit)
            return self.vals.check(value) if self.vals is not None else value
        except ValueError as exc:
            allowed = self.vals.describe(self.unit) if self.vals is not None else self.unit
            raise ValueError(f"{inst.name}.{self.name}: {shown} rejected ({exc}); allowed: {allowed}") from None

    def set(self, inst: "VisaInstrument", value: Any) -> None:
        if self.set_cmd is None:
            raise AttributeError(f"{inst.name}.{self.name} is read-only")
        checked = self.validate(inst, value)
        inst.write(self.set_cmd.format(checked), context=f"setting {self.name} = {value!r}")

    def get(self, inst: "VisaInstrument") -> Any:
        if self.get_cmd is None:
            raise AttributeError(f"{inst.name}.{self.name} is write-only")
        reply = inst.ask(self.get_cmd, context=f"reading {self.name}")
        try:
            return self.parser(reply)
        except ValueError as exc:
            inst.raise_fault(self.get_cmd, f"unparsable reply {reply!r} for {self.name} ({exc})")

    # ------------------------------------------------------------------------------ raw: I/O only
    def set_raw(self, inst: "VisaInstrument", value: Any) -> None:
        if self.set_cmd is None:
            raise AttributeError(f"{inst.name}.{self.name} is read-only")
        inst._write_raw(self.set_cmd.format(value))

    def get_raw(self, inst: "VisaInstrument") -> Any:
        if self.get_cmd is None:
            raise AttributeError(f"{inst.name}.{self.name} is write-only")
        return self.parser(inst._ask_raw(self.get_cmd))


def parameters_of(cls: type) -> Sequence[Parameter]:
    """The :class:`Parameter` attributes of an instrument class (base classes first)."""
    seen: dict[str, Parameter] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, Parameter):
                seen[name] = value
    return tuple(seen.values())

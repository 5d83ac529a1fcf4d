"""Settings in physical units: any pint quantity, converted to the instrument's unit and range-checked.

:func:`quantity` makes a PyMeasure validator (``validator=quantity("Hz"), values=(lo, hi)``):

>>> check = quantity("rad")
>>> round(check("0.5 deg", (-3.2, 3.2)), 6)
0.008727
>>> check(ureg.Quantity(1, "MHz"), (0, 1))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: 1 megahertz is not in rad: Cannot convert from 'megahertz' ... to 'radian' (dimensionless)
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable

import pint
from pymeasure.units import ureg

__all__ = ["quantity", "to_unit", "ureg"]

_LEADING_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


def to_unit(value: Any, unit: str) -> float:
    """``value`` (a number in ``unit``, a pint quantity, or text such as ``"2.87 GHz"``) in ``unit``."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a quantity in {unit}")
    if isinstance(value, (int, float)):
        magnitude = float(value)
    else:
        if isinstance(value, str):
            match = _LEADING_NUMBER.match(value)
            if match is None:
                raise ValueError(f"{value!r} is not a number with an optional unit")
            number, given = match.groups()
            try:
                value = ureg.Quantity(float(number), given or unit)  # number and unit apart: dBm works too
            except pint.errors.UndefinedUnitError as exc:
                raise ValueError(f"{value!r}: {exc}") from None
        if not isinstance(value, pint.Quantity):
            raise ValueError(f"{value!r} is not a quantity in {unit}")
        try:
            magnitude = float(value.to(unit).magnitude)
        except (pint.errors.DimensionalityError, pint.errors.OffsetUnitCalculusError) as exc:
            raise ValueError(f"{value} is not in {unit}: {exc}") from None
    if not math.isfinite(magnitude):
        raise ValueError(f"{value!r} is not a finite number of {unit}")
    return magnitude


def quantity(unit: str, *, integer: bool = False) -> Callable[[Any, tuple[float, float]], float]:
    """A PyMeasure validator: the value in ``unit`` (a whole number if ``integer``) within ``values``."""

    def validate(value: Any, values: tuple[float, float]) -> float:
        magnitude = to_unit(value, unit)
        if integer:
            if not float(magnitude).is_integer():
                raise ValueError(f"{value!r} is not a whole number of {unit}")
            magnitude = int(magnitude)
        lo, hi = values
        if not lo <= magnitude <= hi:
            raise ValueError(f"{value!r} is outside the allowed [{lo:g}, {hi:g}] {unit}")
        return magnitude

    return validate

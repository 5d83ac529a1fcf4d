"""What the commands share for their output: strict JSON of results, option values checked by
argparse, and output paths checked before a run starts (a bad path must not cost the results)."""
from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

from . import CommandError


def jsonable(value: Any) -> Any:
    """``value`` as strict JSON data: numpy values become Python ones, non-finite floats the strings
    "nan"/"inf"/"-inf", complex numbers ``{"re": .., "im": ..}``, anything else unknown its ``repr``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, complex):
        return {"re": jsonable(value.real), "im": jsonable(value.imag)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return jsonable(value.tolist())
    return repr(value)


def dumps(document: Any) -> str:
    """One strict JSON document (no NaN/Infinity literals), for ``--json`` output."""
    return json.dumps(jsonable(document), indent=1, allow_nan=False)


def finite_non_negative(text: str) -> float:
    """argparse type: a finite number >= 0 (``nan`` and ``inf`` are refused by name)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number >= 0")
    return value


def positive_seconds(text: str) -> float:
    """argparse type: a finite time-out > 0 in seconds."""
    value = finite_non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 seconds")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def check_writable(path: Path, option: str) -> None:
    """Refuse ``path`` unless a file can be written there; leaves no file behind that was not there."""
    if path.is_dir():
        raise CommandError(f"{option} {path}: is a directory")
    existed = path.exists()
    try:
        with open(path, "a"):
            pass
    except OSError as exc:
        raise CommandError(f"{option} {path}: cannot write there ({exc.strerror or exc})") from None
    if not existed:
        try:
            os.unlink(path)
        except OSError:
            pass

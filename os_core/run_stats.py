"""Statistics over repeated runs of an application (a job's runs; ``qnodeos run APP_DIR --num N``):
for each quantity an application returns (``role.key``, nested dicts flattened with dots), the mean
and its standard error if it is a number, and a histogram of outcomes if it takes few distinct values
(measurement outcomes, corrections, booleans).

Only runs without errors count: a failed run's partial results would bias the mean. The standard
error is the sample standard deviation (n − 1) over √n; with one run it is undefined (``None``).
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any, Iterable, Mapping

#: A quantity with more distinct values than this gets no histogram (it is continuous, or an id).
MAX_CATEGORIES = 32
#: Longest text outcome counted in a histogram.
MAX_LABEL = 64


def flatten(results: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``results`` with nested mappings flattened, their keys joined with dots after ``prefix``:
    ``{"receiver": {"fidelity": 0.9}}`` -> ``{"receiver.fidelity": 0.9}`` (lists and others kept whole)."""
    out: dict[str, Any] = {}
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and not _is_complex(value):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _is_complex(value: Mapping[str, Any]) -> bool:
    return set(value) == {"re", "im"}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _category(value: Any) -> str | None:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and len(value) <= MAX_LABEL:
        return value
    if value is None:
        return "null"
    return None


def mean_and_error(values: list[float]) -> tuple[float, float | None]:
    """The mean of ``values`` and its standard error (sample standard deviation over √n; None for one value)."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(variance / n)


def aggregate(runs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``runs``: each with ``ok`` and ``results`` (role -> return value). See the module docstring."""
    total = ok = 0
    samples: dict[str, list[Any]] = {}
    for run in runs:
        total += 1
        if not run.get("ok"):
            continue
        ok += 1
        for name, value in flatten(run.get("results") or {}).items():
            samples.setdefault(name, []).append(value)
    quantities: dict[str, Any] = {}
    for name, values in sorted(samples.items()):
        entry: dict[str, Any] = {"n": len(values)}
        numbers = [x for x in (_number(v) for v in values) if x is not None]
        if numbers and len(numbers) == len(values):
            entry["mean"], entry["std_error"] = mean_and_error(numbers)
        labels = [label for label in map(_category, values) if label is not None]
        if len(labels) == len(values):
            counts = Counter(labels)
            if len(counts) <= MAX_CATEGORIES:
                entry["histogram"] = dict(sorted(counts.items(), key=lambda kv: _sort_key(kv[0])))
        if len(entry) > 1:
            quantities[name] = entry
    return {"runs": total, "ok_runs": ok, "failed_runs": total - ok, "quantities": quantities}


def _sort_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)

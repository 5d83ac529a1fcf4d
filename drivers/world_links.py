"""The physics of each link of a mock world: the platform's own link, adjusted, or a link of its own.

A link between two nodes of one platform starts from the link its first node's configuration implies
(:meth:`MockNVDevice.link_params_of <qnodeos.drivers.mock_nv.MockNVDevice.link_params_of>`) and takes
overrides of any :class:`~qnodeos.drivers.link_physics.LinkParams` field. A *heterogeneous* link — an NV
centre and a trapped ion meeting at one heralding station through a photonic interface (frequency
conversion to a common wavelength) — has no platform default to start from: neither device's own
link describes it, so it must bring its own heralding parameters, and one without them is refused,
naming the link and what is missing.

>>> link = link_params(("alice", "bob"), ("nv", "trapped_ion"), {"scheme": "double-click",
...     "detection_efficiency": 0.01, "dark_count_probability": 0.0, "visibility": 0.9,
...     "attempt_duration_ns": 10_000})
>>> round(link.fidelity, 3), link.success_probability
(0.95, 5e-05)
"""
from __future__ import annotations

import dataclasses
from dataclasses import replace
from typing import Any, Mapping

from qnodeos.hal.errors import ConfigError

from .link_physics import DeliveredPair, LinkParams

#: What a heterogeneous link must state: how it heralds and its optics (the rest has defaults).
HERALDING_KEYS = ("scheme", "detection_efficiency", "dark_count_probability", "visibility", "attempt_duration_ns")
#: Every field a link's physics may set.
LINK_KEYS = tuple(f.name for f in dataclasses.fields(LinkParams))
_TYPES = {f.name: str(f.type) for f in dataclasses.fields(LinkParams)}


def link_name(nodes: tuple[str, str]) -> str:
    return f"{nodes[0]}-{nodes[1]}"


def link_params(nodes: tuple[str, str], platforms: tuple[str, str], overrides: Mapping[str, Any],
                base: LinkParams | None = None) -> LinkParams:
    """The physics of the link between ``nodes`` (first node's side first, as in :class:`LinkParams`).

    ``platforms``: each end's platform (``nv`` / ``trapped_ion``); ``base``: the first node's own link
    (required when both ends share a platform); ``overrides``: LinkParams fields, ``delivered`` as a
    :class:`DeliveredPair` or a table ``{kind, fidelity}``. Raises :class:`ConfigError` naming the link.
    """
    name = link_name(nodes)
    values = checked_overrides(name, overrides)
    try:
        if _family(platforms[0]) != _family(platforms[1]):
            missing = [k for k in HERALDING_KEYS if k not in values]
            if missing:
                raise ConfigError(
                    f"link {name} joins {_a(platforms[0])} node and {_a(platforms[1])} node: a heterogeneous link "
                    f"needs its own heralding parameters (missing: {', '.join(missing)})")
            return LinkParams(**values)
        if base is None:
            raise ConfigError(f"link {name}: no platform link to start from")
        return replace(base, **values)
    except ConfigError as exc:
        text = str(exc)
        raise ConfigError(text if text.startswith(f"link {name}") else f"link {name}: {text}") from None


def checked_overrides(name: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides`` with names and value types checked (so that LinkParams' own range checks apply)."""
    unknown = sorted(k for k in overrides if k not in LINK_KEYS)
    if unknown:
        raise ConfigError(f"link {name}: unknown link parameter(s) {unknown} (known: {', '.join(LINK_KEYS)})")
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        kind = _TYPES[key]
        if key == "delivered":
            try:
                out[key] = DeliveredPair.from_value(value)
            except ConfigError as exc:
                raise ConfigError(f"link {name}: delivered: {exc}") from None
            continue
        if value is None and "None" in kind:
            out[key] = None
            continue
        if kind.startswith("str"):
            ok = isinstance(value, str)
        elif kind.startswith("int"):
            ok = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
            value = int(value) if ok else value
        else:
            ok = isinstance(value, (int, float))
            value = float(value) if ok and not isinstance(value, bool) else value
        if isinstance(value, bool) or not ok:
            want = "a string" if kind.startswith("str") else ("an integer" if kind.startswith("int") else "a number")
            raise ConfigError(f"link {name}: {key}={value!r} must be {want}")
        out[key] = value
    return out


def _a(platform: str) -> str:
    return {"nv": "an NV", "trapped_ion": "a trapped-ion", "ion": "a trapped-ion"}.get(platform, f"a {platform}")


def _family(platform: str) -> str:
    return "trapped_ion" if platform in ("ion", "trapped_ion") else platform

"""How long things take between machines: classical links, host ↔ QNPU, and the network schedule.

A simulated network lives through these delays on its device clocks (qubits decohere while a node
waits), so they are configuration, not whatever Python's speed happens to be. Defaults:

* **host ↔ QNPU**: 1.0 ms per subroutine submission and 1.0 ms per result. [derived] QNodeOS (Delle
  Donne et al., Nature 639, 321 (2025)) reports that in its delegated-computation runs the server's
  qubit waited 3.2–4.2 ms between its two subroutines (result to the host, the client's message, the
  next subroutine) and an end-to-end latency of about 4.8 ms; 1.0 + 1.2 + 1.0 ms plus the client's
  short subroutine lands in that range.
* **node ↔ node classical messages**: fibre length × 5 µs/km (light in glass, refractive index
  ≈ 1.47) plus 1.2 ms of processing and transport between the nodes' computers [derived, as above].
  The default length is 2 m (Humphreys et al., Nature 558, 268 (2018): nodes 2 m apart).
* **network schedule**: bins of 1 ms; half of each node's time goes to entanglement generation, the
  rest to local processes; a node's bins are shared evenly among its links (see
  :meth:`qnodeos.hal.timeline.NetworkSchedule.fair`). [chosen] QNodeOS runs entanglement in network
  time bins; the bin length is a design choice, not a published figure.
* **entanglement cut-off**: pairs the OS holds for an application are discarded (on both nodes) and
  regenerated once their estimated fidelity drops below the request's minimum (the EPR socket's
  ``min_fidelity``, or ``min_fidelity`` here), or once older than ``max_pair_age_ns``; a request
  gives up after ``max_discards`` discards per pair asked for.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from qnodeos.hal.errors import ConfigError

NS_PER_KM = 5_000  # light in fibre: about 5 µs per km


@dataclass(frozen=True)
class HostLatency:
    """An application host (CNPU) talking to its QNPU."""

    submit_ns: int = 1_000_000  # host -> QNPU, per subroutine (and per register/socket/close message)
    result_ns: int = 1_000_000  # QNPU -> host, per result
    processing_ns: int = 0  # host computation before each submission (optional model)


@dataclass(frozen=True)
class LinkLatency:
    """Classical messages between two nodes: fibre plus processing."""

    length_km: float = 0.002
    processing_ns: int = 1_200_000

    @property
    def one_way_ns(self) -> int:
        return int(round(self.length_km * NS_PER_KM)) + self.processing_ns


@dataclass(frozen=True)
class NetworkTiming:
    """Every delay of a network, with per-node and per-link overrides."""

    host: HostLatency = field(default_factory=HostLatency)
    link: LinkLatency = field(default_factory=LinkLatency)
    hosts: Mapping[str, HostLatency] = field(default_factory=dict)  # per node
    links: Mapping[frozenset, LinkLatency] = field(default_factory=dict)  # per node pair
    bin_ns: int = 1_000_000
    duty: float = 0.5
    min_fidelity: float = 0.0
    max_pair_age_ns: float = math.inf
    max_discards: int = 10

    def __post_init__(self) -> None:
        for name in ("submit_ns", "result_ns", "processing_ns"):
            for where, lat in [("host", self.host), *((f"hosts[{k}]", v) for k, v in self.hosts.items())]:
                _non_negative_int(f"{where}.{name}", getattr(lat, name))
        for where, link in [("link", self.link), *((f"links[{sorted(k)}]", v) for k, v in self.links.items())]:
            km = link.length_km
            if not (isinstance(km, (int, float)) and math.isfinite(km) and km >= 0):
                raise ConfigError(f"network timing: {where}.length_km={km!r} must be a finite number >= 0")
            _non_negative_int(f"{where}.processing_ns", link.processing_ns)
        if isinstance(self.bin_ns, bool) or not isinstance(self.bin_ns, int) or self.bin_ns < 1:
            raise ConfigError(f"network timing: bin_ns={self.bin_ns!r} must be a positive integer")
        if not (isinstance(self.duty, (int, float)) and 0 < self.duty <= 1):
            raise ConfigError(f"network timing: duty={self.duty!r} must be in (0, 1]")
        if not (isinstance(self.min_fidelity, (int, float)) and 0 <= self.min_fidelity <= 1):
            raise ConfigError(f"network timing: min_fidelity={self.min_fidelity!r} must be in [0, 1]")
        if not (isinstance(self.max_pair_age_ns, (int, float)) and self.max_pair_age_ns > 0):
            raise ConfigError(f"network timing: max_pair_age_ns={self.max_pair_age_ns!r} must be > 0")
        _non_negative_int("max_discards", self.max_discards)

    def host_of(self, node: str) -> HostLatency:
        return self.hosts.get(node, self.host)

    def classical_ns(self, a: str, b: str) -> int:
        """One-way classical latency between nodes ``a`` and ``b`` (0 within one node)."""
        if a == b:
            return 0
        return self.links.get(frozenset((a, b)), self.link).one_way_ns

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "NetworkTiming":
        """From a plain mapping (a TOML/YAML table): ``host_submit_ns``, ``host_result_ns``,
        ``host_processing_ns``, ``link_length_km``, ``link_processing_ns``, ``bin_ns``, ``duty``,
        ``min_fidelity``, ``max_pair_age_ns``, ``max_discards``; unknown keys are refused by name."""
        known = {"host_submit_ns", "host_result_ns", "host_processing_ns", "link_length_km", "link_processing_ns",
                 "bin_ns", "duty", "min_fidelity", "max_pair_age_ns", "max_discards"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"network timing: unknown key(s) {unknown} (known: {sorted(known)})")
        base = cls()
        host = replace(base.host, **{k[5:]: data[k] for k in ("host_submit_ns", "host_result_ns",
                                                               "host_processing_ns") if k in data})
        link = replace(base.link, **{k[5:]: data[k] for k in ("link_length_km", "link_processing_ns") if k in data})
        rest = {k: data[k] for k in ("bin_ns", "duty", "min_fidelity", "max_pair_age_ns", "max_discards") if k in data}
        return cls(host=host, link=link, **rest)


def _non_negative_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"network timing: {name}={value!r} must be a non-negative integer (ns)")


#: Everything instantaneous: what the previous, timeline-less runtime did (useful in tests).
INSTANT = NetworkTiming(host=HostLatency(0, 0, 0), link=LinkLatency(0.0, 0))

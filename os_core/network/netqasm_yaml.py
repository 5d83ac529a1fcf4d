"""netqasm's ``network.yaml`` as a qnodeos :class:`~qnodeos.network.spec.NetworkSpec`, where it maps
onto the mock physics; one line naming the file and the field where it does not.

The format is the one ``netqasm.runtime.interface.config.parse_network_config`` reads: ``nodes`` (name,
``hardware`` NV / TrappedIon / Generic, ``qubits`` with id, ``t1`` and ``t2`` in ns — 0 means no decay —
and ``gate_fidelity``) and ``links`` (name, ``node_name1``, ``node_name2``, ``noise_type`` NoNoise /
Depolarise / DiscreteDepolarise / Bitflip, ``fidelity``). The mapping:

* **hardware** NV -> ``mock-nv``; TrappedIon -> ``mock-trapped-ion``; Generic (or none) -> the run's
  platform (``--platform``): Generic means "whatever the simulator offers".
* **qubits**: their number is the device's size (NV: qubit 0 the electron, the others carbons; ions:
  one per qubit). T1/T2 become the device's coherence times (0 -> infinite). The mock NV holds one
  T1/T2 for the electron and one for all carbons, an ion string one for all ions: a node whose
  qubits differ beyond that is refused (which qubit, which value).
* **gate_fidelity** F is read as the *average gate fidelity* of every native gate, the figure labs
  report from randomised benchmarking; the mocks' gate error is a depolarising probability p
  (rho -> (1-p) U rho U^+ + p I/d), whose average fidelity is 1 - p (d-1)/d, so one-qubit rotations get
  p = 2 (1-F) and two-qubit gates (NV electron-carbon, ions' Molmer-Sorensen) p = 4/3 (1-F). Initialisation
  and readout keep the preset's values (network.yaml says nothing about them). F < 1/2 is refused.
* **links**: the delivered pair (:class:`~qnodeos.drivers.link_physics.DeliveredPair`) of fidelity F to
  the heralded Bell state — NoNoise: F = 1; Depolarise and DiscreteDepolarise: a Werner state (they
  differ in NetSquid only in whether the noise is drawn per pair or mixed in, which gives the same
  density matrix); Bitflip: one qubit flipped with probability 1 - F. The success probability and the
  timing are the mock link's own (netqasm's format has none). Only the listed pairs are linked; a pair
  listed in both directions must agree. (NetSquid-based netqasm backends read a Depolarise
  ``fidelity`` as one minus the weight of the fully mixed state, whose Bell fidelity is (1 + 3F)/4;
  qnodeos reads it as the delivered pair's fidelity, which is what the name says.)
* A link between an NV node and a trapped-ion node is refused: a heterogeneous link needs heralding
  parameters that network.yaml cannot give (describe such a network in a qnodeos network TOML).

Everything network.yaml does not describe (durations, init and readout errors, the link's success
probability, the timing of the network) comes from the run's preset and defaults.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

from .spec import LinkSpec, NetworkSpec, NetworkSpecError, NodeSpec

HARDWARE = {"NV": "mock-nv", "TrappedIon": "mock-trapped-ion"}
PLATFORM_DRIVER = {"nv": "mock-nv", "trapped_ion": "mock-trapped-ion"}
NOISE = {"NoNoise": "werner", "Depolarise": "werner", "DiscreteDepolarise": "werner", "Bitflip": "bitflip"}
#: Most qubits a mock device holds (NV: electron + 8 carbons; ions: 8).
MAX_QUBITS = {"mock-nv": 9, "mock-trapped-ion": 8}


def load_netqasm_network(path: str | Path, *, platform: str = "nv") -> NetworkSpec:
    """Read and translate ``path`` (see the module docstring); Generic nodes take ``platform``."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NetworkSpecError(f"network file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NetworkSpecError(f"cannot read network file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise NetworkSpecError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    return translate(data, source=str(path), platform=platform)


def translate(data: Any, source: str = "network.yaml", platform: str = "nv") -> NetworkSpec:
    """A parsed network.yaml (a mapping) as a NetworkSpec, refusing what the mocks cannot hold."""
    if platform not in PLATFORM_DRIVER:
        raise NetworkSpecError(f"{source}: unknown platform {platform!r} for Generic nodes (nv or trapped_ion)")
    err = _Errors(source)
    if not isinstance(data, Mapping):
        raise err("", "expected a mapping with nodes and links (netqasm's network.yaml format)")
    for key in ("nodes", "links"):
        if not isinstance(data.get(key), list):
            raise err(key, f"expected a list, got {data.get(key)!r} (netqasm's network.yaml format)")
    nodes: dict[str, NodeSpec] = {}
    for i, node in enumerate(data["nodes"]):
        spec = _node(err, f"nodes[{i}]", node, platform)
        if spec.name in nodes:
            raise err(f"nodes[{i}].name", f"node {spec.name!r} is listed twice")
        nodes[spec.name] = spec
    links: dict[frozenset[str], tuple[str, LinkSpec, tuple[str, float]]] = {}
    for i, link in enumerate(data["links"]):
        at = f"links[{i}]"
        _keys(err, at, link, ("name", "node_name1", "node_name2", "noise_type", "fidelity"))
        a, b = (_text(err, f"{at}.{k}", link[k]) for k in ("node_name1", "node_name2"))
        for k, end in (("node_name1", a), ("node_name2", b)):
            if end not in nodes:
                raise err(f"{at}.{k}", f"no node {end!r} (nodes: {list(nodes)})")
        if a == b:
            raise err(f"{at}.node_name2", f"a link joins two different nodes, not {a!r} with itself")
        noise = link["noise_type"]
        if noise not in NOISE:
            raise err(f"{at}.noise_type", f"{noise!r} is not one of {', '.join(NOISE)}")
        fidelity = 1.0 if noise == "NoNoise" else _number(err, f"{at}.fidelity", link["fidelity"], 0.0, 1.0)
        if nodes[a].platform != nodes[b].platform:
            raise err(at, f"link {a}-{b} joins a {nodes[a].driver} node and a {nodes[b].driver} node: a "
                          "heterogeneous link needs heralding parameters that network.yaml cannot give (describe "
                          "this network in a qnodeos network TOML)")
        physics = {"delivered": {"kind": NOISE[noise], "fidelity": fidelity}}
        pair = frozenset((a, b))
        if pair in links:
            first_at, _, first = links[pair]
            if first != (NOISE[noise], fidelity):
                raise err(at, f"link {a}-{b} is also {first_at}, with other noise ({first[0]} {first[1]:g})")
            continue
        links[pair] = (at, LinkSpec((a, b), physics), (NOISE[noise], fidelity))
    return NetworkSpec(nodes, tuple(spec for _, spec, _ in links.values()), None, source)


def _node(err: "_Errors", at: str, node: Any, platform: str) -> NodeSpec:
    _keys(err, at, node, ("name", "qubits", "gate_fidelity"), optional=("hardware",))
    name = _text(err, f"{at}.name", node["name"])
    at = f"{at} ({name})"
    hardware = node.get("hardware", "Generic")
    if hardware == "Generic":
        driver = PLATFORM_DRIVER[platform]
    elif hardware in HARDWARE:
        driver = HARDWARE[hardware]
    else:
        raise err(f"{at}.hardware", f"{hardware!r} is not one of NV, TrappedIon, Generic")
    qubits = node["qubits"]
    if not isinstance(qubits, list) or not qubits:
        raise err(f"{at}.qubits", f"expected a list of qubits, got {qubits!r}")
    if len(qubits) > MAX_QUBITS[driver]:
        raise err(f"{at}.qubits", f"{len(qubits)} qubits; the {driver} mock holds at most {MAX_QUBITS[driver]}")
    times: dict[int, tuple[float, float]] = {}
    for j, qubit in enumerate(qubits):
        q_at = f"{at}.qubits[{j}]"
        _keys(err, q_at, qubit, ("id", "t1", "t2"))
        qid = qubit["id"]
        if isinstance(qid, bool) or not isinstance(qid, int) or not 0 <= qid < len(qubits) or qid in times:
            raise err(f"{q_at}.id", f"{qid!r}: ids must be 0 .. {len(qubits) - 1}, each once")
        t1, t2 = (_number(err, f"{q_at}.{k}", qubit[k], 0.0, math.inf) or math.inf for k in ("t1", "t2"))  # 0: none
        if t2 > 2 * t1:
            raise err(f"{q_at}.t2", f"{t2:g} exceeds 2*t1 = {2 * t1:g} (coherence cannot outlive twice the lifetime)")
        times[qid] = (t1, t2)
    f = _number(err, f"{at}.gate_fidelity", node["gate_fidelity"], 0.0, 1.0)
    if f < 0.5:
        raise err(f"{at}.gate_fidelity", f"{f:g} is below 1/2, the average fidelity of a fully depolarising gate")
    one, two = 2.0 * (1.0 - f), 4.0 / 3.0 * (1.0 - f)
    if driver == "mock-nv":
        config: dict[str, Any] = {"carbons": len(qubits) - 1, "electron_t1_ns": times[0][0],
                                  "electron_t2_ns": times[0][1], "electron_gate_error": one,
                                  "carbon_gate_error": one, "ec_gate_error": two}
        if len(qubits) > 1:
            config["carbon_t1_ns"], config["carbon_t2_ns"] = _shared(err, at, times, range(1, len(qubits)),
                                                                     "the mock NV holds one T1/T2 for all carbons")
    else:
        config = {"ions": len(qubits), "gate_error": one, "ms_gate_error": two}
        config["t1_ns"], config["t2_ns"] = _shared(err, at, times, range(len(qubits)),
                                                   "the mock ion string holds one T1/T2 for all ions")
    return NodeSpec(name, driver, config)


def _shared(err: "_Errors", at: str, times: dict[int, tuple[float, float]], ids: range, why: str) -> tuple[float, float]:
    first = times[ids[0]]
    for q in ids:
        for k, (mine, theirs) in enumerate(zip(times[q], first)):
            if mine != theirs:
                name = ("t1", "t2")[k]
                raise err(f"{at}.qubits[id {q}].{name}", f"{_ns(mine)} differs from qubit {ids[0]}'s {_ns(theirs)}: {why}")
    return first


def _ns(v: float) -> str:
    return "0 (no decay)" if math.isinf(v) else f"{v:g}"


def _keys(err: "_Errors", at: str, value: Any, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    if not isinstance(value, Mapping):
        raise err(at, f"expected a mapping, got {value!r}")
    missing = [k for k in required if k not in value]
    if missing:
        raise err(at, f"missing key(s) {missing}")
    unknown = sorted(set(value) - set(required) - set(optional))
    if unknown:
        raise err(at, f"unknown key(s) {unknown} (known: {', '.join(required + optional)})")


def _text(err: "_Errors", at: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise err(at, f"expected a name, got {value!r}")
    return value


def _number(err: "_Errors", at: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, str):  # YAML 1.1 reads 1e6 (no dot) as text; netqasm's own files write it so
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or not lo <= value <= hi:
        raise err(at, f"{value!r} must be a number in [{lo:g}, {hi:g}]")
    return float(value)


class _Errors:
    def __init__(self, source: str) -> None:
        self.source = source

    def __call__(self, at: str, message: str) -> NetworkSpecError:
        return NetworkSpecError(f"{self.source}: {at}: {message}" if at else f"{self.source}: {message}")

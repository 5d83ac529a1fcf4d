"""Network specifications: the qnodeos network TOML, netqasm's network.yaml, heterogeneous links and
the delivered-pair override, each against an analytical or independent numpy result; every refusal is
one line naming the file and the field."""
from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

from qnodeos.drivers.heralding import HeraldingStation
from qnodeos.drivers.link_physics import DeliveredPair, LinkParams
from qnodeos.drivers.mock_ion import MockIonDevice
from qnodeos.drivers.mock_network import build_mock_world
from qnodeos.drivers.mock_nv import MockNVDevice, carbon_coherence_per_attempt
from qnodeos.drivers.state_space import SharedStateSpace
from qnodeos.hal import Axis, BellState, ConfigError, EntangleAttempt, Init, MolmerSorensen, Rotate, Status
from qnodeos.network.netqasm_yaml import translate
from qnodeos.network.spec import NetworkSpec, NetworkSpecError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "networks" / "nv_ion.toml"
X = np.array([[0, 1], [1, 0]], dtype=complex)
I2 = np.eye(2, dtype=complex)
KETS = {BellState.PHI_PLUS: [1, 0, 0, 1], BellState.PHI_MINUS: [1, 0, 0, -1],
        BellState.PSI_PLUS: [0, 1, 1, 0], BellState.PSI_MINUS: [0, 1, -1, 0]}
MIXED = {"scheme": "double-click", "detection_efficiency": 0.02, "peer_detection_efficiency": 0.05,
         "dark_count_probability": 0.0, "visibility": 0.9, "attempt_duration_ns": 20_000}


def bell(b: BellState) -> np.ndarray:
    ket = np.array(KETS[b], dtype=complex) / math.sqrt(2)
    return np.outer(ket, ket.conj())


# ===================================================================================== delivered pair
@pytest.mark.parametrize("b", [BellState.PSI_PLUS, BellState.PSI_MINUS])
@pytest.mark.parametrize("f", [1.0, 0.9, 0.5, 0.1, 0.0])
def test_delivered_pairs_are_the_werner_and_bit_flipped_states_of_that_fidelity(b, f):
    base = LinkParams("double-click", 0.3, 1e-4, 0.8, 10_000)
    target = bell(b)
    others = [bell(o) for o in BellState if o is not b]
    flipped = np.kron(X, I2) @ target @ np.kron(X, I2)
    for kind, expected in (("werner", f * target + (1 - f) / 3 * sum(others)),
                           ("bitflip", f * target + (1 - f) * flipped)):
        link = LinkParams("double-click", 0.3, 1e-4, 0.8, 10_000, delivered=DeliveredPair(kind, f))
        rho = link.heralded_state(b)
        assert np.allclose(rho, expected, atol=1e-12)
        assert np.real(np.trace(target @ rho)) == pytest.approx(f)
        assert np.linalg.eigvalsh(rho).min() > -1e-12 and np.trace(rho) == pytest.approx(1)
        assert link.success_probability == base.success_probability  # only the state changes
        assert link.mean_pair_time_ns == base.mean_pair_time_ns
        assert link.fidelity == pytest.approx(f)


def test_a_werner_pair_is_the_depolarised_bell_state():
    """Werner F = Bell state through the fully mixed state with weight (4/3)(1-F)."""
    f = 0.7
    w = (4 * f - 1) / 3
    rho = DeliveredPair("werner", f).state(BellState.PSI_MINUS)
    assert np.allclose(rho, w * bell(BellState.PSI_MINUS) + (1 - w) * np.eye(4) / 4)


@pytest.mark.parametrize("value, why", [({"kind": "dephase", "fidelity": 0.9}, "kind"),
                                        ({"kind": "werner", "fidelity": 1.5}, "fidelity"),
                                        ({"kind": "werner"}, "missing"), ({"kind": "werner", "fidelity": 1, "x": 1}, "unknown")])
def test_bad_delivered_pairs_are_refused(value, why):
    with pytest.raises(ConfigError, match=why):
        DeliveredPair.from_value(value)


def test_the_station_hands_over_the_delivered_pair():
    """Through the devices: what both qubits hold after a herald is the override for that Bell state."""
    space = SharedStateSpace(seed=0)
    a = MockIonDevice.from_config(node="alice", seed=1, preset="ideal", state_space=space)
    b = MockIonDevice.from_config(node="bob", seed=2, preset="ideal", state_space=space)
    link = LinkParams("double-click", 0.5, 0.0, 1.0, 10_000, delivered=DeliveredPair("bitflip", 0.8))
    HeraldingStation(a, b, link, seed=3, sync_timeout_s=2.0)
    (ra, rb), = _attempts(a, b, 1, 10_000)
    assert ra.status is Status.ENTANGLED and ra.bell_state == rb.bell_state
    rho = space.density_matrix([a.state_handle(0), b.state_handle(0)])
    assert np.allclose(rho, link.heralded_state(ra.bell_state), atol=1e-9)


def _attempts(a, b, rounds, max_attempts):
    out_b = []
    t = threading.Thread(target=lambda: out_b.extend(b.execute(EntangleAttempt(0, a.node, max_attempts))
                                                     for _ in range(rounds)), daemon=True)
    t.start()
    out_a = [a.execute(EntangleAttempt(0, b.node, max_attempts)) for _ in range(rounds)]
    t.join(10)
    assert not t.is_alive()
    return list(zip(out_a, out_b))


# ================================================================================ heterogeneous links
def test_a_heterogeneous_link_without_heralding_parameters_is_refused_by_name():
    with pytest.raises(ConfigError) as err:
        build_mock_world({"alice": "mock-nv", "bob": "mock-trapped-ion"}, ["alice", "bob"], seed=1)
    assert "link alice-bob" in str(err.value) and "heterogeneous" in str(err.value)
    assert "detection_efficiency" in str(err.value)
    with pytest.raises(ConfigError, match="missing: visibility"):
        build_mock_world({"alice": "nv", "bob": "trapped_ion"}, ["alice", "bob"],
                         link_config={("alice", "bob"): {k: v for k, v in MIXED.items() if k != "visibility"}})


def test_a_heterogeneous_link_delivers_its_own_state_between_an_nv_and_an_ion():
    """The NV electron and an ion share the link's double-click state (closed form: (1+V)/2 |B><B| +
    (1-V)/2 |B'><B'|), in the order of the link as configured; the schedule attempts at its rate."""
    world = build_mock_world({"alice": "mock-nv", "bob": "mock-trapped-ion"}, ["alice", "bob"], seed=4,
                             preset="ideal", link_config={("bob", "alice"): MIXED})
    station = world.stations[("alice", "bob")]
    # configured from bob's side: bob's efficiency is 0.02, alice's 0.05; the station holds alice first
    assert station.params.efficiencies == (0.05, 0.02)
    assert station.params.success_probability == pytest.approx(0.05 * 0.02 / 2)
    assert world.schedule.of("alice", "bob").attempt_ns == 20_000
    v = 0.9
    expected = (1 + v) / 2 * bell(BellState.PSI_PLUS) + (1 - v) / 2 * bell(BellState.PSI_MINUS)
    assert np.allclose(station.params.heralded_state(BellState.PSI_PLUS), expected, atol=1e-12)
    assert world.devices["alice"].capabilities.platform.value == "nv"
    assert world.devices["bob"].capabilities.platform.value == "trapped_ion"


def test_nv_carbons_dephase_with_the_bright_population_of_the_link_they_attempt_on():
    """A carbon of an NV node on a double-click link loses coherence per attempt by the link's two
    excitation rounds at 1/2 (not by its own single-click alpha)."""
    space = SharedStateSpace(seed=0)
    nv = MockNVDevice.from_config(node="alice", seed=1, preset="ideal", state_space=space, carbons=1,
                                  carbon_phase_per_reset_rad=0.3, alpha=0.05)
    ion = MockIonDevice.from_config(node="bob", seed=2, preset="ideal", state_space=space)
    link = LinkParams(**{**MIXED, "detection_efficiency": 1e-9, "peer_detection_efficiency": 1e-9})
    HeraldingStation(nv, ion, link, seed=3, sync_timeout_s=2.0)
    nv.execute(Init(1)).raise_for_status()
    nv.execute(Rotate(1, Axis.Y, math.pi / 2)).raise_for_status()  # carbon in |+>
    (ra, _), = _attempts(nv, ion, 1, 50)
    assert ra.attempts == 50 and ra.status is Status.ENT_FAILURE
    coherence = 2 * abs(nv.density_matrix([1])[0, 1])
    assert coherence == pytest.approx(carbon_coherence_per_attempt((0.5, 0.5), 0.3) ** 50, rel=1e-9)
    assert coherence != pytest.approx(carbon_coherence_per_attempt((0.05,), 0.3) ** 50, rel=1e-3)


# ================================================================================= the network TOML
def test_the_example_network_file_loads_and_builds_its_world():
    spec = NetworkSpec.load(EXAMPLE)
    assert {n: (s.driver, s.platform) for n, s in spec.nodes.items()} == {
        "alice": ("mock-nv", "nv"), "bob": ("mock-trapped-ion", "trapped_ion")}
    assert spec.timing is not None and spec.timing.link.length_km == 0.002
    world = build_mock_world(seed=1, **spec.world_arguments())
    params = world.stations[("alice", "bob")].params
    assert params.scheme == "double-click" and params.efficiencies == (0.02, 0.05)


def _write(tmp_path: Path, text: str, name: str = "net.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


NODES = '[nodes.alice]\ndriver = "mock-nv"\n[nodes.bob]\ndriver = "mock-nv"\n'
BAD_TOML = [
    ("[nodes.alice]\ndriver = 'mock-nv'\n[oops]\n", "unknown key(s) ['oops']"),
    ("[nodes.alice]\nconfig = {}\n", "nodes.alice.driver: expected a name"),
    ("[nodes.alice]\ndriver = 'mock-nv'\nconfig = { carbons = 20 }\n", "nodes.alice.config: mock-nv config: carbons=20"),
    ("[nodes.alice]\ndriver = 'mock-nv'\nconfig = { seed = 3 }\n", "nodes.alice.config: ['seed'] are set by the run"),
    ("[nodes.alice]\ndriver = 'mock-nv'\ncolour = 1\n", "nodes.alice: unknown key(s) ['colour']"),
    ("[nodes.alice]\ndriver = 'no-such-driver'\n", "nodes.alice.driver: driver 'no-such-driver' cannot take part"),
    ("[nodes.alice]\ndriver = 'visa-controller'\nconfig = { resource = 'TCPIP::1.2.3.4::5025::SOCKET' }\n",
     "nodes.alice.driver: driver 'visa-controller' needs an emulator table"),
    ("[nodes.alice]\ndriver = 'visa-controller'\nconfig = { resource = 'x' }\nemulator = { driver = 'mock-nv' }\n",
     "nodes.alice.config.resource: set by the world"),
    ("[nodes.alice]\ndriver = 'serial-controller'\nconfig = { speed = 9 }\nemulator = { driver = 'mock-nv' }\n",
     "nodes.alice.config: driver 'serial-controller' does not accept option 'speed'"),
    ("[nodes.alice]\ndriver = 'serial-controller'\nemulator = { driver = 'visa-controller' }\n",
     "nodes.alice.emulator.driver: 'visa-controller' is not a mock driver"),
    ("[nodes.alice]\ndriver = 'mock-nv'\nemulator = { driver = 'mock-nv' }\n",
     "nodes.alice.emulator: qnodeos emulates the controllers of"),
    (NODES + "[[links]]\nnodes = ['alice', 'carol']\n", "links[0].nodes: no node 'carol'"),
    (NODES + "[[links]]\nnodes = ['alice', 'alice']\n", "links[0].nodes: a link joins two different nodes"),
    (NODES + "[[links]]\nnodes = ['alice', 'bob']\n[[links]]\nnodes = ['bob', 'alice']\n",
     "links[1].nodes: the link bob-alice is given twice"),
    (NODES + "[[links]]\nnodes = ['alice']\n", "links[0].nodes: expected two node names"),
    (NODES + "[[links]]\nnodes = ['alice', 'bob']\nvisibilty = 0.9\n", "unknown link parameter(s) ['visibilty']"),
    (NODES + "[[links]]\nnodes = ['alice', 'bob']\nvisibility = 'high'\n", "link alice-bob: visibility='high' must be a number"),
    (NODES + "[[links]]\nnodes = ['alice', 'bob']\nvisibility = 1.5\n", "link alice-bob: heralding link: visibility=1.5"),
    (NODES + "[[links]]\nnodes = ['alice', 'bob']\ndelivered = { kind = 'x', fidelity = 1 }\n",
     "link alice-bob: delivered: delivered pair: kind='x'"),
    ('[nodes.alice]\ndriver = "mock-nv"\n[nodes.bob]\ndriver = "mock-trapped-ion"\n',
     "link alice-bob joins an NV node and a trapped-ion node: a heterogeneous link needs its own heralding parameters"),
    (NODES + "[timing]\nbin_sn = 5\n", "timing: network timing: unknown key(s) ['bin_sn']"),
    (NODES + "[timing]\nbin_ns = -5\n", "timing: network timing: bin_ns=-5"),
    ("nodes = 3\n", "nodes: a network needs a [nodes.<name>] table per node"),
    ("[nodes\n", "not valid TOML"),
]


@pytest.mark.parametrize("text, message", BAD_TOML)
def test_a_bad_network_file_is_refused_in_one_line_naming_file_and_field(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(NetworkSpecError) as err:
        NetworkSpec.load(path)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{path}: ")
    assert message in text, text


def test_a_missing_network_file_is_named(tmp_path):
    with pytest.raises(NetworkSpecError, match="does not exist"):
        NetworkSpec.load(tmp_path / "nope.toml")


# ============================================================================ netqasm's network.yaml
def _node(name, hardware, qubits, gate_fidelity=1.0):
    node = {"name": name, "qubits": [{"id": i, "t1": t1, "t2": t2} for i, (t1, t2) in enumerate(qubits)],
            "gate_fidelity": gate_fidelity}
    if hardware is not None:
        node["hardware"] = hardware
    return node


def _link(a, b, noise="NoNoise", fidelity=1.0, name="ch"):
    return {"name": name, "node_name1": a, "node_name2": b, "noise_type": noise, "fidelity": fidelity}


def test_netqasm_network_yaml_maps_onto_the_mocks():
    data = {"nodes": [_node("alice", "NV", [(0, 0), (1e9, 5e8), (1e9, 5e8)], 0.99),
                      _node("bob", "TrappedIon", [(0, 1e8)] * 3, 0.97),
                      _node("carol", None, [(0, 0)] * 2), _node("dave", "TrappedIon", [(0, 0)])],
            "links": [_link("alice", "carol", "Depolarise", 0.8), _link("carol", "alice", "Depolarise", 0.8),
                      _link("bob", "dave", "Bitflip", 0.9)]}
    spec = translate(data, "net.yaml", platform="nv").check("ideal")
    alice, bob, carol = (spec.nodes[n] for n in ("alice", "bob", "carol"))
    assert alice.driver == "mock-nv" and alice.config["carbons"] == 2
    assert alice.config["electron_t1_ns"] == math.inf and alice.config["electron_t2_ns"] == math.inf
    assert (alice.config["carbon_t1_ns"], alice.config["carbon_t2_ns"]) == (1e9, 5e8)
    assert alice.config["electron_gate_error"] == pytest.approx(0.02)
    assert alice.config["ec_gate_error"] == pytest.approx(4 / 3 * 0.01)
    assert bob.driver == "mock-trapped-ion" and bob.config["ions"] == 3
    assert (bob.config["t1_ns"], bob.config["t2_ns"]) == (math.inf, 1e8)
    assert bob.config["gate_error"] == pytest.approx(0.06) and bob.config["ms_gate_error"] == pytest.approx(0.04)
    assert carol.driver == "mock-nv" and carol.config["carbons"] == 1  # Generic: the run's platform
    links = {frozenset(link.nodes): link.physics["delivered"] for link in spec.links}
    assert links == {frozenset(("alice", "carol")): {"kind": "werner", "fidelity": 0.8},
                     frozenset(("bob", "dave")): {"kind": "bitflip", "fidelity": 0.9}}  # listed twice: once
    world = build_mock_world(seed=1, preset="ideal", **spec.world_arguments())
    assert set(world.stations) == {("alice", "carol"), ("bob", "dave")}  # only the listed pairs
    assert world.stations[("alice", "carol")].params.fidelity == pytest.approx(0.8)
    assert world.devices["bob"].capabilities.qubits[2].t2_ns == 1e8
    generic = {"nodes": [_node("carol", None, [(0, 0)])], "links": []}
    assert translate(generic, "net.yaml", platform="trapped_ion").nodes["carol"].driver == "mock-trapped-ion"


def test_netqasm_own_default_network_translates(tmp_path):
    """netqasm's default_network_config (Generic, 5 qubits without decay, links both ways, NoNoise)."""
    from netqasm.runtime.interface.config import default_network_config

    cfg = default_network_config(["alice", "bob"])
    data = {"nodes": [{"name": n.name, "hardware": n.hardware.value, "gate_fidelity": n.gate_fidelity,
                       "qubits": [vars(q) for q in n.qubits]} for n in cfg.nodes],
            "links": [{**vars(link), "noise_type": link.noise_type.value} for link in cfg.links]}
    path = _write(tmp_path, yaml.safe_dump(data), "network.yaml")
    spec = NetworkSpec.load(path, platform="nv")
    assert spec.nodes["alice"].config["carbons"] == 4 and len(spec.links) == 1
    assert spec.links[0].physics["delivered"] == {"kind": "werner", "fidelity": 1.0}


def _gate_channel_fidelity(device, gate, qubits) -> float:
    """Average gate fidelity of ``gate`` on the device, from its entanglement fidelity with a
    reference of as many other qubits (F_avg = (d F_e + 1)/(d + 1)), computed in numpy."""
    n = len(qubits)
    d = 2 ** n
    refs = [q + n for q in qubits]
    space = device.state_space
    phi = np.eye(d, dtype=complex).reshape(d * d) / math.sqrt(d)  # sum_i |i>|i>
    space.set_state([device.state_handle(q) for q in qubits + refs], np.outer(phi, phi.conj()))
    device.execute(gate).raise_for_status()
    rho = device.density_matrix(qubits + refs)
    u = {1: lambda: _rot(gate.axis, gate.angle)}.get(n, lambda: _ms(gate.angle))()
    ideal = np.kron(u, np.eye(d)) @ phi
    f_e = float(np.real(ideal.conj() @ rho @ ideal))
    return (d * f_e + 1) / (d + 1)


def _rot(axis, angle):
    p = {Axis.X: X, Axis.Y: np.array([[0, -1j], [1j, 0]]), Axis.Z: np.diag([1, -1])}[axis]
    return math.cos(angle / 2) * I2 - 1j * math.sin(angle / 2) * p


def _ms(angle):
    return math.cos(angle / 2) * np.eye(4) - 1j * math.sin(angle / 2) * np.kron(X, X)


@pytest.mark.parametrize("f", [0.99, 0.9, 0.6])
def test_gate_fidelity_is_the_average_gate_fidelity_of_every_native_gate(f):
    """The mapping's claim, measured on a device built from the translated config."""
    spec = translate({"nodes": [_node("bob", "TrappedIon", [(0, 0)] * 4, f)], "links": []})
    device = MockIonDevice.from_config(node="bob", preset="ideal", **spec.nodes["bob"].config)
    assert _gate_channel_fidelity(device, Rotate(0, Axis.X, 1.1), [0]) == pytest.approx(f, abs=1e-9)
    assert _gate_channel_fidelity(device, MolmerSorensen((0, 1), 0.7), [0, 1]) == pytest.approx(f, abs=1e-9)


def _yaml_error(data, platform="nv") -> str:
    with pytest.raises(NetworkSpecError) as err:
        translate(data, "app/network.yaml", platform=platform).check("ideal")
    text = str(err.value)
    assert "\n" not in text and text.startswith("app/network.yaml: ")
    return text


def test_per_qubit_coherence_the_mock_cannot_hold_is_refused_naming_the_qubit():
    nv = _node("alice", "NV", [(0, 0), (1e9, 1e8), (1e9, 2e8)])
    assert "nodes[0] (alice).qubits[id 2].t2: 2e+08 differs from qubit 1's 1e+08" in _yaml_error(
        {"nodes": [nv], "links": []})
    ions = _node("bob", "TrappedIon", [(0, 1e8), (0, 1e8), (5e9, 1e8)])
    assert "qubits[id 2].t1: 5e+09 differs from qubit 0's 0 (no decay)" in _yaml_error({"nodes": [ions], "links": []})


BAD_YAML = [
    ({"nodes": [_node("a", "NV", [(0, 0)]), _node("b", "TrappedIon", [(0, 0)])], "links": [_link("a", "b")]},
     "links[0]: link a-b joins a mock-nv node and a mock-trapped-ion node: a heterogeneous link needs heralding parameters"),
    ({"nodes": [_node("a", "Superconducting", [(0, 0)])], "links": []}, "nodes[0] (a).hardware: 'Superconducting'"),
    ({"nodes": [_node("a", "NV", [(0, 0)], 0.3)], "links": []}, "nodes[0] (a).gate_fidelity: 0.3 is below 1/2"),
    ({"nodes": [_node("a", "NV", [(10, 100)])], "links": []}, "nodes[0] (a).qubits[0].t2: 100 exceeds 2*t1"),
    ({"nodes": [_node("a", "NV", [(0, 0)] * 10)], "links": []}, "nodes[0] (a).qubits: 10 qubits; the mock-nv mock holds at most 9"),
    ({"nodes": [_node("a", None, [(0, 0)]), _node("a", None, [(0, 0)])], "links": []}, "nodes[1].name: node 'a' is listed twice"),
    ({"nodes": [_node("a", None, [(0, 0)])], "links": [_link("a", "z")]}, "links[0].node_name2: no node 'z'"),
    ({"nodes": [_node("a", None, [(0, 0)]), _node("b", None, [(0, 0)])], "links": [_link("a", "b", "Dephase")]},
     "links[0].noise_type: 'Dephase' is not one of"),
    ({"nodes": [_node("a", None, [(0, 0)]), _node("b", None, [(0, 0)])], "links": [_link("a", "b", "Bitflip", 2)]},
     "links[0].fidelity: 2 must be a number in [0, 1]"),
    ({"nodes": [_node("a", None, [(0, 0)]), _node("b", None, [(0, 0)])],
      "links": [_link("a", "b", "Bitflip", 0.9), _link("b", "a", "Bitflip", 0.8)]}, "links[1]: link b-a is also links[0]"),
    ({"nodes": [{"name": "a", "qubits": [{"id": 1, "t1": 0, "t2": 0}], "gate_fidelity": 1}], "links": []},
     "nodes[0] (a).qubits[0].id: 1: ids must be 0 .. 0"),
    ({"nodes": [{"name": "a", "qubits": []}], "links": []}, "nodes[0]: missing key(s) ['gate_fidelity']"),
    ({"nodes": []}, "links: expected a list"),
]


@pytest.mark.parametrize("data, message", BAD_YAML)
def test_network_yaml_the_mocks_cannot_run_is_refused_naming_the_field(data, message):
    text = _yaml_error(data)
    assert message in text, text


def test_what_netqasm_itself_parses_we_parse_alike():
    """The valid files above are valid netqasm network configurations too (same format)."""
    from netqasm.runtime.interface.config import parse_network_config

    data = {"nodes": [_node("alice", "NV", [(0, 0)] * 2), _node("bob", "NV", [(0, 0)] * 2)],
            "links": [_link("alice", "bob", "Depolarise", 0.9)]}
    cfg = parse_network_config(data)
    spec = translate(data)
    assert [n.name for n in cfg.nodes] == list(spec.nodes)
    assert [(link.node_name1, link.node_name2) for link in cfg.links] == [link.nodes for link in spec.links]


# ================================================================================= the documentation
DOC = Path(__file__).resolve().parent.parent / "docs" / "networks.md"


def test_the_documented_network_file_loads_as_documented(tmp_path):
    import re

    (block,) = re.findall(r"```toml\n(.*?)```", DOC.read_text(), flags=re.S)
    spec = NetworkSpec.load(_write(tmp_path, block))
    assert spec.nodes["bob"].driver == "serial-controller" and spec.nodes["bob"].emulator.config["ions"] == 3
    assert spec.links[0].physics["delivered"] == {"kind": "werner", "fidelity": 0.9}
    assert spec.timing.bin_ns == 1_000_000
    error = re.search(r"^qnodeos run: error: net.toml: (link alice-bob joins .*)$", DOC.read_text(), re.M).group(1)
    bad = _write(tmp_path, '[nodes.alice]\ndriver = "mock-nv"\n[nodes.bob]\ndriver = "mock-trapped-ion"\n')
    with pytest.raises(NetworkSpecError) as err:
        NetworkSpec.load(bad)
    assert str(err.value) == f"{bad}: {error}"


def test_the_documented_python_example_runs(tmp_path, monkeypatch, capsys):
    import re

    (block,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "docs/networks.md", "exec"), {"__name__": "__doc__"})
    counted, drivers = capsys.readouterr().out.strip().splitlines()[-2:]
    n, all_differ = counted.split()
    assert int(n) > 0 and all_differ == "True"  # a bit-flipped pair of fidelity 0: Z outcomes always differ
    assert drivers == "{'alice': 'mock-trapped-ion', 'bob': 'visa-controller'}"

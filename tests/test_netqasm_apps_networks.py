"""netqasm's example applications (unchanged) on networks of more than one kind of node, nodes as
processes, checked against the reference models of ``test_netqasm_apps`` fed with each link's own pair.

**Mixed NV-ion networks.** Every role is placed on an NV or a trapped-ion node so that the pairs the
application uses cross heterogeneous links (the link of ``examples/networks/nv_ion.toml``: double click,
V = 0.9, so pairs are imperfect and the models say exactly how). The part of the suite run here is the
part where a mixed network changes something: every application whose entanglement crosses an
NV-ion link — teleportation both ways (the received state against the model, which checks the
heterogeneous pair end to end), a distributed CNOT and a blind rotation (states against the model),
the CHSH game through an ion repeater between two NV nodes (entanglement swapping across two
heterogeneous links), the magic square (two pairs at once), BB84 and the measure-directly link-layer
example (many pairs: statistics of the pair), the three-node example (NV-ion and NV-NV links side by
side) and GHZ-based anonymous transmission along NV-ion-NV-ion. Left out: ``single_node`` and
``multiple_files`` (no link), ``blind_grover`` and ``link_layer_ck`` (the same mechanisms as
``blind_rotation`` and ``link_layer_md``), the realistic-preset teleport (one platform's physics).

**Shim-driven networks.** Two nodes, one driven through the VISA shim and one through the serial
shim, each to the emulated controller firmware (``qnodeos.firmware_stubs``) the world serves over its
mock trapped-ion device (ideal preset: perfect pairs, so outcomes have exact predictions — the magic
square is always won, same-basis BB84 bits always agree, blind Grover always finds the item); teleport
also runs over emulated NV devices (NV-flavoured subroutines through the shims). States
are not visible through a controller (the protocol carries none), so the applications are told no
simulator runs and take their hardware branch; the checks are on outcomes. Every two-node example
runs (``single_node`` has one node); the three- and four-node ones are the mixed network's.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qnodeos.drivers.mock_network import build_mock_world
from qnodeos.hal import BellState
from qnodeos.network.spec import LinkSpec, NetworkSpec, NodeSpec
from test_netqasm_apps import (
    APPS,
    BLIND_GROVER_CASES,
    DIST_CNOT_INPUTS,
    I2,
    OWN_APPS,
    X,
    assert_count,
    assert_dm_close,
    assert_valid_dm,
    blind_grover_model,
    blind_rotation_model,
    chsh_model,
    dist_cnot_model,
    dm_of,
    ket_from,
    magic_square_model,
    magic_square_won,
    probability,
    replay,
    run_app,
    same_basis_error_model,
    teleport_model,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "networks" / "nv_ion.toml"
MODE = "processes"


@pytest.fixture(autouse=True, scope="module")
def _private_tempdir(tmp_path_factory):
    import tempfile

    old = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("app-logs"))
    yield
    tempfile.tempdir = old


# ==================================================================================== the networks
def mixed_network(kinds: dict[str, str]) -> NetworkSpec:
    """Nodes named after the roles, ``nv`` or ``ion`` each (the example file's nodes); every pair
    linked, the NV-ion pairs by the example's heterogeneous link (NV side first)."""
    example = NetworkSpec.load(EXAMPLE)
    node = {"nv": example.nodes["alice"], "ion": example.nodes["bob"]}
    physics = example.links[0].physics
    nodes = {name: dataclasses.replace(node[kind], name=name) for name, kind in kinds.items()}
    links = []
    for a, b in itertools.combinations(kinds, 2):
        if kinds[a] == kinds[b]:
            links.append(LinkSpec((a, b)))
        else:
            links.append(LinkSpec((a, b) if kinds[a] == "nv" else (b, a), physics))
    return NetworkSpec(nodes, tuple(links), example.timing, source="mixed NV-ion network")


def shim_network(visa: str, serial: str, device: str = "mock-trapped-ion") -> NetworkSpec:
    """``visa`` driven through the VISA shim, ``serial`` through the serial shim, each to emulated
    firmware over an ideal mock ``device`` of one world."""
    emulator = {"driver": device, "config": {"preset": "ideal"}}
    return NetworkSpec.from_dict({"nodes": {
        visa: {"driver": "visa-controller", "config": {"timeout": 10.0}, "emulator": emulator},
        serial: {"driver": "serial-controller", "config": {"timeout": 10.0}, "emulator": emulator}}},
        source="shim network")


def pair(spec: NetworkSpec, creator: str, receiver: str) -> np.ndarray:
    """What an application receives (creator first): the link's heralded state, corrected to Phi+."""
    world = build_mock_world(seed=0, **spec.world_arguments())
    key = tuple(sorted((creator, receiver)))
    rho = world.stations[key].params.heralded_state(BellState.PSI_PLUS)
    if key[0] != creator:
        swap = np.eye(4)[[0, 2, 1, 3]]
        rho = swap @ rho @ swap
    fix = np.kron(X, I2)
    return fix @ rho @ fix.conj().T


def p_differ(rho: np.ndarray, basis: str) -> float:
    return probability(lambda s: same_basis_error_model(s, basis), rho, bool)


def run(app: Path, spec: NetworkSpec, seed: int, **kwargs: Any):
    outcome = run_app(app, "nv", MODE, seed=seed, network=spec, **kwargs)
    drivers = {name: stats["driver"] for name, stats in outcome[0].stats.items()}
    expected = {n: node.driver for n, node in spec.nodes.items()}
    assert drivers == expected, f"nodes ran other drivers than the network says: {drivers}"
    return outcome


# ================================================================================= mixed networks
def test_mixed_network_pairs_are_heterogeneous_and_imperfect():
    """The premise of the checks below: the NV-ion pair is the link's own, not either platform's."""
    spec = mixed_network({"a": "nv", "b": "ion"})
    rho = pair(spec, "a", "b")
    phi_plus = np.zeros((4, 4))
    phi_plus[np.ix_([0, 3], [0, 3])] = 0.5
    assert 0.9 < np.real(np.trace(phi_plus @ rho)) < 0.99
    assert p_differ(rho, "Z") < 1e-3 < p_differ(rho, "X")  # V < 1 errs in X, not in Z


@pytest.mark.parametrize("kinds, angles", [({"sender": "nv", "receiver": "ion"}, (0.0, math.pi / 2)),
                                           ({"sender": "ion", "receiver": "nv"}, (1.1, 0.7))])
def test_mixed_teleported_state(kinds, angles):
    spec = mixed_network(kinds)
    phi, theta = angles
    outcome, _ = run(OWN_APPS / "teleport_state", spec, 2100, overrides={"sender": {"phi": phi, "theta": theta}})
    sender, receiver = outcome.results["sender"], outcome.results["receiver"]
    got = dm_of(receiver["state"])
    assert_valid_dm(got, "received state")
    _, res = replay(lambda s: teleport_model(s, phi, theta), pair(spec, "sender", "receiver"),
                    [sender["m1"], sender["m2"]])
    assert_dm_close(got, res["state"], f"teleport_state {kinds}")
    assert not np.allclose(got, np.outer(ket_from(phi, theta), ket_from(phi, theta).conj()), atol=1e-3)


def test_mixed_dist_cnot_and_blind_rotation():
    spec = mixed_network({"controller": "nv", "target": "ion"})
    (c_phi, c_theta), (t_phi, t_theta) = DIST_CNOT_INPUTS[3]
    outcome, _ = run(APPS / "dist_cnot", spec, 2200, overrides={"controller": {"phi": c_phi, "theta": c_theta},
                                                                "target": {"phi": t_phi, "theta": t_theta}})
    ctrl, tgt = outcome.results["controller"], outcome.results["target"]
    sim, _ = replay(lambda s: dist_cnot_model(s, c_phi, c_theta, t_phi, t_theta), pair(spec, "controller", "target"),
                    [ctrl["epr_meas"], tgt["epr_meas"]])
    got = dm_of(ctrl["final_state"])  # control with everything it is entangled with: the target's qubit
    assert_dm_close(got, sim.dm("ctrl", "tgt") if got.shape == (4, 4) else sim.dm("ctrl"), "dist_cnot, mixed")

    spec = mixed_network({"client": "ion", "server": "nv"})
    client_in = {"phi": [0.4, 2.2, 5.0], "r": [1, 0, 1], "theta": [0.0, math.pi / 2, math.pi / 4, 3 * math.pi / 2]}
    outcome, _ = run(APPS / "blind_rotation", spec, 2300, overrides={"client": client_in})
    client = outcome.results["client"]
    sim, _ = replay(lambda s: blind_rotation_model(s, client["delta"], client["theta"]), pair(spec, "client", "server"),
                    client["m"] + client["s"])
    assert_dm_close(dm_of(outcome.results["server"]["output_state"]), sim.dm("s3"), "blind_rotation, mixed")


def test_mixed_chsh_through_an_ion_repeater():
    """Entanglement swapping at an ion between two NV nodes: both links heterogeneous."""
    spec = mixed_network({"alice": "nv", "repeater": "ion", "bob": "nv"})
    link = pair(spec, "alice", "repeater")
    assert np.allclose(link, pair(spec, "repeater", "bob"))
    wins, probs = 0, []
    for i, (x, y) in enumerate(itertools.product((0, 1), repeat=2)):
        outcome, _ = run(APPS / "chsh", spec, 2400 + i, overrides={"alice": {"x": x}, "bob": {"y": y}})
        a, b = outcome.results["alice"]["a"], outcome.results["bob"]["b"]
        wins += (a ^ b) == (x & y)
        probs.append(probability(lambda s: chsh_model(s, x, y), link, lambda r: r["win"]))
    assert_count(wins, probs, "chsh on a mixed network: wins")


def test_mixed_magic_square_and_bb84():
    spec = mixed_network({"player1": "ion", "player2": "nv"})
    link = pair(spec, "player1", "player2")
    wins, probs = 0, []
    for i, (row, col) in enumerate([(0, 0), (1, 2), (2, 1)]):
        outcome, _ = run(APPS / "magic_square", spec, 2500 + i, overrides={"player1": {"row": row},
                                                                            "player2": {"col": col}})
        r, c = outcome.results["player1"]["row"], outcome.results["player2"]["col"]
        assert sum(r) % 2 == 0 and sum(c) % 2 == 1
        wins += r[col] == c[row]
        probs.append(probability(lambda s: magic_square_model(s, row, col), link, magic_square_won))
    assert_count(wins, probs, "magic_square on a mixed network: wins")

    spec = mixed_network({"alice": "nv", "bob": "ion"})
    link = pair(spec, "alice", "bob")
    outcome, _ = run(APPS / "bb84", spec, 2600)
    alice, bob = outcome.results["alice"], outcome.results["bob"]
    assert alice["qber"] == bob["qber"]
    errors, trials = {"Z": 0, "X": 0}, {"Z": 0, "X": 0}
    for ra, rb in zip(alice["table"], bob["table"]):
        assert ra[0] == rb[0] and ra[2] == rb[2] == (ra[1] == rb[1])
        if ra[2]:
            trials[ra[1]] += 1
            errors[ra[1]] += ra[3] != rb[3]
    for basis in ("Z", "X"):
        assert_count(errors[basis], (trials[basis], p_differ(link, basis)), f"bb84 on a mixed network, {basis}")


def test_mixed_link_layer_measure_directly(tmp_path):
    """10 measure-directly pairs in Y on an NV client and an ion server: equal outcomes follow the pair."""
    spec = mixed_network({"client": "nv", "server": "ion"})
    _, printed = run(APPS / "link_layer_md", spec, 2700, tmp_path=tmp_path, capture=True)
    client = [int(v) for v in re.findall(r"^Client: ([01])$", printed, re.M)]
    server = [int(v) for v in re.findall(r"^Server: ([01])$", printed, re.M)]
    assert len(client) == len(server) == 10, printed
    same = sum(a == b for a, b in zip(client, server))
    assert_count(same, (10, 1 - p_differ(pair(spec, "client", "server"), "Y")), "link_layer_md, mixed: equal Y")


def test_mixed_three_and_four_node_applications(tmp_path):
    """three_nodes: pairs on NV-ion, ion-NV and NV-NV links, each agreeing in Z up to its own pair;
    anonymous transmission along NV-ion-NV-ion: the receiver gets a valid state."""
    spec = mixed_network({"alice": "nv", "bob": "ion", "charlie": "nv"})
    outcome, logged = run(APPS / "three_nodes", spec, 2800, tmp_path=tmp_path, logs=True)
    m = {(who, peer): int(v) for who, peer, v in re.findall(r"(\w+):\s+m_(\w+):\s*([01])\b", logged)}
    assert len(m) == 6, logged
    diffs, probs = 0, []
    for a, b in [("alice", "bob"), ("alice", "charlie"), ("bob", "charlie")]:
        diffs += m[(a, b)] != m[(b, a)]
        probs.append(p_differ(pair(spec, a, b), "Z"))
    assert_count(diffs, probs, "three_nodes on a mixed network: differing outcomes")

    spec = mixed_network({"alice": "nv", "bob": "ion", "charlie": "nv", "david": "ion"})
    outcome, _ = run(APPS / "anonymous_transmission", spec, 2900, timeout_s=60,
                     overrides={"bob": {"sender": True, "phi": 0.5, "theta": 2.3}, "charlie": {"receiver": True}})
    assert_valid_dm(dm_of(outcome.results["charlie"]["qubit_state"]), "anonymously transmitted qubit, mixed")


# ================================================================================== shim networks
def test_shim_network_teleport_takes_the_hardware_branch():
    """Corrections follow the outcomes; no simulator is claimed (states are not visible through a
    controller), so netqasm's teleport receiver returns only its corrections."""
    for i, (device, phi, theta) in enumerate([("mock-trapped-ion", 0.0, math.pi), ("mock-nv", 1.2, math.pi / 2)]):
        spec = shim_network("sender", "receiver", device)  # on NV: NV-flavoured subroutines through the shims
        outcome, _ = run(APPS / "teleport", spec, 3000 + i, overrides={"sender": {"phi": phi, "theta": theta}})
        assert {stats["platform"] for stats in outcome.stats.values()} == {spec.nodes["sender"].platform}
        sender, receiver = outcome.results["sender"], outcome.results["receiver"]
        assert receiver == {"correction1": "Z" if sender["m1"] else "None",
                            "correction2": "X" if sender["m2"] else "None"}


def test_shim_network_bb84_same_basis_bits_agree():
    outcome, _ = run(APPS / "bb84", shim_network("alice", "bob"), 3100)
    alice, bob = outcome.results["alice"], outcome.results["bob"]
    same = [(ra, rb) for ra, rb in zip(alice["table"], bob["table"]) if ra[2]]
    assert len(same) > 10 and all(ra[3] == rb[3] for ra, rb in same)
    assert alice["qber"] == bob["qber"] == 0
    assert_count(len(same), (len(alice["table"]), 0.5), "bb84 on shims: same-basis pairs")


def test_shim_network_nonlocal_games_are_won():
    spec = shim_network("player1", "player2")
    for i, (row, col) in enumerate([(0, 2), (1, 1)]):
        outcome, _ = run(APPS / "magic_square", spec, 3200 + i, overrides={"player1": {"row": row},
                                                                            "player2": {"col": col}})
        r, c = outcome.results["player1"]["row"], outcome.results["player2"]["col"]
        assert sum(r) % 2 == 0 and sum(c) % 2 == 1 and r[col] == c[row], (row, col, r, c)
    spec = shim_network("client", "server")
    for i, case in enumerate(BLIND_GROVER_CASES[2:3]):
        args = dict(dict(r1=0, r2=0, theta1=0.0, theta2=0.0), **case)
        outcome, _ = run(APPS / "blind_grover", spec, 3300 + i, overrides={"client": args})
        res = outcome.results["client"]
        assert probability(lambda s: blind_grover_model(s, **args), pair(spec, "client", "server"),
                           lambda r: r["result"] == (args["b0"], args["b1"])) == pytest.approx(1)
        assert (res["result0"], res["result1"]) == (args["b0"], args["b1"])


def test_shim_network_other_two_node_examples(tmp_path):
    spec = shim_network("client", "server")
    _, printed = run(APPS / "link_layer_ck", spec, 3400, tmp_path=tmp_path, capture=True)
    lines = re.findall(r"^[01]{10}$", printed, re.M)
    assert len(lines) == 2 and lines[0] == lines[1], printed
    _, printed = run(APPS / "link_layer_md", spec, 3500, tmp_path=tmp_path, capture=True)
    client = [int(v) for v in re.findall(r"^Client: ([01])$", printed, re.M)]
    server = [int(v) for v in re.findall(r"^Server: ([01])$", printed, re.M)]
    assert len(client) == 10 and all(a != b for a, b in zip(client, server))  # <YY> = -1 on Phi+
    outcome, _ = run(APPS / "dist_cnot", shim_network("controller", "target"), 3600)
    assert outcome.results["controller"]["final_state"] is None  # not visible through a controller
    assert set(outcome.results["target"]) == {"epr_meas"}
    outcome, _ = run(APPS / "blind_rotation", spec, 3700)
    assert outcome.results["server"] == {"output_state": None}
    assert (len(outcome.results["client"]["m"]), len(outcome.results["client"]["delta"])) == (4, 3)
    outcome, _ = run(APPS / "multiple_files", shim_network("alice", "bob"), 3800)
    assert outcome.results == {"alice": None, "bob": None}


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_a_network_of_shim_and_mock_nodes_takes_one_branch(mode):
    """A mock NV receiver (states visible) with a shim sender (not): the whole network is told no
    simulator runs, so the receiver does not wait for the simulation-only message the sender would
    send only in simulation (one answer per network, not per node)."""
    spec = NetworkSpec({
        "sender": NodeSpec("sender", "visa-controller", {"timeout": 10.0},
                           emulator=shim_network("x", "y").nodes["x"].emulator),
        "receiver": NodeSpec("receiver", "mock-trapped-ion", {"preset": "ideal"})}, source="shim and mock")
    outcome, _ = run_app(APPS / "teleport", "nv", mode, seed=3900, network=spec,
                         overrides={"sender": {"theta": math.pi}})
    assert outcome.results["receiver"] == {"correction1": "Z" if outcome.results["sender"]["m1"] else "None",
                                           "correction2": "X" if outcome.results["sender"]["m2"] else "None"}
    assert {n: s["driver"] for n, s in outcome.stats.items()} == {"sender": "visa-controller",
                                                                   "receiver": "mock-trapped-ion"}

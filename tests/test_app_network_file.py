"""An application directory's netqasm ``network.yaml`` is honoured (issue 12: "setting a link's
fidelity to 0.1 changes nothing" was the friction), ``network=`` / ``--network`` override it, and a
network file that cannot run is refused before anything starts.

The application: alice and bob share ``N`` create-and-keep pairs, both measure in Z and return their
outcomes. On ideal trapped ions the pair is a perfect Phi+ (after the OS's correction), so without a
network file the outcomes always agree; with a delivered pair of fidelity F they differ with the
probability an exact model gives: Bitflip 1 - F, Depolarise (Werner) 2(1 - F)/3.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from qnodeos.apps.runner import run_app_dir
from qnodeos.cli import main

N = 24
P_REJECT = 1e-5

APP = {
    "app_alice.py": f'''
from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None, n={N}):
    epr = EPRSocket("bob")
    out = []
    with NetQASMConnection("alice", log_config=app_config.log_config, epr_sockets=[epr]) as conn:
        for _ in range(n):
            m = epr.create_keep()[0].measure()
            conn.flush()
            out.append(int(m))
    return out
''',
    "app_bob.py": f'''
from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None, n={N}):
    epr = EPRSocket("alice")
    out = []
    with NetQASMConnection("bob", log_config=app_config.log_config, epr_sockets=[epr]) as conn:
        for _ in range(n):
            m = epr.recv_keep()[0].measure()
            conn.flush()
            out.append(int(m))
    return out
''',
}


def network_yaml(noise: str, fidelity: float, hardware: str = "TrappedIon") -> dict:
    node = lambda name: {"name": name, "hardware": hardware, "gate_fidelity": 1.0,  # noqa: E731
                         "qubits": [{"id": i, "t1": 0, "t2": 0} for i in range(2)]}
    return {"nodes": [node("alice"), node("bob")],
            "links": [{"name": "ch0", "node_name1": "alice", "node_name2": "bob", "noise_type": noise,
                       "fidelity": fidelity}]}


@pytest.fixture
def app_dir(tmp_path) -> Path:
    path = tmp_path / "pairs"
    path.mkdir()
    for name, text in APP.items():
        (path / name).write_text(text)
    return path


def differing(run) -> int:
    assert run.ok, run.errors
    alice, bob = run.results["alice"], run.results["bob"]
    assert len(alice) == len(bob) == N
    return sum(a != b for a, b in zip(alice, bob))


def assert_binomial(k: int, n: int, p: float, what: str) -> None:
    """Two-sided exact binomial test at P_REJECT."""
    pmf = [math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(n + 1)]
    assert min(sum(pmf[:k + 1]), sum(pmf[k:])) > P_REJECT / 2, f"{what}: {k} of {n}, model {n * p:.1f}"


def test_the_directorys_network_yaml_sets_the_link_fidelity(app_dir):
    common = dict(platform="trapped_ion", preset="ideal", mode="threads", timeout_s=60)
    assert differing(run_app_dir(app_dir, seed=1, **common)) == 0  # no network.yaml: perfect pairs
    (app_dir / "network.yaml").write_text(yaml.safe_dump(network_yaml("NoNoise", 1.0)))
    assert differing(run_app_dir(app_dir, seed=1, **common)) == 0
    (app_dir / "network.yaml").write_text(yaml.safe_dump(network_yaml("Bitflip", 0.1)))
    flips = sum(differing(run_app_dir(app_dir, seed=s, **common)) for s in (2, 3))
    assert flips > 0
    assert_binomial(flips, 2 * N, 0.9, "Bitflip 0.1: differing Z outcomes")
    (app_dir / "network.yaml").write_text(yaml.safe_dump(network_yaml("Depolarise", 0.1)))
    mixed = sum(differing(run_app_dir(app_dir, seed=s, **common)) for s in (4, 5))
    assert_binomial(mixed, 2 * N, 2 * 0.9 / 3, "Depolarise 0.1: differing Z outcomes")


def test_network_argument_overrides_the_directorys_network_yaml(app_dir, tmp_path):
    (app_dir / "network.yaml").write_text(yaml.safe_dump(network_yaml("Bitflip", 0.0)))  # always differ
    common = dict(platform="trapped_ion", preset="ideal", timeout_s=60)
    assert differing(run_app_dir(app_dir, seed=1, mode="threads", **common)) == N
    perfect = tmp_path / "perfect.yaml"
    perfect.write_text(yaml.safe_dump(network_yaml("NoNoise", 1.0)))
    assert differing(run_app_dir(app_dir, seed=1, mode="threads", network=perfect, **common)) == 0
    toml = tmp_path / "net.toml"
    toml.write_text('[nodes.alice]\ndriver = "mock-trapped-ion"\n[nodes.bob]\ndriver = "mock-trapped-ion"\n')
    assert differing(run_app_dir(app_dir, seed=1, mode="processes", network=toml, **common)) == 0


def test_the_cli_honours_network_yaml_and_network_overrides_it(app_dir, tmp_path, capsys):
    (app_dir / "network.yaml").write_text(yaml.safe_dump(network_yaml("Bitflip", 0.0)))
    args = ["run", str(app_dir), "--platform", "trapped_ion", "--preset", "ideal", "--seed", "1", "--json",
            "--no-logs", "--mode", "threads"]
    assert main(args) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert all(a != b for a, b in zip(results["alice"], results["bob"]))
    perfect = tmp_path / "perfect.yaml"
    perfect.write_text(yaml.safe_dump(network_yaml("NoNoise", 1.0)))
    assert main(args + ["--network", str(perfect)]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert results["alice"] == results["bob"]


def test_a_network_file_that_cannot_run_is_refused_before_anything_starts(app_dir, tmp_path, capsys, monkeypatch):
    import qnodeos.apps.runner

    def never(*args, **kwargs):
        raise AssertionError("the run started")

    monkeypatch.setattr(qnodeos.apps.runner, "run_app_dir", never)
    data = network_yaml("NoNoise", 1.0)
    data["nodes"][0]["qubits"][1]["t2"] = 5e8  # qubits of one ion string with different T2
    (app_dir / "network.yaml").write_text(yaml.safe_dump(data))
    assert main(["run", str(app_dir), "--no-logs"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"qnodeos run: error: {app_dir / 'network.yaml'}: nodes[0] (alice).qubits[id 1].t2: 5e+08 "
                   "differs from qubit 0's 0 (no decay): the mock ion string holds one T1/T2 for all ions")
    missing = tmp_path / "roles.toml"
    missing.write_text('[nodes.carol]\ndriver = "mock-nv"\n')
    assert main(["run", str(app_dir), "--no-logs", "--network", str(missing)]) == 2
    assert "no node(s) ['alice', 'bob'] for the application's roles" in capsys.readouterr().err

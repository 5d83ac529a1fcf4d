"""The job service's parts on their own: statistics against numpy, the served network's configuration,
SVG plots, and the CLI's errors (no HTTP, no network: fast)."""
from __future__ import annotations

import math
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from qnodeos.jobs.network import NetworkConfig, NetworkConfigError
from qnodeos.jobs.plots import histogram_svg, numeric_svg
from qnodeos.run_stats import aggregate, flatten
from qnodeos.network.keys import generate_keypair

KEY_A, _ = generate_keypair()
HOST_PUBLIC, HOST_SECRET = generate_keypair()


def test_statistics_match_numpy_and_skip_failed_runs():
    rng = np.random.default_rng(7)
    fidelity = rng.uniform(0.8, 1.0, size=25)
    outcome = rng.integers(0, 2, size=25)
    runs = [{"ok": True, "results": {"receiver": {"fidelity": float(f), "correction": "Z" if o else "None"},
                                     "sender": {"m": int(o), "state": [[1, 0], [0, 0]]}}}
            for f, o in zip(fidelity, outcome)]
    runs.append({"ok": False, "results": {"receiver": {"fidelity": -100.0}}})  # a failed run: not counted
    stats = aggregate(runs)
    assert (stats["runs"], stats["ok_runs"], stats["failed_runs"]) == (26, 25, 1)
    q = stats["quantities"]
    assert q["receiver.fidelity"]["mean"] == pytest.approx(fidelity.mean(), rel=1e-12)
    assert q["receiver.fidelity"]["std_error"] == pytest.approx(fidelity.std(ddof=1) / math.sqrt(25), rel=1e-12)
    assert "histogram" not in q["receiver.fidelity"]  # 25 distinct values: continuous
    assert q["receiver.correction"]["histogram"] == {"None": int((outcome == 0).sum()), "Z": int(outcome.sum())}
    assert q["sender.m"]["histogram"] == {"0": int((outcome == 0).sum()), "1": int(outcome.sum())}
    assert q["sender.m"]["mean"] == pytest.approx(outcome.mean())
    assert "sender.state" not in q  # a matrix is neither a number nor an outcome


def test_one_run_has_no_standard_error_and_complex_values_stay_whole():
    stats = aggregate([{"ok": True, "results": {"a": {"x": 2.5, "z": {"re": 1.0, "im": 0.0}}}}])
    assert stats["quantities"]["a.x"]["mean"] == 2.5 and stats["quantities"]["a.x"]["std_error"] is None
    assert flatten({"a": {"z": {"re": 1.0, "im": 0.0}}}) == {"a.z": {"re": 1.0, "im": 0.0}}


def test_plots_are_valid_svg_with_a_text_alternative():
    svg = ET.fromstring(histogram_svg("m1 <&>", {"0": 3, "1": 5}))
    assert svg.get("role") == "img" and "0 in 3 runs, 1 in 5 runs" in svg.get("aria-label")
    assert svg.find("{http://www.w3.org/2000/svg}title").text == "m1 <&>"
    assert len(svg.findall("{http://www.w3.org/2000/svg}rect")) == 1 + 2  # background and two bars
    numeric = ET.fromstring(numeric_svg("fidelity", [0.9, 0.95, 1.0], 0.95, 0.0289))
    assert "mean 0.95 ± 0.0289" in numeric.get("aria-label")
    flat = ET.fromstring(numeric_svg("constant", [1.0, 1.0 - 1e-16], 1.0, 1e-17))  # one value: no error
    assert "n = 2" in "".join(flat.itertext())


def _config(**changes):
    data = {"hosts": {"public": HOST_PUBLIC, "secret": HOST_SECRET},
            "nodes": {"alice": {"address": "tcp://127.0.0.1:6001", "public_key": KEY_A}},
            "placement": {"sender": "alice"}}
    data.update(changes)
    return data


def test_network_configuration_round_trips_and_names_what_is_wrong(tmp_path):
    config = NetworkConfig.from_dict(_config())
    assert NetworkConfig.from_dict(config.to_dict()) == config
    key_file = tmp_path / "jobs.toml"
    key_file.write_text(f'[keys]\npublic = "{HOST_PUBLIC}"\nsecret = "{HOST_SECRET}"\n')
    from_file = NetworkConfig.from_dict(_config(hosts={"key_file": "jobs.toml"}), base=tmp_path)
    assert (from_file.host_public, from_file.host_secret) == (HOST_PUBLIC, HOST_SECRET)
    for changes, message in [
        ({"nodes": {}}, "the network has no nodes"),
        ({"nodes": {"alice": {"address": "http://x"}}}, "is not tcp://HOST:PORT"),
        ({"nodes": {"alice": {"address": "tcp://127.0.0.1:1"}}}, "node 'alice' has no public_key"),
        ({"nodes": {"alice": {"address": "tcp://127.0.0.1:1", "public_key": "short"}}}, "nodes.alice.public_key"),
        ({"hosts": {}}, "[hosts] gives no public/secret key pair"),
        ({"placement": {"sender": "bob"}}, "placement sender = 'bob': no node of that name"),
        ({"nodes": {"alice": {}}}, "missing 'address'"),
    ]:
        with pytest.raises(NetworkConfigError, match=re.escape(message)):
            NetworkConfig.from_dict(_config(**changes))
    insecure = NetworkConfig.from_dict({"network": {"insecure": True}, "nodes": {"a": {"address": "tcp://127.0.0.1:1"}}})
    assert insecure.nodes["a"].public_key is None


def test_serve_refuses_a_bad_network_file_in_one_line(tmp_path):
    bad = tmp_path / "network.toml"
    bad.write_text('[nodes.alice]\naddress = "tcp://127.0.0.1:1"\n')
    result = subprocess.run([sys.executable, "-m", "qnodeos.cli", "jobs", "serve", "--network", str(bad),
                             "--data", str(tmp_path / "data"), "--port", "0"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["qnodeos jobs: error: node 'alice' has no public_key (set [network] "
                                                  "insecure = true only for throw-away networks)"]

"""netqasm's teleport example (unchanged) on mock NV and trapped-ion networks, tested the way a lab
would: exact where the physics is deterministic, statistical where outcomes are sampled."""
from __future__ import annotations

import math
from pathlib import Path

import netqasm
import pytest

TELEPORT = Path(netqasm.__file__).parent / "examples" / "apps" / "teleport"
#: NV's single-click pair keeps a bright-state admixture even noise-free: alpha = 0.1 in the ideal preset
NV_IDEAL_ALPHA = 0.1


@pytest.mark.parametrize("platform", ["trapped_ion", "nv"])
def test_cardinal_states_arrive_with_the_fidelity_the_pair_allows(qnodeos_run_app, qnodeos_assert, platform):
    """|0> and |1> teleported over the ideal presets: fidelity 1 on ions; on NV the (1 - alpha) Phi+ +
    alpha |01><01| pair flips them with probability alpha, so 1 - alpha."""
    expected = 1.0 if platform == "trapped_ion" else 1 - NV_IDEAL_ALPHA
    for theta in (0.0, math.pi):
        runs = qnodeos_run_app(TELEPORT, runs=3, platform=platform, preset="ideal", seed=10,
                               inputs={"sender": {"theta": theta, "phi": 0.0}})
        assert runs.ok, runs.errors
        qnodeos_assert.mean(runs.values("receiver", "fidelity"), expected)


def test_bell_measurement_outcomes_are_uniform(qnodeos_run_app, qnodeos_assert):
    """The sender's Bell-measurement outcomes are fair coins whatever the state (40 runs; the test can
    tell 1/2 from 1/2 ± 0.4 at the default false-alarm rate of 1e-6)."""
    runs = qnodeos_run_app(TELEPORT, runs=40, platform="trapped_ion", preset="ideal", seed=100,
                           inputs={"sender": {"theta": 1.2, "phi": 0.3}})
    assert runs.ok, runs.errors
    for key in ("m1", "m2"):
        ones = sum(runs.values("sender", key))
        qnodeos_assert.proportion(ones, 40, 0.5, resolution=0.4)


def test_a_network_fixture_gives_a_running_mock_network(qnodeos_network):
    network = qnodeos_network("nv", nodes=("alice", "bob"), preset="ideal", seed=3)
    assert set(network.services) == {"alice", "bob"}
    assert all(service.alive for service in network.services.values())

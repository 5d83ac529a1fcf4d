"""Two nodes, one heralded pair, NetQASM SDK teleportation: the smallest end-to-end network test."""
from __future__ import annotations

from pathlib import Path

import netqasm
import pytest

from qnodeos.apps.runner import run_app_dir

APPS = Path(netqasm.__file__).parent / "examples" / "apps"


@pytest.mark.parametrize("platform", ["nv", "trapped_ion"])
def test_teleport_corrections_match_the_bell_measurement(platform):
    run = run_app_dir(APPS / "teleport", platform, seed=3, timeout_s=60)
    assert run.ok, run.errors
    sender, receiver = run.results["sender"], run.results["receiver"]
    assert receiver["correction1"] == ("Z" if sender["m1"] == 1 else "None")
    assert receiver["correction2"] == ("X" if sender["m2"] == 1 else "None")
    assert all(s["busy_ticks"] > 0 for s in run.stats.values())

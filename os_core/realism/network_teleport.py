"""Teleportation between non-neighbouring nodes, as Hermans et al. (Nature 605, 663 (2022)) did it, on
three mock NV nodes through the OS and the network stack.

The application (``apps/swap_teleport``, written against the NetQASM SDK) runs on a line
alice - bob - charlie (links alice-bob and bob-charlie only, as in the Delft three-node network): bob
entangles with alice, keeps his half while he entangles with charlie, and swaps; charlie, once his
link is heralded, prepares the state and measures it with his half in the Bell basis; alice applies
both measurements' corrections and reports the state she holds, whose fidelity to the input is read
from its density matrix.

The lab applies corrections by real-time feed-forward between the nodes' controllers, with no
application host in the loop; :data:`FEED_FORWARD` stands for it (docs/realism.md says why).
"""
from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qnodeos.errors import QNodeOSError

from .figures import Measured
from .measure import CARDINAL_STATES, Context
from .teleport import get_fidelity, qubit_from

if TYPE_CHECKING:
    from qnodeos.network.spec import NetworkSpec
    from qnodeos.network.timing import NetworkTiming

SWAP_TELEPORT_APP = Path(__file__).parent / "apps" / "swap_teleport"
#: The line of the Delft three-node network: alice and charlie share no link.
LINE = (("alice", "bob"), ("bob", "charlie"))


def feed_forward_timing() -> "NetworkTiming":
    """Real-time feed-forward: no host <-> QNPU latency (the lab's sequence runs on the node's
    controller) and no processing on the classical messages between nodes (controller to
    controller); the default network schedule (bins, duty) stays."""
    from qnodeos.network.timing import INSTANT

    return INSTANT


def line_network(preset: str, device_config: dict[str, Any] | None = None,
                 link: dict[str, Any] | None = None) -> "NetworkSpec":
    """Three mock NV nodes on ``preset`` (plus ``device_config``) in a line, alice - bob - charlie;
    ``link``: LinkParams overrides on both links (e.g. a ``delivered`` pair)."""
    from qnodeos.network.spec import LinkSpec, NetworkSpec, NodeSpec

    config = {"preset": preset, **(device_config or {})}
    nodes = {name: NodeSpec(name, "mock-nv", dict(config)) for name in ("alice", "bob", "charlie")}
    return NetworkSpec(nodes, links=tuple(LinkSpec(pair, dict(link or {})) for pair in LINE),
                       source=f"the Delft line alice-bob-charlie on {preset}").check(preset)


def swap_teleport(preset: str, phi: float, theta: float, seed: int, *, timing: "NetworkTiming | None" = None,
                  device_config: dict[str, Any] | None = None, link: dict[str, Any] | None = None) -> dict[str, Any]:
    """Teleport (phi, theta) from charlie to alice through bob's swap: each role's results,
    ``fidelity`` (alice's state's fidelity to the input) and ``second_link_attempts`` (entanglement
    attempts bob's stored half went through). ``timing`` defaults to
    :func:`feed_forward_timing`; ``device_config`` comes on top of ``preset`` on every node and
    ``link`` on both links (to switch parts of the noise off one at a time)."""
    from qnodeos.apps.runner import run_app_dir

    with contextlib.redirect_stdout(io.StringIO()):
        run = run_app_dir(SWAP_TELEPORT_APP, "nv", seed=seed, preset=preset, mode="threads",
                          timing=timing or feed_forward_timing(), network=line_network(preset, device_config, link),
                          overrides={"charlie": {"phi": phi, "theta": theta}})
    if run.errors:
        raise QNodeOSError(f"teleportation between non-neighbouring nodes failed on {preset}: {run.errors}")
    fidelity = get_fidelity(qubit_from(phi, theta), run.results["alice"]["received_state"])
    # charlie attempts only on the second link: how long bob's memory held the first pair, in attempts
    return {**run.results, "fidelity": fidelity, "second_link_attempts": run.stats["charlie"]["network"]["attempts"]}


def run_swap_teleport(preset: str, phi: float, theta: float, seed: int, **options: Any) -> float:
    """The fidelity at alice of one :func:`swap_teleport` (same options)."""
    return float(swap_teleport(preset, phi, theta, seed, **options)["fidelity"])


def teleport_between_non_neighbours(platform: str, preset: str, ctx: Context) -> Measured:
    """The average over the six cardinal states (``ctx.n(4)`` seeded runs each) of the fidelity at
    alice, with its standard error."""
    if platform != "nv":
        raise QNodeOSError(f"teleportation between non-neighbouring nodes is an NV experiment, not {platform}")
    runs = ctx.n(4)
    fids = [run_swap_teleport(preset, phi, theta, seed=ctx.seed * 1000 + 10 * i + r)
            for i, (phi, theta) in enumerate(CARDINAL_STATES) for r in range(runs)]
    arr = np.array(fids)
    return Measured(float(arr.mean()), float(arr.std(ddof=1) / math.sqrt(len(arr))),
                    f"own three-node app (swap at bob, state inserted after the teleporter is heralded, "
                    f"feed-forward without host latency, no attempt timeout) via run_app_dir, 6 states x {runs} runs")

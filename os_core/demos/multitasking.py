"""One node, several NetQASM applications at once: results and device utilisation, vs one at a time."""
from __future__ import annotations

from dataclasses import dataclass

from qnodeos.hal.registry import DriverRegistry

# Virtual qubit 1: a memory qubit on NV (the single electron would serialise every application).
FIRST = """# NETQASM 1.0
# APPID 0
set Q1 1
qalloc Q1
init Q1
h Q1
"""
SECOND = """# NETQASM 1.0
# APPID 0
h Q1
meas Q1 M0
ret_reg M0
qfree Q1
"""


@dataclass
class MultitaskReport:
    driver: str
    apps: int
    correct: int
    utilisation_together: float
    utilisation_alone: float
    makespan_together_ms: float
    makespan_alone_ms: float


def run_multitasking(driver: str, apps: int = 2, host_delay_ns: int = 5_000_000, seed: int = 1,
                     registry: DriverRegistry | None = None) -> MultitaskReport:
    """Each app puts a qubit in |+> (first subroutine), its host thinks for ``host_delay_ns``, then the
    second subroutine undoes the H and measures: 0 unless noise intervened."""
    from qnodeos.node import Node

    registry = registry or DriverRegistry.load()
    results = {}
    for mode in ("together", "alone"):
        node = Node(driver, seed=seed, registry=registry)
        pids = []
        for i in range(apps):
            pids.append(node.submit([FIRST, SECOND], name=f"bell{i}", host_delay_ns=host_delay_ns))
            if mode == "alone":
                node.run()
        node.run()
        outcomes = [node.result(p).registers.get("M0") for p in pids]
        results[mode] = (node.utilisation(), node.stats()["elapsed_ns"] / 1e6, outcomes)
    correct = sum(1 for o in results["together"][2] if o == 0)
    return MultitaskReport(driver, apps, correct, results["together"][0], results["alone"][0],
                           results["together"][1], results["alone"][1])

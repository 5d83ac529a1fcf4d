"""One NetQASM program, one seed, three paths to the same mock physics: in-process driver, VISA shim
to the TCP firmware stub, serial shim to the pty firmware stub — identical outcomes and timing."""
from __future__ import annotations

import pytest

from qnodeos.drivers.mock_ion import MockIonDevice
from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.firmware_stubs.harness import served_serial, served_visa
from qnodeos.node import Node

from os_helpers import BELL

RABI = """# NETQASM 1.0
# APPID 0
set R1 8
array R1 @0
set R0 0
set Q0 0
qalloc Q0
LOOP:
beq R0 R1 END
init Q0
rot_x Q0 3 2
rot_y Q0 1 3
meas Q0 M0
store M0 @0[R0]
add R0 R0 1
jmp LOOP
END:
qfree Q0
ret_arr @0
"""


def _run(device) -> tuple[list, list, int]:  # type: ignore[no-untyped-def]
    node = Node(device)
    pids = [node.submit(RABI), node.submit(BELL), node.submit(BELL)]
    node.run()
    results = [node.result(p) for p in pids]
    assert all(r.ok for r in results), [r.error for r in results]
    timeline = [(e.instruction, e.start_ns, e.end_ns) for e in node.trace.entries()]
    return [r.arrays for r in results], timeline, node.executor.physical_count


@pytest.mark.parametrize("cls", [MockNVDevice, MockIonDevice], ids=["nv", "ion"])
def test_same_program_same_seed_same_outcomes_on_all_three_paths(cls):
    reference = _run(cls.from_config(seed=11, preset="realistic"))
    with served_visa(cls.from_config(seed=11, preset="realistic")) as link:
        assert link.shim.simulated
        visa = _run(link.shim)
        executed_visa = len(link.controller.executed)
    with served_serial(cls.from_config(seed=11, preset="realistic")) as link:
        serial = _run(link.shim)
        executed_serial = len(link.controller.executed)
    assert visa[0] == reference[0] and serial[0] == reference[0]  # outcomes
    assert visa[1] == reference[1] and serial[1] == reference[1]  # device-time timeline
    # every physical instruction reached the emulated controller exactly once
    assert executed_visa == reference[2] == executed_serial
    # and the outcomes are not trivially constant
    flat = [bit for arrays in reference[0] for values in arrays.values() for bit in values]
    assert 0 < sum(flat) < len(flat)

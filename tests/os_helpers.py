"""Shared helpers for the OS-core tests: nodes on mock devices and small NetQASM programs."""
from __future__ import annotations

from qnodeos.drivers.mock_ion import MockIonDevice
from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.node import Node

DEVICES = {"nv": MockNVDevice, "ion": MockIonDevice}


def make_node(platform: str, seed: int = 1, preset: str = "ideal", **kwargs) -> Node:
    device = DEVICES[platform].from_config(seed=seed, preset=preset)
    return Node(device, **kwargs)


HEADER = "# NETQASM 1.0\n# APPID 0\n"

BELL = HEADER + """set Q0 0
qalloc Q0
init Q0
set Q1 1
qalloc Q1
init Q1
h Q0
cnot Q0 Q1
array 2 @0
meas Q0 M0
meas Q1 M1
store M0 @0[0]
store M1 @0[1]
qfree Q0
qfree Q1
ret_arr @0
"""

X_MEASURE = HEADER + """set Q0 0
qalloc Q0
init Q0
x Q0
meas Q0 M0
ret_reg M0
qfree Q0
"""

HOLD_QUBIT = HEADER + """set Q0 0
qalloc Q0
init Q0
"""

USE_Q0_WITHOUT_ALLOC = HEADER + """set Q0 0
init Q0
h Q0
meas Q0 M0
ret_reg M0
"""


def rotation_program(num: int, denom: int, axis: str = "x") -> str:
    return HEADER + f"""set Q0 0
qalloc Q0
init Q0
rot_{axis} Q0 {num} {denom}
meas Q0 M0
ret_reg M0
qfree Q0
"""

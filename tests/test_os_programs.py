"""NetQASM programs through qnodeos.Node on mock NV and mock trapped-ion devices."""
from __future__ import annotations

import math

import pytest

from qnodeos.programs import encode_subroutine, load_subroutine

from os_helpers import BELL, X_MEASURE, make_node, rotation_program

PLATFORMS = ["nv", "ion"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_x_then_measure_gives_one(platform):
    node = make_node(platform)
    pid = node.submit(X_MEASURE)
    node.run()
    result = node.result(pid)
    assert result.ok, result.error
    assert result.registers == {"M0": 1}
    assert node.memory.allocated() == {}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_binary_encoding_runs_like_text(platform):
    raw = encode_subroutine(load_subroutine(BELL))
    from netqasm.lang.encoding import COMMAND_BYTES, METADATA_BYTES

    assert COMMAND_BYTES == 7 and (len(raw) - METADATA_BYTES) % COMMAND_BYTES == 0
    assert (len(raw) - METADATA_BYTES) // COMMAND_BYTES == len(load_subroutine(BELL).instructions)
    text_node, bin_node = make_node(platform, seed=5), make_node(platform, seed=5)
    text_pids = [text_node.submit(BELL) for _ in range(20)]
    bin_pids = [bin_node.submit(raw) for _ in range(20)]
    text_node.run(), bin_node.run()
    text = [text_node.result(p).arrays[0] for p in text_pids]
    binary = [bin_node.result(p).arrays[0] for p in bin_pids]
    assert text == binary


def _bell_counts(platform: str, shots: int, seed: int) -> dict[tuple, int]:
    node = make_node(platform, seed=seed)
    pids = [node.submit(BELL) for _ in range(shots)]
    node.run()
    counts: dict[tuple, int] = {}
    for pid in pids:
        result = node.result(pid)
        assert result.ok, result.error
        key = tuple(result.arrays[0])
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_bell_statistics_agree_between_nv_and_ion():
    shots = 400
    nv, ion = _bell_counts("nv", shots, 11), _bell_counts("ion", shots, 12)
    for counts in (nv, ion):
        assert set(counts) <= {(0, 0), (1, 1)}  # perfectly correlated in the ideal case
        sigma = math.sqrt(shots * 0.25)
        assert abs(counts.get((0, 0), 0) - shots / 2) < 5 * sigma
    # the two platforms' fractions of |00> agree within sampling error
    diff = nv.get((0, 0), 0) - ion.get((0, 0), 0)
    assert abs(diff) < 5 * math.sqrt(2 * shots * 0.25)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("axis", ["x", "y", "z"])
def test_rotation_statistics_follow_born_rule(platform, axis):
    shots = 300
    for num, denom in [(1, 1), (1, 2), (3, 2)]:
        node = make_node(platform, seed=num * 10 + denom)
        pids = [node.submit(rotation_program(num, denom, axis)) for _ in range(shots)]
        node.run()
        ones = sum(node.result(p).registers["M0"] for p in pids)
        theta = num * math.pi / 2**denom
        p1 = 0.0 if axis == "z" else math.sin(theta / 2) ** 2
        sigma = math.sqrt(shots * max(p1 * (1 - p1), 1 / shots))
        assert abs(ones - shots * p1) <= 5 * sigma + 1


@pytest.mark.parametrize("platform", PLATFORMS)
def test_classical_loop_with_branches_and_arrays(platform):
    # sum 0..9 in a loop, store squares in an array, return both
    prog = """# NETQASM 1.0
# APPID 0
set R0 0
set R1 0
set R2 10
array R2 @0
LOOP:
beq R0 R2 END
add R1 R1 R0
mul R3 R0 R0
store R3 @0[R0]
add R0 R0 1
jmp LOOP
END:
ret_reg R1
ret_arr @0
"""
    node = make_node(platform)
    pid = node.submit(prog)
    node.run()
    result = node.result(pid)
    assert result.registers == {"R1": 45}
    assert result.arrays[0] == [i * i for i in range(10)]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_same_seed_same_outcomes_and_different_seed_differs(platform):
    def outcomes(seed):
        node = make_node(platform, seed=seed, preset="realistic")
        pids = [node.submit(rotation_program(1, 1)) for _ in range(60)]
        node.run()
        return [node.result(p).registers["M0"] for p in pids]

    assert outcomes(7) == outcomes(7)
    assert outcomes(7) != outcomes(8)


def test_nv_carbon_is_read_through_the_electron_and_the_electron_kept():
    # Q0 (electron) measured first, then Q1 (carbon) needs the electron as ancilla
    node = make_node("nv")
    pid = node.submit(BELL)
    node.run()
    result = node.result(pid)
    assert result.ok, result.error
    physical = [e.physical for e in node.trace.entries() if e.instruction.startswith("meas Q1")]
    assert physical and physical[0][-1] == "measure" and "controlled_rotate" in physical[0]


def test_multi_subroutine_program_keeps_registers_and_qubits():
    first = """# NETQASM 1.0
# APPID 0
set Q0 0
qalloc Q0
init Q0
x Q0
set R5 42
"""
    second = """# NETQASM 1.0
# APPID 0
meas Q0 M0
ret_reg M0
ret_reg R5
qfree Q0
"""
    node = make_node("ion")
    pid = node.submit([first, second], host_delay_ns=50_000)
    node.run()
    result = node.result(pid)
    assert result.ok, result.error
    assert result.registers == {"M0": 1, "R5": 42}
    assert len(result.subroutines) == 2
    assert result.subroutines[1].start_ns - result.subroutines[0].end_ns >= 50_000

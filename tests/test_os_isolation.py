"""Process isolation and clean-up: no access across processes, nothing leaked on failure."""
from __future__ import annotations

import pytest

from qnodeos.errors import OutOfQubits, QubitAccessError
from qnodeos.process import ProcessState

from os_helpers import HEADER, HOLD_QUBIT, USE_Q0_WITHOUT_ALLOC, X_MEASURE, make_node


def test_process_cannot_touch_a_qubit_it_does_not_own():
    node = make_node("ion")
    owner = node.submit([HOLD_QUBIT, HEADER + "x Q0\nmeas Q0 M0\nret_reg M0\n"], host_delay_ns=1_000_000)
    intruder = node.submit(USE_Q0_WITHOUT_ALLOC)  # virtual qubit 0 is the owner's, not the intruder's
    node.run()
    bad = node.result(intruder)
    assert bad.state is ProcessState.FAILED
    assert "has no qubit with virtual id 0" in bad.error and "init Q0" in bad.error
    good = node.result(owner)
    assert good.ok and good.registers == {"M0": 1}  # the owner's qubit was not disturbed
    assert node.memory.allocated() == {}


def test_same_virtual_id_in_two_processes_maps_to_different_qubits():
    node = make_node("ion")
    a = node.submit([HOLD_QUBIT, HEADER + "meas Q0 M0\nret_reg M0\n"], host_delay_ns=500_000)
    b = node.submit([HOLD_QUBIT, HEADER + "x Q0\nmeas Q0 M0\nret_reg M0\n"], host_delay_ns=100_000)
    node.run()
    assert node.result(a).registers == {"M0": 0}
    assert node.result(b).registers == {"M0": 1}


def test_memory_manager_refuses_cross_process_access_directly():
    node = make_node("nv")
    phys = node.memory.allocate(pid=1, virtual_id=0)
    with pytest.raises(QubitAccessError, match="process 2 has no qubit with virtual id 0"):
        node.memory.physical(2, 0)
    with pytest.raises(QubitAccessError):
        node.memory.free(2, 0)
    assert node.memory.owner_of(phys).pid == 1
    node.memory.free_all(1)
    assert node.memory.allocated() == {}


def test_failing_process_frees_its_qubits_and_others_continue():
    failing = HEADER + """set Q0 0
qalloc Q0
init Q0
set Q1 1
qalloc Q1
init Q1
load R0 @9[R1]
"""
    node = make_node("nv")
    bad = node.submit(failing)
    goods = [node.submit(X_MEASURE) for _ in range(3)]
    node.run()
    result = node.result(bad)
    assert result.state is ProcessState.FAILED
    assert "register R1 is undefined" in result.error or "array @9 does not exist" in result.error
    assert all(node.result(p).registers == {"M0": 1} for p in goods)
    assert node.memory.allocated() == {}


def test_nv_flavour_holder_of_the_electron_makes_a_second_one_wait_when_pinned():
    """NV-flavour programs keep the flavour's convention (virtual qubit 0 = the electron). A pinned
    holder is never moved, so a second NV-flavour process waits for the electron until it is freed."""
    node = make_node("nv")
    holder = node.submit([HOLD_QUBIT + "rot_y Q0 8 4\n", HEADER + "qfree Q0\n"], host_delay_ns=1_000_000,
                         flavour="nv", pinned=True)
    second = node.submit(X_MEASURE.replace("x Q0", "rot_x Q0 16 4"), flavour="nv")
    node.run()
    first, waiting = node.result(holder), node.result(second)
    assert first.ok and waiting.ok and waiting.registers == {"M0": 1}
    # the second process only got the electron after the holder freed it
    assert waiting.subroutines[0].end_ns > first.subroutines[1].start_ns
    assert node.stats()["memory"]["moves"] == 0
    assert node.memory.allocated() == {}


def test_allocation_that_can_never_succeed_fails_clearly():
    node = make_node("nv")
    node.memory.allocate(1, 0)
    with pytest.raises(OutOfQubits, match="no free communication qubit"):
        node.memory.allocate(2, 0)
    node.memory.free_all(1)
    # a program asking for more qubits than exist fails instead of waiting forever
    program = HEADER + "".join(f"set Q{i} {i}\nqalloc Q{i}\n" for i in range(1, 5))
    pid = node.submit(program)
    node.run()
    result = node.result(pid)
    assert result.state is ProcessState.FAILED and "no free qubit for virtual id 4" in result.error
    assert node.memory.allocated() == {}
    # in the NV flavour, virtual ids other than 0 are carbons: the third one finds none
    pid = node.submit(program, flavour="nv")
    node.run()
    result = node.result(pid)
    assert result.state is ProcessState.FAILED and "no free memory qubit for virtual id 3" in result.error
    assert node.memory.allocated() == {}


def test_max_qubits_limit_per_process():
    node = make_node("ion")
    pid = node.submit(HEADER + "set Q0 0\nqalloc Q0\nset Q1 1\nqalloc Q1\n", max_qubits=1)
    node.run()
    result = node.result(pid)
    assert result.state is ProcessState.FAILED and "virtual qubit id 1 is outside" in result.error
    assert node.memory.allocated() == {}

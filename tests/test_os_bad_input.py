"""Bad programs get clear errors, nothing runs for a refused program, and the OS keeps serving."""
from __future__ import annotations

import pytest

from qnodeos.errors import PlatformError, ProgramError
from qnodeos.process import ProcessState

from os_helpers import HEADER, X_MEASURE, make_node


@pytest.mark.parametrize("text, fragment", [
    (HEADER + "frobnicate Q0\n", "frobnicate"),
    (HEADER + "set Q0\n", "cannot parse"),
    ("not netqasm at all", "cannot parse"),
    (HEADER + "jmp 99\n", "branch target 99"),
])
def test_malformed_text_is_refused_with_its_cause(text, fragment):
    node = make_node("nv")
    with pytest.raises(ProgramError, match=fragment):
        node.submit(text)
    assert list(node.processes()) == []


@pytest.mark.parametrize("raw", [b"", b"\x00" * 3, b"\x00\x00\x00\x00\x00\x00\xff" * 2, b"garbage!" * 5])
def test_corrupt_binary_is_refused(raw):
    node = make_node("ion")
    with pytest.raises(ProgramError):
        node.submit(raw)


def test_two_qubit_gate_between_two_carbons_is_refused_before_execution_in_the_nv_flavour():
    """The NV flavour's convention (virtual 0 = electron, others = carbons) makes a gate between
    virtual qubits 1 and 2 a gate between two carbons, which the device cannot do."""
    program = HEADER + """set Q1 1
qalloc Q1
init Q1
set Q2 2
qalloc Q2
init Q2
cnot Q1 Q2
"""
    node = make_node("nv")
    before = node.device.now_ns
    with pytest.raises(PlatformError) as err:
        node.submit(program.replace("cnot Q1 Q2", "crot_x Q1 Q2 8 4"), flavour="nv")
    message = str(err.value)
    assert "line 6" in message and "crot_x Q1 Q2" in message and "memory" in message and "NV flavour" in message
    assert node.device.now_ns == before and node.memory.allocated() == {}
    # a vanilla program is placed freely: the OS puts one of the two on the electron
    pid = node.submit(program + "x Q1\ncnot Q1 Q2\nmeas Q1 M0\nmeas Q2 M1\nret_reg M0\nret_reg M1\n")
    node.run()
    assert node.result(pid).ok, node.result(pid).error
    assert node.result(pid).registers == {"M0": 1, "M1": 1}
    # and the same program is fine on ions (all-to-all)
    ion = make_node("ion")
    pid = ion.submit(program)
    ion.run()
    assert ion.result(pid).ok


def test_ion_flavour_instruction_on_nv_without_native_gate_is_refused():
    node = make_node("nv")
    with pytest.raises(ProgramError):
        node.submit(HEADER + "bichromatic 1 1\n", flavour="trapped_ion")


def test_entanglement_without_a_network_fails_clearly_and_frees_qubits():
    program = HEADER + """set Q0 0
qalloc Q0
array 1 @0
store Q0 @0[0]
array 20 @1
array 10 @2
set R0 1
set R1 0
set R2 0
set R3 1
set R4 2
create_epr R0 R1 R2 R3 R4
wait_all @2[0:10]
"""
    node = make_node("nv")
    pid = node.submit(program)
    other = node.submit(X_MEASURE)
    node.run()
    result = node.result(pid)
    assert result.state is ProcessState.FAILED and "network stack" in result.error
    assert node.result(other).ok
    assert node.memory.allocated() == {}


def test_waiting_forever_is_reported_as_deadlock_not_hang():
    program = HEADER + """set Q0 0
qalloc Q0
array 2 @0
wait_all @0[0:2]
"""
    node = make_node("ion")
    pid = node.submit(program)
    node.run()
    result = node.result(pid)
    assert result.state is ProcessState.FAILED and "nothing will deliver" in result.error
    assert node.memory.allocated() == {}


def test_runtime_errors_name_the_instruction():
    node = make_node("ion")
    pid = node.submit(HEADER + "set R0 1\nset R1 0\ndiv R2 R0 R1\n")
    node.run()
    error = node.result(pid).error
    assert "div by zero" in error and "line 2" in error


def test_array_memory_per_process_is_limited():
    program = HEADER + "".join(f"set R0 1048576\narray R0 @{k}\n" for k in range(5))
    node = make_node("ion")
    pid = node.submit(program)
    node.run()
    result = node.result(pid)
    assert result.state is ProcessState.FAILED and "limit 4194304" in result.error
    assert sum(len(a) for p in node.processes() for a in p.arrays.values()) <= 4194304


def test_parse_error_on_nv_names_the_real_problem():
    node = make_node("nv")
    with pytest.raises(ProgramError, match="0x10"):
        node.submit(HEADER + "set Q0 0\nqalloc Q0\nh Q0\nset R0 0x10\n")

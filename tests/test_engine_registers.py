"""Register bookkeeping, ordering conventions and whole-state access."""

from __future__ import annotations

import numpy as np
import pytest

from qnodeos.drivers import channels
from qnodeos.drivers._engine import StateEngine

try:
    from reference_dm import random_density_matrix
except ImportError:  # tests/ imported as a package
    from tests.reference_dm import random_density_matrix  # type: ignore[no-redef]


def _ket_dm(bits: str) -> np.ndarray:
    d = 2 ** len(bits)
    m = np.zeros((d, d))
    i = int(bits, 2)
    m[i, i] = 1.0
    return m


def test_new_qubits_are_separate_and_in_ground_state() -> None:
    eng = StateEngine(seed=0)
    qs = [eng.add_qubit() for _ in range(3)]
    assert qs == [0, 1, 2]
    assert eng.num_qubits == 3
    assert eng.qubits == (0, 1, 2)
    for q in qs:
        assert eng.register_of(q) == (q,)
        np.testing.assert_array_equal(eng.density_matrix([q]), _ket_dm("0"))


def test_big_endian_ordering() -> None:
    eng = StateEngine(seed=0)
    a, b = eng.add_qubit(), eng.add_qubit()
    eng.apply_unitary_1q(b, channels.X)
    np.testing.assert_array_equal(eng.density_matrix([a, b]), _ket_dm("01"))
    np.testing.assert_array_equal(eng.density_matrix([b, a]), _ket_dm("10"))
    # CNOT: first qubit is the control
    eng.apply_unitary_2q(b, a, channels.CNOT)
    np.testing.assert_allclose(eng.density_matrix([a, b]), _ket_dm("11"), atol=1e-15)
    eng.apply_unitary_2q(a, b, channels.CNOT)
    np.testing.assert_allclose(eng.density_matrix([a, b]), _ket_dm("10"), atol=1e-15)


def test_two_qubit_gate_merges_in_call_order() -> None:
    eng = StateEngine(seed=0)
    qs = [eng.add_qubit() for _ in range(4)]
    eng.apply_unitary_2q(qs[2], qs[0], channels.CZ)
    assert eng.register_of(qs[0]) == (qs[2], qs[0])
    eng.apply_unitary_2q(qs[3], qs[0], channels.CZ)
    assert eng.register_of(qs[0]) == (qs[3], qs[2], qs[0])
    assert eng.register_of(qs[1]) == (qs[1],)
    # a gate inside one register does not reorder it
    eng.apply_unitary_2q(qs[0], qs[3], channels.CNOT)
    assert eng.register_of(qs[2]) == (qs[3], qs[2], qs[0])


def test_unitary_on_non_adjacent_pair_in_bigger_register() -> None:
    eng = StateEngine(seed=0)
    qs = [eng.add_qubit() for _ in range(4)]
    eng.set_state(qs, _ket_dm("1000"))
    eng.apply_unitary_2q(qs[0], qs[3], channels.CNOT)
    np.testing.assert_allclose(eng.density_matrix(qs), _ket_dm("1001"), atol=1e-15)
    eng.apply_unitary_2q(qs[3], qs[1], channels.CNOT)
    np.testing.assert_allclose(eng.density_matrix(qs), _ket_dm("1101"), atol=1e-15)


def test_set_state_and_reduced_matrices() -> None:
    rng = np.random.default_rng(0)
    eng = StateEngine(seed=0)
    qs = [eng.add_qubit() for _ in range(3)]
    rho = random_density_matrix(rng, 3)
    eng.set_state(qs, rho)
    assert eng.register_of(qs[1]) == tuple(qs)
    np.testing.assert_allclose(eng.density_matrix(qs), rho, atol=1e-15)
    t = rho.reshape((2,) * 6)
    np.testing.assert_allclose(eng.density_matrix([qs[0]]), np.einsum("abcdbc->ad", t), atol=1e-14)
    np.testing.assert_allclose(
        eng.density_matrix([qs[2], qs[0]]), np.einsum("abcdbf->cafd", t).reshape(4, 4), atol=1e-14
    )
    perm = np.einsum("abcdef->cabfde", t).reshape(8, 8)
    np.testing.assert_allclose(eng.density_matrix([qs[2], qs[0], qs[1]]), perm, atol=1e-14)


def test_set_state_takes_qubits_out_of_existing_registers() -> None:
    eng = StateEngine(seed=0)
    a, b, c = (eng.add_qubit() for _ in range(3))
    eng.apply_unitary_1q(a, channels.H)
    eng.apply_unitary_2q(a, b, channels.CNOT)
    eng.apply_unitary_2q(b, c, channels.CNOT)  # GHZ on a, b, c
    bell = np.zeros((4, 4))
    bell[np.ix_([0, 3], [0, 3])] = 0.5
    eng.set_state([c, a], bell)
    assert eng.register_of(b) == (b,)
    assert eng.register_of(a) == (c, a)
    np.testing.assert_allclose(eng.density_matrix([b]), np.eye(2) / 2, atol=1e-15)
    np.testing.assert_allclose(eng.density_matrix([a, c]), bell, atol=1e-15)
    np.testing.assert_allclose(
        eng.density_matrix([a, b, c]),
        np.kron(np.eye(2) / 2, bell).reshape(2, 2, 2, 2, 2, 2).transpose(2, 0, 1, 5, 3, 4).reshape(8, 8),
        atol=1e-15,
    )


def test_set_state_copies_its_input_and_density_matrix_returns_copies() -> None:
    eng = StateEngine(seed=0)
    q = eng.add_qubit()
    rho = np.diag([0.25, 0.75]).astype(complex)
    eng.set_state([q], rho)
    rho[0, 0] = 99
    out = eng.density_matrix([q])
    out[1, 1] = 42
    np.testing.assert_array_equal(eng.density_matrix([q]), np.diag([0.25, 0.75]))
    assert out.flags.c_contiguous and out.dtype == np.complex128


def test_density_matrix_across_registers_is_tensor_product() -> None:
    eng = StateEngine(seed=0)
    a, b = eng.add_qubit(), eng.add_qubit()
    eng.apply_unitary_1q(a, channels.ry(0.7))
    eng.apply_unitary_1q(b, channels.rx(1.9))
    ra, rb = eng.density_matrix([a]), eng.density_matrix([b])
    np.testing.assert_allclose(eng.density_matrix([a, b]), np.kron(ra, rb), atol=1e-15)
    np.testing.assert_allclose(eng.density_matrix([b, a]), np.kron(rb, ra), atol=1e-15)
    assert eng.register_of(a) == (a,)  # reading does not merge


def test_reset_and_remove_trace_out_entangled_qubit() -> None:
    eng = StateEngine(seed=0)
    a, b, c = (eng.add_qubit() for _ in range(3))
    eng.apply_unitary_1q(a, channels.H)
    eng.apply_unitary_2q(a, b, channels.CNOT)
    eng.apply_unitary_2q(b, c, channels.CNOT)
    eng.reset(a)
    assert eng.register_of(a) == (a,)
    assert eng.register_of(b) == (b, c)
    np.testing.assert_array_equal(eng.density_matrix([a]), _ket_dm("0"))
    np.testing.assert_allclose(eng.density_matrix([b, c]), (_ket_dm("00") + _ket_dm("11")) / 2, atol=1e-15)
    eng.remove_qubit(b)
    assert eng.num_qubits == 2
    assert eng.qubits == (a, c)
    np.testing.assert_allclose(eng.density_matrix([c]), np.eye(2) / 2, atol=1e-15)
    with pytest.raises(KeyError):
        eng.register_of(b)


def test_many_qubits_in_separate_registers_are_cheap() -> None:
    """A node with 40 qubits stays fine as long as they are not all entangled."""
    eng = StateEngine(seed=1)
    qs = [eng.add_qubit() for _ in range(40)]
    for i in range(0, 40, 2):
        eng.apply_unitary_1q(qs[i], channels.H)
        eng.apply_unitary_2q(qs[i], qs[i + 1], channels.CNOT)
    for i in range(0, 40, 2):
        assert eng.measure(qs[i]) == eng.measure(qs[i + 1])

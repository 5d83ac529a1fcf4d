"""Bad input is rejected with messages that say what is wrong."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from qnodeos.drivers import channels
from qnodeos.drivers._engine import (
    MAX_REGISTER_QUBITS,
    RegisterTooLargeError,
    StateEngine,
    UnknownQubitError,
)


@pytest.fixture
def eng() -> StateEngine:
    e = StateEngine(seed=0)
    e.add_qubit()
    e.add_qubit()
    return e


UNKNOWN_QUBIT_CALLS: list[Callable[[StateEngine], Any]] = [
    lambda e: e.apply_unitary_1q(7, channels.X),
    lambda e: e.apply_superop_1q(7, np.eye(4)),
    lambda e: e.apply_unitary_2q(0, 7, channels.CNOT),
    lambda e: e.apply_unitary_2q(7, 0, channels.CNOT),
    lambda e: e.depolarize_1q(7, 0.1),
    lambda e: e.depolarize_2q(0, 7, 0.1),
    lambda e: e.dephase(7, 0.1),
    lambda e: e.amplitude_damp(7, 0.1),
    lambda e: e.idle(7, 1.0, 2.0, 1.0),
    lambda e: e.measure(7),
    lambda e: e.measure_detailed(7),
    lambda e: e.probability_one(7),
    lambda e: e.reset(7),
    lambda e: e.remove_qubit(7),
    lambda e: e.register_of(7),
    lambda e: e.density_matrix([0, 7]),
    lambda e: e.set_state([7], np.diag([1.0, 0.0])),
]


@pytest.mark.parametrize("call", UNKNOWN_QUBIT_CALLS)
def test_unknown_qubit(eng: StateEngine, call: Callable[[StateEngine], Any]) -> None:
    with pytest.raises(UnknownQubitError, match="unknown qubit 7") as info:
        call(eng)
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, ValueError)
    assert str(info.value) == "unknown qubit 7"


def test_removed_qubit_is_unknown_and_ids_are_not_reused(eng: StateEngine) -> None:
    eng.remove_qubit(1)
    with pytest.raises(KeyError, match="unknown qubit 1"):
        eng.apply_unitary_1q(1, channels.X)
    assert eng.add_qubit() == 2


def test_same_qubit_twice(eng: StateEngine) -> None:
    with pytest.raises(ValueError, match="distinct"):
        eng.apply_unitary_2q(0, 0, channels.CNOT)
    with pytest.raises(ValueError, match="distinct"):
        eng.depolarize_2q(1, 1, 0.1)
    with pytest.raises(ValueError, match="listed twice"):
        eng.density_matrix([0, 0])
    with pytest.raises(ValueError, match="listed twice"):
        eng.set_state([1, 1], np.eye(4) / 4)


@pytest.mark.parametrize(
    "call, shape",
    [
        (lambda e: e.apply_unitary_1q(0, np.eye(3)), r"\(2, 2\)"),
        (lambda e: e.apply_unitary_1q(0, np.eye(4)), r"\(2, 2\)"),
        (lambda e: e.apply_unitary_1q(0, [1, 0]), r"\(2, 2\)"),
        (lambda e: e.apply_superop_1q(0, np.eye(2)), r"\(4, 4\)"),
        (lambda e: e.apply_superop_1q(0, np.eye(16)), r"\(4, 4\)"),
        (lambda e: e.apply_unitary_2q(0, 1, np.eye(2)), r"\(4, 4\)"),
        (lambda e: e.apply_unitary_2q(0, 1, np.ones((4, 4, 1))), r"\(4, 4\)"),
    ],
)
def test_bad_matrix_shapes(eng: StateEngine, call: Callable[[StateEngine], Any], shape: str) -> None:
    with pytest.raises(ValueError, match=shape):
        call(eng)


def test_matrices_of_other_dtypes_and_layouts_are_accepted(eng: StateEngine) -> None:
    eng.apply_unitary_1q(0, [[0, 1], [1, 0]])  # nested list of ints
    eng.apply_superop_1q(1, np.asfortranarray(channels.unitary_superop(channels.X)))
    eng.apply_unitary_2q(0, 1, channels.CNOT.real.astype(np.float32))
    assert eng.probability_one(0) == pytest.approx(1.0)
    assert eng.probability_one(1) == pytest.approx(0.0)


@pytest.mark.parametrize(
    "rho, message",
    [
        (np.ones((2, 3)) / 2, "must be square"),
        (np.eye(4) / 4, r"must have shape \(2, 2\)"),
        (np.array([[0.5, 0.5], [0.1, 0.5]]), "not Hermitian"),
        (np.diag([0.5, 0.6]), "trace must be 1"),
        (np.diag([1.2, -0.2]), "not positive semidefinite"),
        (np.array([[np.nan, 0], [0, 1]]), "non-finite"),
        (np.array([["a", "b"], ["c", "d"]]), "numeric"),
    ],
)
def test_set_state_validation(eng: StateEngine, rho: np.ndarray, message: str) -> None:
    before = eng.density_matrix([0, 1])
    with pytest.raises(ValueError, match=message):
        eng.set_state([0], rho)
    np.testing.assert_array_equal(eng.density_matrix([0, 1]), before)  # nothing changed


def test_set_state_trace_within_tolerance_is_accepted(eng: StateEngine) -> None:
    eng.set_state([0], np.diag([1.0 + 5e-10, 0.0]))
    with pytest.raises(ValueError, match="trace"):
        eng.set_state([0], np.diag([1.0 + 5e-9, 0.0]))


def test_t2_longer_than_twice_t1(eng: StateEngine) -> None:
    with pytest.raises(ValueError, match=r"t2=5\.0 > 2\*t1=4\.0"):
        eng.idle(0, 1.0, 2.0, 5.0)
    with pytest.raises(ValueError, match=r"t2=5\.0 > 2\*t1=4\.0"):
        channels.idle_superop(1.0, 2.0, 5.0)
    eng.idle(0, 1.0, 2.0, 4.0)  # the T1 limit itself is fine


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda e: e.idle(0, -1.0, 1.0, 1.0), "dt"),
        (lambda e: e.idle(0, math.nan, 1.0, 1.0), "dt"),
        (lambda e: e.idle(0, 1.0, -1.0, 1.0), "t1 and t2"),
        (lambda e: e.depolarize_1q(0, 1.5), r"in \[0, 1\]"),
        (lambda e: e.depolarize_2q(0, 1, -0.1), r"in \[0, 1\]"),
        (lambda e: e.dephase(0, 2.0), r"in \[0, 1\]"),
        (lambda e: e.amplitude_damp(0, math.nan), r"in \[0, 1\]"),
        (lambda e: e.apply_unitary_2q(0, 1, channels.CNOT, p_depol=3.0), r"in \[0, 1\]"),
        (lambda e: e.measure(0, p_flip0=1.1), r"p_flip0 must be in \[0, 1\]"),
        (lambda e: e.measure(0, p_flip1=-1), r"p_flip1 must be in \[0, 1\]"),
    ],
)
def test_bad_parameters(eng: StateEngine, call: Callable[[StateEngine], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(eng)


def test_register_size_cap() -> None:
    assert MAX_REGISTER_QUBITS == 12
    e = StateEngine(seed=0)
    qs = [e.add_qubit() for _ in range(13)]
    for i in range(6):
        e.apply_unitary_2q(qs[i], qs[i + 1], channels.CNOT)  # 7-qubit register
    for i in range(7, 12):
        e.apply_unitary_2q(qs[i], qs[i + 1], channels.CNOT)  # 6-qubit register
    with pytest.raises(RegisterTooLargeError, match="13 qubits; the limit is 12"):
        e.apply_unitary_2q(qs[0], qs[12], channels.CNOT)
    assert len(e.register_of(qs[0])) == 7  # untouched
    with pytest.raises(ValueError, match="limit is 12"):
        e.set_state(qs, np.eye(2))  # refused before the matrix is even looked at


def test_empty_qubit_lists(eng: StateEngine) -> None:
    with pytest.raises(ValueError, match="at least one qubit"):
        eng.density_matrix([])
    with pytest.raises(ValueError, match="at least one qubit"):
        eng.set_state([], np.ones((1, 1)))

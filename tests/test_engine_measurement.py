"""Measurement: Born statistics, collapse, readout error, seeded reproducibility.

Statistical checks use fixed seeds, so they are deterministic; tolerances are
5 sigma (or a chi-square bound at p ~ 1e-4), i.e. they would also pass for
almost any other seed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from qnodeos.drivers import channels
from qnodeos.drivers._engine import StateEngine

SHOTS = 20000


def _five_sigma(p: float, shots: int = SHOTS) -> float:
    return 5 * math.sqrt(max(p * (1 - p), 1e-4) / shots)


@pytest.mark.parametrize("theta", [0.0, 0.4, math.pi / 2, 2.2, math.pi])
def test_single_qubit_frequencies_follow_born_rule(theta: float) -> None:
    eng = StateEngine(seed=11)
    q = eng.add_qubit()
    ones = 0
    for _ in range(SHOTS):
        eng.reset(q)
        eng.apply_unitary_1q(q, channels.ry(theta))
        ones += eng.measure(q)
    p = math.sin(theta / 2) ** 2
    assert abs(ones / SHOTS - p) < _five_sigma(p)
    if p in (0.0, 1.0):
        assert ones == SHOTS * p


def test_two_qubit_outcome_distribution_chi_square() -> None:
    """Entangled non-uniform state; joint outcomes vs Born probabilities."""
    eng = StateEngine(seed=5)
    a, b = eng.add_qubit(), eng.add_qubit()
    u = channels.controlled(channels.ry(1.3))

    def prepare() -> None:
        eng.reset(a)
        eng.reset(b)
        eng.apply_unitary_1q(a, channels.ry(2.0))
        eng.apply_unitary_2q(a, b, u)
        eng.depolarize_2q(a, b, 0.1)

    prepare()
    born = np.real(np.diag(eng.density_matrix([a, b])))
    counts = np.zeros(4)
    for _ in range(SHOTS):
        prepare()
        ma = eng.measure(a)
        mb = eng.measure(b)
        counts[2 * ma + mb] += 1
    expected = born * SHOTS
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    assert chi2 < 21.1  # 3 dof, p = 1e-4


def test_collapse_splits_register_and_correlates_bell_pair() -> None:
    eng = StateEngine(seed=3)
    for _ in range(200):
        a, b = eng.add_qubit(), eng.add_qubit()
        eng.apply_unitary_1q(a, channels.H)
        eng.apply_unitary_2q(a, b, channels.CNOT)
        m = eng.measure(a)
        assert eng.register_of(a) == (a,)
        assert eng.register_of(b) == (b,)
        want = np.zeros((2, 2))
        want[m, m] = 1.0
        np.testing.assert_allclose(eng.density_matrix([a]), want, atol=1e-12)
        np.testing.assert_allclose(eng.density_matrix([b]), want, atol=1e-12)
        assert eng.measure(b) == m
        eng.remove_qubit(a)
        eng.remove_qubit(b)
    assert eng.num_qubits == 0


def test_collapse_renormalises_the_rest_of_the_register() -> None:
    eng = StateEngine(seed=9)
    qs = [eng.add_qubit() for _ in range(3)]
    eng.apply_unitary_1q(qs[0], channels.ry(1.0))
    eng.apply_unitary_2q(qs[0], qs[1], channels.CNOT)
    eng.apply_unitary_1q(qs[2], channels.H)
    eng.apply_unitary_2q(qs[1], qs[2], channels.CZ)
    full = eng.density_matrix(qs)
    true, _ = eng.measure_detailed(qs[1])
    # project the saved full state by hand
    proj = np.kron(np.kron(np.eye(2), np.diag([1 - true, true])), np.eye(2))
    post = proj @ full @ proj
    post /= np.trace(post)
    rest = post.reshape(2, 2, 2, 2, 2, 2)[:, true, :, :, true, :].reshape(4, 4)
    np.testing.assert_allclose(eng.density_matrix([qs[0], qs[2]]), rest, atol=1e-12)
    assert eng.register_of(qs[0]) == (qs[0], qs[2])


@pytest.mark.parametrize("prep, p_flip", [(0, 0.1), (1, 0.2), (1, 0.0)])
def test_readout_error_rates(prep: int, p_flip: float) -> None:
    eng = StateEngine(seed=21)
    q = eng.add_qubit()
    flipped = 0
    for _ in range(SHOTS):
        eng.reset(q)
        if prep:
            eng.apply_unitary_1q(q, channels.X)
        kwargs = {"p_flip0": p_flip, "p_flip1": 0.5} if prep == 0 else {"p_flip0": 0.5, "p_flip1": p_flip}
        true, reported = eng.measure_detailed(q, **kwargs)
        assert true == prep
        flipped += reported != true
    assert abs(flipped / SHOTS - p_flip) < _five_sigma(p_flip)
    if p_flip == 0.0:
        assert flipped == 0


def test_readout_error_does_not_change_true_outcomes() -> None:
    """Same seed: the true-outcome sequence ignores the readout parameters."""
    seqs = []
    for flips in ((0.0, 0.0), (0.3, 0.4)):
        eng = StateEngine(seed=77)
        q = eng.add_qubit()
        seq = []
        for _ in range(300):
            eng.reset(q)
            eng.apply_unitary_1q(q, channels.H)
            seq.append(eng.measure_detailed(q, *flips)[0])
        seqs.append(seq)
    assert seqs[0] == seqs[1]


def _outcomes(seed: int | None, shots: int = 400) -> list[int]:
    eng = StateEngine(seed=seed)
    q = eng.add_qubit()
    out = []
    for _ in range(shots):
        eng.reset(q)
        eng.apply_unitary_1q(q, channels.H)
        out.append(eng.measure(q, p_flip0=0.05, p_flip1=0.05))
    return out


def test_same_seed_same_outcomes_different_seed_different() -> None:
    assert _outcomes(123) == _outcomes(123)
    assert _outcomes(123) != _outcomes(124)
    assert _outcomes(None) != _outcomes(None)


def test_measure_detailed_returns_true_and_reported() -> None:
    eng = StateEngine(seed=0)
    q = eng.add_qubit()
    assert eng.measure_detailed(q) == (0, 0)
    assert eng.measure_detailed(q, p_flip0=1.0) == (0, 1)
    eng.apply_unitary_1q(q, channels.X)
    assert eng.measure_detailed(q, p_flip1=1.0) == (1, 0)
    assert eng.probability_one(q) == 1.0


def test_project_forces_outcome_and_returns_probability() -> None:
    eng = StateEngine(seed=0)
    a, b = eng.add_qubit(), eng.add_qubit()
    eng.apply_unitary_1q(a, channels.ry(1.0))
    eng.apply_unitary_2q(a, b, channels.CNOT)
    p1 = math.sin(0.5) ** 2
    assert eng.project(a, 1) == pytest.approx(p1, abs=1e-12)
    assert eng.register_of(a) == (a,)
    np.testing.assert_allclose(eng.density_matrix([b]), np.diag([0.0, 1.0]), atol=1e-12)
    with pytest.raises(ValueError, match=r"cannot project qubit 1 onto \|0>"):
        eng.project(b, 0)
    with pytest.raises(ValueError, match="outcome must be 0 or 1"):
        eng.project(b, 2)
    assert eng.project(b, 1) == pytest.approx(1.0)

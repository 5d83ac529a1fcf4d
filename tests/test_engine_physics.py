"""Analytical physics checks of the engine: closed-form results, no oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qnodeos.drivers import channels
from qnodeos.drivers._engine import StateEngine

ATOL = 1e-12


def _engine(n: int) -> tuple[StateEngine, list[int]]:
    eng = StateEngine(seed=0)
    return eng, [eng.add_qubit() for _ in range(n)]


@pytest.mark.parametrize("theta", np.linspace(0.0, 4 * math.pi, 17))
def test_rabi_oscillation(theta: float) -> None:
    eng, (q,) = _engine(1)
    eng.apply_unitary_1q(q, channels.rx(theta))
    assert eng.probability_one(q) == pytest.approx(math.sin(theta / 2) ** 2, abs=ATOL)


@pytest.mark.parametrize("phi", [0.0, 0.7, math.pi / 2, 2.5])
def test_rabi_any_drive_phase_via_superop(phi: float) -> None:
    """Equatorial drive axis: same Rabi curve; superop and unitary routes agree."""
    for theta in np.linspace(0.0, 2 * math.pi, 9):
        eng, (a, b) = _engine(2)
        u = channels.phi_rotation(phi, theta)
        eng.apply_unitary_1q(a, u)
        eng.apply_superop_1q(b, channels.unitary_superop(u))
        for q in (a, b):
            assert eng.probability_one(q) == pytest.approx(math.sin(theta / 2) ** 2, abs=ATOL)
        np.testing.assert_allclose(eng.density_matrix([a]), eng.density_matrix([b]), atol=ATOL)


@pytest.mark.parametrize("t", [0.0, 0.3, 1.0, 2.5, 7.0])
def test_ramsey_coherence_decays_with_t2(t: float) -> None:
    t2 = 1.7
    eng, (q,) = _engine(1)
    eng.apply_unitary_1q(q, channels.ry(math.pi / 2))  # |+>
    eng.idle(q, t, math.inf, t2)
    rho = eng.density_matrix([q])
    assert abs(rho[0, 1]) == pytest.approx(0.5 * math.exp(-t / t2), abs=ATOL)
    assert rho[0, 0].real == pytest.approx(0.5, abs=ATOL)
    # Ramsey fringe: free precession by detuning w, then the closing pi/2
    w = 2.3
    eng.apply_unitary_1q(q, channels.rz(w * t))
    eng.apply_unitary_1q(q, channels.ry(math.pi / 2))
    want = 0.5 * (1.0 + math.exp(-t / t2) * math.cos(w * t))
    assert eng.probability_one(q) == pytest.approx(want, abs=ATOL)


@pytest.mark.parametrize("t", [0.0, 0.5, 1.0, 3.0, 10.0])
def test_t1_decay_of_excited_population(t: float) -> None:
    t1 = 2.0
    eng, (q,) = _engine(1)
    eng.apply_unitary_1q(q, channels.X)
    eng.idle(q, t, t1, None)
    assert eng.probability_one(q) == pytest.approx(math.exp(-t / t1), abs=ATOL)


def test_idle_with_t1_and_t2_together() -> None:
    t, t1, t2 = 0.8, 3.0, 1.1
    eng, (q,) = _engine(1)
    rho0 = np.array([[0.3, 0.2 - 0.1j], [0.2 + 0.1j, 0.7]])
    eng.set_state([q], rho0)
    eng.idle(q, t, t1, t2)
    rho = eng.density_matrix([q])
    e1 = math.exp(-t / t1)
    assert rho[1, 1].real == pytest.approx(0.7 * e1, abs=ATOL)
    assert rho[0, 0].real == pytest.approx(1 - 0.7 * e1, abs=ATOL)
    assert rho[0, 1] == pytest.approx((0.2 - 0.1j) * math.exp(-t / t2), abs=ATOL)


def test_idle_is_a_semigroup() -> None:
    """Ten idles of dt equal one idle of 10 dt (what a scheduler relies on)."""
    a, (q1,) = _engine(1)
    b, (q2,) = _engine(1)
    for eng, q in ((a, q1), (b, q2)):
        eng.apply_unitary_1q(q, channels.ry(1.0))
    for _ in range(10):
        a.idle(q1, 0.1, 2.0, 1.5)
    b.idle(q2, 1.0, 2.0, 1.5)
    np.testing.assert_allclose(a.density_matrix([q1]), b.density_matrix([q2]), atol=ATOL)


def test_idle_without_times_is_identity_and_t2_only_keeps_populations() -> None:
    eng, (q,) = _engine(1)
    eng.apply_unitary_1q(q, channels.ry(1.0))
    before = eng.density_matrix([q])
    eng.idle(q, 5.0, 0.0, math.inf)
    np.testing.assert_allclose(eng.density_matrix([q]), before, atol=ATOL)
    eng.idle(q, 5.0, None, 2.0)
    after = eng.density_matrix([q])
    assert np.allclose(np.diag(after), np.diag(before), atol=ATOL)
    assert after[0, 1] == pytest.approx(before[0, 1] * math.exp(-2.5), abs=ATOL)


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 1.0])
def test_depolarising_shrinks_bloch_vector(p: float) -> None:
    eng, (q,) = _engine(1)
    eng.apply_unitary_1q(q, channels.rotation((1, 1, 0), 1.1))
    before = eng.density_matrix([q])
    eng.depolarize_1q(q, p)
    want = (1 - p) * before + p * np.eye(2) / 2
    np.testing.assert_allclose(eng.density_matrix([q]), want, atol=ATOL)


def test_depolarising_one_qubit_of_a_pair_keeps_the_other_marginal() -> None:
    eng, (a, b) = _engine(2)
    eng.apply_unitary_1q(a, channels.H)
    eng.apply_unitary_2q(a, b, channels.CNOT)
    eng.depolarize_1q(a, 0.4)
    np.testing.assert_allclose(eng.density_matrix([b]), np.eye(2) / 2, atol=ATOL)
    rho = eng.density_matrix([a, b])
    assert rho[0, 3].real == pytest.approx(0.5 * 0.6, abs=ATOL)


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 1.0])
def test_dephasing_scales_coherence(p: float) -> None:
    eng, (q,) = _engine(1)
    eng.apply_unitary_1q(q, channels.H)
    eng.dephase(q, p)
    rho = eng.density_matrix([q])
    assert rho[0, 1].real == pytest.approx(0.5 * (1 - 2 * p), abs=ATOL)
    assert rho[0, 0].real == pytest.approx(0.5, abs=ATOL)


@pytest.mark.parametrize("gamma", [0.0, 0.3, 1.0])
def test_amplitude_damping(gamma: float) -> None:
    eng, (q,) = _engine(1)
    eng.apply_unitary_1q(q, channels.ry(math.pi / 2))
    eng.amplitude_damp(q, gamma)
    rho = eng.density_matrix([q])
    assert rho[1, 1].real == pytest.approx(0.5 * (1 - gamma), abs=ATOL)
    assert rho[0, 1].real == pytest.approx(0.5 * math.sqrt(1 - gamma), abs=ATOL)


def _bell_pair() -> tuple[StateEngine, int, int]:
    eng, (a, b) = _engine(2)
    eng.apply_unitary_1q(a, channels.H)
    eng.apply_unitary_2q(a, b, channels.CNOT)
    return eng, a, b


PHI_PLUS = np.array([1, 0, 0, 1]) / math.sqrt(2)


def test_bell_state_fidelity_one() -> None:
    eng, a, b = _bell_pair()
    rho = eng.density_matrix([a, b])
    fidelity = float(np.real(PHI_PLUS.conj() @ rho @ PHI_PLUS))
    assert fidelity == pytest.approx(1.0, abs=ATOL)
    assert eng.register_of(a) == (a, b)
    np.testing.assert_allclose(eng.density_matrix([a]), np.eye(2) / 2, atol=ATOL)


@pytest.mark.parametrize("p", [0.0, 0.1, 0.6, 1.0])
def test_two_qubit_depolarising_on_bell_pair(p: float) -> None:
    """Werner state: F = (1-p) + p/4, both as a separate channel and fused."""
    for fused in (False, True):
        eng, (a, b) = _engine(2)
        eng.apply_unitary_1q(a, channels.H)
        if fused:
            eng.apply_unitary_2q(a, b, channels.CNOT, p_depol=p)
        else:
            eng.apply_unitary_2q(a, b, channels.CNOT)
            eng.depolarize_2q(a, b, p)
        rho = eng.density_matrix([a, b])
        assert float(np.real(PHI_PLUS @ rho @ PHI_PLUS)) == pytest.approx(1 - 0.75 * p, abs=ATOL)
        want = (1 - p) * np.outer(PHI_PLUS, PHI_PLUS) + p * np.eye(4) / 4
        np.testing.assert_allclose(rho, want, atol=ATOL)


def test_ghz_across_many_registers() -> None:
    n = 6
    eng, qs = _engine(n)
    eng.apply_unitary_1q(qs[0], channels.H)
    for i in range(n - 1):
        eng.apply_unitary_2q(qs[i], qs[i + 1], channels.CNOT)
    rho = eng.density_matrix(qs)
    d = 2**n
    assert rho[0, 0].real == pytest.approx(0.5, abs=ATOL)
    assert rho[0, d - 1].real == pytest.approx(0.5, abs=ATOL)
    assert rho[d - 1, d - 1].real == pytest.approx(0.5, abs=ATOL)
    assert np.count_nonzero(np.abs(rho) > 1e-12) == 4


def test_swap_gate_exchanges_states() -> None:
    eng, (a, b) = _engine(2)
    eng.apply_unitary_1q(a, channels.ry(0.9))
    eng.apply_unitary_1q(b, channels.rx(2.1))
    ra, rb = eng.density_matrix([a]), eng.density_matrix([b])
    eng.apply_unitary_2q(a, b, channels.SWAP)
    np.testing.assert_allclose(eng.density_matrix([a]), rb, atol=ATOL)
    np.testing.assert_allclose(eng.density_matrix([b]), ra, atol=ATOL)

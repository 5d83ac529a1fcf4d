"""The channel builders in qnodeos.drivers.channels, and their agreement with
the engine's built-in channels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qnodeos.drivers import channels
from qnodeos.drivers._engine import StateEngine

angles = st.floats(-10.0, 10.0)
probs = st.floats(0.0, 1.0)


def _unitary(u: np.ndarray) -> bool:
    return np.allclose(u @ u.conj().T, np.eye(u.shape[0]), atol=1e-12)


@given(theta=angles, ax=st.tuples(angles, angles, angles).filter(lambda v: np.linalg.norm(v) > 1e-3))
@settings(max_examples=50, deadline=None)
def test_rotations_are_unitary_with_right_angle(theta: float, ax: tuple[float, float, float]) -> None:
    u = channels.rotation(ax, theta)
    assert _unitary(u)
    # trace of exp(-i theta/2 n.sigma) is 2 cos(theta/2)
    assert np.trace(u) == pytest.approx(2 * math.cos(theta / 2), abs=1e-12)


def test_named_gates() -> None:
    for g in (channels.X, channels.Y, channels.Z, channels.H, channels.S_GATE, channels.T_GATE):
        assert _unitary(g)
    for g in (channels.CNOT, channels.CZ, channels.SWAP, channels.controlled(channels.H)):
        assert _unitary(g)
    np.testing.assert_allclose(channels.rx(math.pi), -1j * channels.X, atol=1e-15)
    np.testing.assert_allclose(channels.controlled(channels.X), channels.CNOT)
    np.testing.assert_allclose(channels.phi_rotation(math.pi / 2, 0.3), channels.ry(0.3), atol=1e-15)


def test_superop_convention_row_major_vec() -> None:
    """vec(A M B) = kron(A, B.T) vec(M) for row-major vec."""
    rng = np.random.default_rng(0)
    a, m = rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2)), rng.normal(size=(2, 2))
    s = channels.unitary_superop(a)
    np.testing.assert_allclose(s @ m.reshape(-1), (a @ m @ a.conj().T).reshape(-1), atol=1e-12)
    np.testing.assert_allclose(channels.apply_superop_to_matrix(s, m), a @ m @ a.conj().T, atol=1e-12)


@given(pd=probs, pz=probs, pa=probs, theta=angles)
@settings(max_examples=50, deadline=None)
def test_noise_superops_are_cptp(pd: float, pz: float, pa: float, theta: float) -> None:
    for s in (
        channels.depolarizing_superop(pd),
        channels.dephasing_superop(pz),
        channels.amplitude_damping_superop(pa),
        channels.noisy_gate_superop(channels.rx(theta), depolarize=pd, dephase=pz, amplitude_damp=pa),
    ):
        assert channels.is_cptp(s)


@given(dt=st.floats(0, 10), t1=st.floats(0.01, 10), frac=st.floats(0, 1))
@settings(max_examples=50, deadline=None)
def test_idle_superop_is_cptp_and_matches_engine(dt: float, t1: float, frac: float) -> None:
    t2 = 2 * t1 * frac
    s = channels.idle_superop(dt, t1, t2)
    assert channels.is_cptp(s, atol=1e-9)
    eng = StateEngine(seed=0)
    a, b = eng.add_qubit(), eng.add_qubit()
    for q in (a, b):
        eng.apply_unitary_1q(q, channels.rotation((1, 0.3, 0.2), 2.0))
    eng.idle(a, dt, t1, t2)
    eng.apply_superop_1q(b, s)
    np.testing.assert_allclose(eng.density_matrix([a]), eng.density_matrix([b]), atol=1e-14)


def test_not_cptp_detected() -> None:
    assert not channels.is_cptp(np.diag([1, 1, 1, 2]))  # not trace preserving
    transpose = np.eye(4)[[0, 2, 1, 3]]  # M -> M^T: positive but not CP
    assert not channels.is_cptp(transpose)


@pytest.mark.parametrize("p", [0.0, 0.25, 1.0])
def test_builders_match_engine_channels(p: float) -> None:
    rng = np.random.default_rng(1)
    pairs = [
        (lambda e, q: e.depolarize_1q(q, p), channels.depolarizing_superop(p)),
        (lambda e, q: e.dephase(q, p), channels.dephasing_superop(p)),
        (lambda e, q: e.amplitude_damp(q, p), channels.amplitude_damping_superop(p)),
    ]
    for builtin, s in pairs:
        eng = StateEngine(seed=0)
        qs = [eng.add_qubit() for _ in range(3)]
        g = rng.normal(size=(8, 8)) + 1j * rng.normal(size=(8, 8))
        rho = g @ g.conj().T
        eng.set_state(qs, rho / np.trace(rho))
        other = StateEngine(seed=0)
        oq = [other.add_qubit() for _ in range(3)]
        other.set_state(oq, rho / np.trace(rho))
        builtin(eng, qs[1])
        other.apply_superop_1q(oq[1], s)
        np.testing.assert_allclose(eng.density_matrix(qs), other.density_matrix(oq), atol=1e-14)


def test_compose_order() -> None:
    s = channels.compose(channels.unitary_superop(channels.X), channels.amplitude_damping_superop(1.0))
    # X then full damping ends in |0>; the other order ends in |1>
    out = channels.apply_superop_to_matrix(s, np.diag([1.0, 0.0]))
    np.testing.assert_allclose(out, np.diag([1.0, 0.0]), atol=1e-15)


def test_builder_errors() -> None:
    with pytest.raises(ValueError, match="non-zero 3-vector"):
        channels.rotation((0, 0, 0), 1.0)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        channels.depolarizing_kraus(1.5)
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        channels.noisy_gate_superop(np.eye(4))
    with pytest.raises(ValueError, match="empty"):
        channels.kraus_to_superop([])

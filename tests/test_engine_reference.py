"""The engine against the independent numpy oracle on random noisy circuits.

Hypothesis draws the circuit structure (size, operation kinds, targets, noise
parameters); matrices come from a drawn seed.  Each circuit runs on every
kernel family the CPU supports (portable, AVX2, AVX-512) and must match
``ReferenceDM`` to 1e-10, and the final state must be a valid density matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qnodeos.drivers import _engine, channels
from qnodeos.drivers._engine import StateEngine

try:
    from reference_dm import FusedNumpyDM, ReferenceDM, random_density_matrix, random_unitary
except ImportError:  # tests/ imported as a package
    from tests.reference_dm import (  # type: ignore[no-redef]
        FusedNumpyDM,
        ReferenceDM,
        random_density_matrix,
        random_unitary,
    )

#: Kernel families this CPU can run: 0 portable, 1 AVX2+FMA, 2 AVX-512.
KERNELS = list(range(_engine._cpu_simd_level() + 1))

idx = st.integers(0, 4)
seed = st.integers(0, 2**32 - 1)
prob = st.floats(0.0, 1.0)
small_prob = st.floats(0.0, 0.3)

OPS = st.one_of(
    st.tuples(st.just("u1"), idx, seed),
    st.tuples(st.just("noisy"), idx, seed, small_prob, small_prob, small_prob),
    st.tuples(st.just("kraus"), idx, seed, st.integers(1, 4)),
    st.tuples(st.just("u2"), idx, idx, seed, small_prob),
    st.tuples(
        st.just("idle"),
        idx,
        st.floats(0.0, 5.0),
        st.floats(0.1, 10.0),
        st.floats(0.0, 1.0),
        st.sampled_from(["both", "t1", "t2", "none"]),
    ),
    st.tuples(st.just("dep1"), idx, prob),
    st.tuples(st.just("dep2"), idx, idx, prob),
    st.tuples(st.just("deph"), idx, prob),
    st.tuples(st.just("amp"), idx, prob),
    st.tuples(st.just("meas"), idx),
    st.tuples(st.just("reset"), idx),
    st.tuples(st.just("set"), st.lists(idx, min_size=1, max_size=3, unique=True), seed, st.integers(1, 8)),
)


def _pair(n: int, a: int, b: int) -> tuple[int, int]:
    a %= n
    b = (a + 1 + b % (n - 1)) % n
    return a, b


def _random_kraus(rng: np.random.Generator, rank: int) -> list[np.ndarray]:
    """Random CPTP map: blocks of a random isometry C^2 -> C^(2 rank)."""
    g = rng.normal(size=(2 * rank, 2)) + 1j * rng.normal(size=(2 * rank, 2))
    v, _ = np.linalg.qr(g)
    return [v[2 * i : 2 * i + 2, :] for i in range(rank)]


def _run(n: int, ops: list[tuple[Any, ...]]) -> tuple[StateEngine, ReferenceDM, list[int]]:
    eng = StateEngine(seed=1234)
    ref = ReferenceDM()
    qs = [eng.add_qubit() for _ in range(n)]
    for q in qs:
        ref.add_qubit(q)
    for op in ops:
        kind = op[0]
        if kind in ("u2", "dep2"):
            if n < 2:
                continue
            a, b = _pair(n, op[1], op[2])
            qa, qb = qs[a], qs[b]
        else:
            q = qs[op[1] % n] if kind != "set" else None
        if kind == "u1":
            u = random_unitary(np.random.default_rng(op[2]), 2)
            eng.apply_unitary_1q(q, u)
            ref.apply_unitary_1q(q, u)
        elif kind == "noisy":
            _, _, s, pd, pz, pa = op
            u = random_unitary(np.random.default_rng(s), 2)
            eng.apply_superop_1q(q, channels.noisy_gate_superop(u, depolarize=pd, dephase=pz, amplitude_damp=pa))
            ref.apply_unitary_1q(q, u)
            ref.amplitude_damp(q, pa)
            ref.dephase(q, pz)
            ref.depolarize_1q(q, pd)
        elif kind == "kraus":
            ks = _random_kraus(np.random.default_rng(op[2]), op[3])
            eng.apply_superop_1q(q, channels.kraus_to_superop(ks))
            ref.apply_kraus_1q(q, ks)
        elif kind == "u2":
            u = random_unitary(np.random.default_rng(op[3]), 4)
            eng.apply_unitary_2q(qa, qb, u, p_depol=op[4])
            ref.apply_unitary_2q(qa, qb, u, op[4])
        elif kind == "idle":
            _, _, dt, t1, frac, which = op
            t2 = 2.0 * t1 * frac
            a1 = t1 if which in ("both", "t1") else float("inf")
            a2 = t2 if which in ("both", "t2") else 0.0
            eng.idle(q, dt, a1, a2)
            ref.idle(q, dt, a1, a2)
        elif kind == "dep1":
            eng.depolarize_1q(q, op[2])
            ref.depolarize_1q(q, op[2])
        elif kind == "dep2":
            eng.depolarize_2q(qa, qb, op[3])
            ref.depolarize_2q(qa, qb, op[3])
        elif kind == "deph":
            eng.dephase(q, op[2])
            ref.dephase(q, op[2])
        elif kind == "amp":
            eng.amplitude_damp(q, op[2])
            ref.amplitude_damp(q, op[2])
        elif kind == "meas":
            outcome, _ = eng.measure_detailed(q)
            ref.project(q, outcome)
            assert eng.register_of(q) == (q,)
        elif kind == "reset":
            eng.reset(q)
            ref.reset(q)
        elif kind == "set":
            targets = [qs[i % n] for i in op[1]]
            targets = list(dict.fromkeys(targets))
            rho = random_density_matrix(np.random.default_rng(op[2]), len(targets), rank=min(op[3], 2 ** len(targets)))
            eng.set_state(targets, rho)
            ref.set_state(targets, rho)
    return eng, ref, qs


def _assert_valid_state(rho: np.ndarray) -> None:
    assert abs(np.trace(rho) - 1.0) < 1e-10
    assert np.max(np.abs(rho - rho.conj().T)) < 1e-12
    assert np.linalg.eigvalsh(0.5 * (rho + rho.conj().T)).min() >= -1e-12


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 5), ops=st.lists(OPS, min_size=1, max_size=25), data=st.data())
def test_random_circuit_matches_reference(n: int, ops: list[tuple[Any, ...]], data: st.DataObject) -> None:
    order_seed = data.draw(seed, label="readout order seed")
    try:
        for simd in KERNELS:
            _engine._set_simd(simd)
            eng, ref, qs = _run(n, ops)
            got = eng.density_matrix(qs)
            want = ref.density_matrix(qs)
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
            _assert_valid_state(got)
            # any qubit order / subset agrees too
            sub = list(np.random.default_rng(order_seed).permutation(qs)[: max(1, n - 1)])
            np.testing.assert_allclose(eng.density_matrix(sub), ref.density_matrix(sub), rtol=0, atol=1e-10)
            for q in qs:
                assert abs(eng.probability_one(q) - ref.probability_one(q)) < 1e-10
    finally:
        _engine._set_simd(True)


@pytest.mark.parametrize("simd", KERNELS)
@pytest.mark.parametrize("n", [6, 7, 8])
def test_larger_registers_match_fused_numpy(simd: int, n: int) -> None:
    """Every target position and pair on registers beyond the oracle's reach,
    against the tensordot implementation."""
    rng = np.random.default_rng(n)
    try:
        _engine._set_simd(simd)
        eng = StateEngine(seed=0)
        qs = [eng.add_qubit() for _ in range(n)]
        rho = random_density_matrix(rng, n)
        eng.set_state(qs, rho)
        peer = FusedNumpyDM(n)
        peer.t = rho.reshape((2,) * (2 * n)).copy()
        for k in range(n):
            u = random_unitary(rng, 2)
            p = float(rng.uniform(0, 0.2))
            eng.apply_superop_1q(qs[k], channels.noisy_gate_superop(u, depolarize=p))
            peer.apply_1q(k, FusedNumpyDM.fuse_1q(u, p))
        for k0 in range(n):
            for k1 in range(n):
                if k0 != k1:
                    u = random_unitary(rng, 4)
                    p = float(rng.uniform(0, 0.2))
                    eng.apply_unitary_2q(qs[k0], qs[k1], u, p_depol=p)
                    peer.apply_2q(k0, k1, FusedNumpyDM.fuse_2q(u, p))
        got = eng.density_matrix(qs)
        np.testing.assert_allclose(got, peer.matrix(), rtol=0, atol=1e-11)
        _assert_valid_state(got)
    finally:
        _engine._set_simd(True)


def _layer(eng: StateEngine, qs: list[int], r: np.random.Generator) -> None:
    """Random channel on every qubit, random 2q gates on two pair patterns."""
    n = len(qs)
    for k in range(n):
        eng.apply_superop_1q(qs[k], channels.kraus_to_superop(_random_kraus(r, 3)))
        if n > 1:
            eng.apply_unitary_2q(qs[k], qs[(k + 1) % n], random_unitary(r, 4), p_depol=0.1)
        if n > 2:
            eng.apply_unitary_2q(qs[(k + 2) % n], qs[k], random_unitary(r, 4))


FAMILIES = [(level, halving) for level in KERNELS for halving in ((False, True) if level else (False,))]


@pytest.mark.skipif(len(KERNELS) < 2, reason="CPU without AVX2/FMA: only portable kernels")
@pytest.mark.parametrize("n", range(1, 9))
def test_all_kernel_families_agree(n: int) -> None:
    """Same circuit on every kernel family (and with/without the Hermitian
    halving of the 2q kernel), including a non-Hermiticity-preserving
    superoperator followed by more gates: it must bypass the Pauli-transfer
    fast path and switch the halving off for that register."""
    rng = np.random.default_rng(100 + n)
    rho = random_density_matrix(rng, n)
    results = []
    try:
        for level, halving in FAMILIES:
            assert _engine._set_simd(level) == level
            _engine._set_halving(halving)
            eng = StateEngine(seed=0)
            qs = [eng.add_qubit() for _ in range(n)]
            eng.set_state(qs, rho)
            r = np.random.default_rng(7)  # same gates for every family
            _layer(eng, qs, r)
            # M -> A M with A not unitary: linear, not Hermiticity-preserving
            a = r.normal(size=(2, 2)) + 1j * r.normal(size=(2, 2))
            eng.apply_superop_1q(qs[0], np.kron(a, np.eye(2)))
            _layer(eng, qs, r)
            results.append(eng.density_matrix(qs))
    finally:
        _engine._set_simd(True)
        _engine._set_halving(True)
    for other in results[1:]:
        np.testing.assert_allclose(other, results[0], rtol=0, atol=1e-11 * np.abs(results[0]).max())

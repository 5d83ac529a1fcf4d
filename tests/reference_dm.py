"""Plain-numpy density-matrix simulators used to check and benchmark the engine.

``ReferenceDM`` is the test oracle.  It deliberately shares no algorithm with
``qnodeos.drivers._engine``: one global matrix over all qubits (no registers),
every channel applied as full-size Kraus operators built with ``np.kron`` and
applied as ``sum_k K rho K^dag``, arbitrary superoperators converted to Kraus
form through their Choi matrix, two-qubit gates on arbitrary (non-adjacent)
pairs built as sums of Kronecker products, and T1/T2 idling composed from
amplitude damping plus pure dephasing rather than written down directly.
It does not import ``channels``.  It is slow (dense 2^n x 2^n products) and
only meant for a handful of qubits.

``FusedNumpyDM`` is the benchmark's peer: what a reasonable numpy author
would write for speed -- one register, each noisy gate pre-fused into one
superoperator and applied with a single ``tensordot`` on the reshaped rho.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

CMatrix = NDArray[np.complex128]

_I = np.eye(2, dtype=np.complex128)
_X = np.array([[0, 1], [1, 0]], dtype=np.complex128)
_Y = np.array([[0, -1j], [1j, 0]], dtype=np.complex128)
_Z = np.array([[1, 0], [0, -1]], dtype=np.complex128)
_PAULIS = (_I, _X, _Y, _Z)


def _unit(a: int, b: int) -> CMatrix:
    """Matrix unit |a><b| on one qubit."""
    e = np.zeros((2, 2), dtype=np.complex128)
    e[a, b] = 1.0
    return e


def superop_to_kraus(s: CMatrix, atol: float = 1e-12) -> list[CMatrix]:
    """Kraus operators of a one-qubit superoperator (row-major vec convention).

    S[(i,j),(k,l)] is the coefficient of M[k,l] in M'[i,j]; realigned it is
    the Choi matrix J[(i,k),(j,l)], whose eigenvectors (scaled by sqrt of the
    eigenvalues) reshaped to 2x2 (out, in) are Kraus operators.
    """
    s = np.asarray(s, dtype=np.complex128)
    choi = s.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)
    choi = 0.5 * (choi + choi.conj().T)
    vals, vecs = np.linalg.eigh(choi)
    if vals.min() < -1e-9:
        raise ValueError(f"superoperator is not completely positive (Choi eigenvalue {vals.min():.3g})")
    return [np.sqrt(v) * vecs[:, i].reshape(2, 2) for i, v in enumerate(vals) if v > atol]


class ReferenceDM:
    """Oracle: one density matrix over all qubits, full-size Kraus operators."""

    def __init__(self) -> None:
        self.qubits: list[int] = []
        self.rho: CMatrix = np.ones((1, 1), dtype=np.complex128)

    # -- construction helpers ---------------------------------------------------

    def _pos(self, q: int) -> int:
        return self.qubits.index(q)

    def _embed(self, factors: dict[int, CMatrix]) -> CMatrix:
        """Kronecker product over all qubits: factors[pos] there, identity elsewhere."""
        out = np.ones((1, 1), dtype=np.complex128)
        for pos in range(len(self.qubits)):
            out = np.kron(out, factors.get(pos, _I))
        return out

    def _full_1q(self, q: int, k: CMatrix) -> CMatrix:
        return self._embed({self._pos(q): k})

    def _full_2q(self, q0: int, q1: int, u: CMatrix) -> CMatrix:
        """U on (q0, q1) as sum_{ac,bd} U[(a,b),(c,d)] |a><c|_q0 (x) |b><d|_q1."""
        p0, p1 = self._pos(q0), self._pos(q1)
        full = np.zeros_like(self.rho)
        for a in range(2):
            for b in range(2):
                for c in range(2):
                    for d in range(2):
                        coef = u[2 * a + b, 2 * c + d]
                        if coef != 0:
                            full += coef * self._embed({p0: _unit(a, c), p1: _unit(b, d)})
        return full

    def _kraus(self, fulls: Sequence[CMatrix]) -> None:
        self.rho = sum(k @ self.rho @ k.conj().T for k in fulls)  # type: ignore[assignment]

    # -- API mirroring the engine -----------------------------------------------

    def add_qubit(self, q: int) -> None:
        self.qubits.append(q)
        self.rho = np.kron(self.rho, _unit(0, 0))

    def apply_unitary_1q(self, q: int, u: CMatrix) -> None:
        self._kraus([self._full_1q(q, np.asarray(u, dtype=np.complex128))])

    def apply_kraus_1q(self, q: int, kraus: Sequence[CMatrix]) -> None:
        self._kraus([self._full_1q(q, np.asarray(k, dtype=np.complex128)) for k in kraus])

    def apply_superop_1q(self, q: int, s: CMatrix) -> None:
        self.apply_kraus_1q(q, superop_to_kraus(s))

    def apply_unitary_2q(self, q0: int, q1: int, u: CMatrix, p_depol: float = 0.0) -> None:
        self._kraus([self._full_2q(q0, q1, np.asarray(u, dtype=np.complex128))])
        if p_depol:
            self.depolarize_2q(q0, q1, p_depol)

    def depolarize_1q(self, q: int, p: float) -> None:
        # I/2 (x) Tr_q rho = (1/4) sum_P P rho P
        self.apply_kraus_1q(q, [np.sqrt(1 - p) * _I] + [np.sqrt(p / 4) * P for P in _PAULIS])

    def depolarize_2q(self, q0: int, q1: int, p: float) -> None:
        p0, p1 = self._pos(q0), self._pos(q1)
        ks = [np.sqrt(1 - p) * self._embed({})]
        ks += [np.sqrt(p / 16) * self._embed({p0: P, p1: Q}) for P in _PAULIS for Q in _PAULIS]
        self._kraus(ks)

    def dephase(self, q: int, p: float) -> None:
        self.apply_kraus_1q(q, [np.sqrt(1 - p) * _I, np.sqrt(p) * _Z])

    def amplitude_damp(self, q: int, gamma: float) -> None:
        self.apply_kraus_1q(
            q,
            [
                np.array([[1, 0], [0, np.sqrt(1 - gamma)]], dtype=np.complex128),
                np.sqrt(gamma) * _unit(0, 1),
            ],
        )

    def idle(self, q: int, dt: float, t1: float | None, t2: float | None) -> None:
        """Amplitude damping (T1) followed by the pure dephasing that brings the
        total coherence decay to exp(-dt/T2)."""
        absent = lambda t: t is None or t == 0 or np.isinf(t)  # noqa: E731
        e1 = 1.0 if absent(t1) else float(np.exp(-dt / t1))
        if not absent(t2):
            e2 = float(np.exp(-dt / t2))
        elif not absent(t1):
            e2 = float(np.exp(-dt / (2 * t1)))
        else:
            e2 = 1.0
        # Amplitude damping written with sqrt(e1) itself: going through gamma = 1 - e1 loses all the
        # precision of sqrt(1 - gamma) once e1 is tiny (a long idle).
        self.apply_kraus_1q(q, [np.array([[1, 0], [0, np.sqrt(e1)]], dtype=complex),
                                np.array([[0, np.sqrt(1.0 - e1)], [0, 0]], dtype=complex)])
        # amplitude damping leaves coherence factor sqrt(e1); dephasing p
        # multiplies it by (1 - 2p)
        self.dephase(q, min(max(0.5 * (1.0 - e2 / np.sqrt(e1)), 0.0), 1.0))

    def reset(self, q: int) -> None:
        self.apply_kraus_1q(q, [_unit(0, 0), _unit(0, 1)])

    def project(self, q: int, outcome: int) -> float:
        """Collapse q onto |outcome>; returns the Born probability it had."""
        proj = self._full_1q(q, _unit(outcome, outcome))
        prob = float(np.real(np.trace(proj @ self.rho)))
        self.rho = proj @ self.rho @ proj / prob
        return prob

    def probability_one(self, q: int) -> float:
        return float(np.real(np.trace(self._full_1q(q, _unit(1, 1)) @ self.rho)))

    def density_matrix(self, qubits: Sequence[int]) -> CMatrix:
        """Reduced matrix over ``qubits`` in that order (partial trace by
        summing <k| rho |k> over the traced qubits' basis states)."""
        keep = list(qubits)
        gone = [q for q in self.qubits if q not in keep]
        rho = self.rho
        order = list(self.qubits)
        for q in gone:
            pos = order.index(q)
            n = len(order)
            acc = np.zeros((2 ** (n - 1), 2 ** (n - 1)), dtype=np.complex128)
            for k in range(2):
                # <k|_q as a 2^(n-1) x 2^n operator
                bra = np.ones((1, 1), dtype=np.complex128)
                for p in range(n):
                    bra = np.kron(bra, _unit(0, k)[:1] if p == pos else _I)
                acc += bra @ rho @ bra.conj().T
            rho = acc
            order.pop(pos)
        # permute with a permutation matrix
        k = len(keep)
        perm = np.zeros((2**k, 2**k))
        for idx in range(2**k):
            bits = [(idx >> (k - 1 - i)) & 1 for i in range(k)]  # bits in 'order'
            new = 0
            for q in keep:
                new = 2 * new + bits[order.index(q)]
            perm[new, idx] = 1.0
        return perm @ rho @ perm.T

    def set_state(self, qubits: Sequence[int], rho: CMatrix) -> None:
        """Trace ``qubits`` out and append them, in the new joint state."""
        rest = [q for q in self.qubits if q not in qubits]
        reduced = self.density_matrix(rest) if rest else np.ones((1, 1), dtype=np.complex128)
        self.qubits = rest + list(qubits)
        self.rho = np.kron(reduced, np.asarray(rho, dtype=np.complex128))


class FusedNumpyDM:
    """Benchmark peer: one register, fused noisy gates via tensordot.

    Gate superoperators are precomputed once (as a driver would); applying
    one is a single ``tensordot`` over the target's row and column axes of
    rho viewed as a (2,)*2n tensor, and a ``moveaxis`` view to restore order.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        rho = np.zeros((2**n, 2**n), dtype=np.complex128)
        rho[0, 0] = 1.0
        self.t = rho.reshape((2,) * (2 * n))

    @staticmethod
    def fuse_1q(u: CMatrix, p_depol: float) -> NDArray[np.complex128]:
        """(2,2,2,2) tensor [out_r, out_c, in_r, in_c] of depolarise o U-conjugation."""
        s = np.kron(u, u.conj())
        dep = (1 - p_depol) * np.eye(4) + (p_depol / 2) * np.outer([1, 0, 0, 1], [1, 0, 0, 1])
        return (dep @ s).reshape(2, 2, 2, 2)

    @staticmethod
    def fuse_2q(u: CMatrix, p_depol: float) -> NDArray[np.complex128]:
        """(2,)*8 tensor [r0, r1, c0, c1, in_r0, in_r1, in_c0, in_c1]."""
        s = np.kron(u, u.conj())  # on row-major vec of the 4x4 block
        idv = np.eye(4).reshape(-1)
        dep = (1 - p_depol) * np.eye(16) + (p_depol / 4) * np.outer(idv, idv)
        return (dep @ s).reshape((2,) * 8)

    def apply_1q(self, k: int, s4: NDArray[np.complex128]) -> None:
        n = self.n
        out = np.tensordot(s4, self.t, axes=([2, 3], [k, n + k]))
        self.t = np.moveaxis(out, [0, 1], [k, n + k])

    def apply_2q(self, k0: int, k1: int, s8: NDArray[np.complex128]) -> None:
        n = self.n
        axes = [k0, k1, n + k0, n + k1]
        out = np.tensordot(s8, self.t, axes=([4, 5, 6, 7], axes))
        self.t = np.moveaxis(out, [0, 1, 2, 3], axes)

    def matrix(self) -> CMatrix:
        d = 2**self.n
        return np.ascontiguousarray(self.t).reshape(d, d)


# -- random objects for tests and benchmarks ---------------------------------------


def random_unitary(rng: np.random.Generator, dim: int) -> CMatrix:
    """Haar-random unitary (QR of a complex Gaussian matrix, phases fixed)."""
    a = rng.normal(size=(dim, dim)) + 1j * rng.normal(size=(dim, dim))
    q, r = np.linalg.qr(a)
    return q * (np.diag(r) / np.abs(np.diag(r)))


def random_density_matrix(rng: np.random.Generator, n_qubits: int, rank: int | None = None) -> CMatrix:
    """Random mixed state of the given rank (full rank by default)."""
    d = 2**n_qubits
    g = rng.normal(size=(d, rank or d)) + 1j * rng.normal(size=(d, rank or d))
    m = g @ g.conj().T
    return m / np.trace(m)

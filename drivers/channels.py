"""Builders for the gate and noise matrices fed to the state engine.

The engine applies one-qubit channels as 4x4 superoperators acting on the
row-major vectorisation of a 2x2 block, ``vec(M) = [M00, M01, M10, M11]``.
With that convention ``vec(A M B) = kron(A, B.T) vec(M)``, so a Kraus
channel ``M -> sum_k K M K^dag`` has superoperator ``sum_k kron(K, conj(K))``
and channels compose by matrix product (``S_second @ S_first``).

A driver builds the superoperator of each noisy gate once (unitary fused with
its noise, :func:`noisy_gate_superop`) and then applies it in a single pass
with ``StateEngine.apply_superop_1q``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

CMatrix = NDArray[np.complex128]

I2: CMatrix = np.eye(2, dtype=np.complex128)
X: CMatrix = np.array([[0, 1], [1, 0]], dtype=np.complex128)
Y: CMatrix = np.array([[0, -1j], [1j, 0]], dtype=np.complex128)
Z: CMatrix = np.array([[1, 0], [0, -1]], dtype=np.complex128)
H: CMatrix = np.array([[1, 1], [1, -1]], dtype=np.complex128) / math.sqrt(2.0)
S_GATE: CMatrix = np.array([[1, 0], [0, 1j]], dtype=np.complex128)
T_GATE: CMatrix = np.array([[1, 0], [0, np.exp(1j * math.pi / 4)]], dtype=np.complex128)

#: Two-qubit gates, first qubit = most significant (control for CNOT).
CNOT: CMatrix = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=np.complex128)
CZ: CMatrix = np.diag([1, 1, 1, -1]).astype(np.complex128)
SWAP: CMatrix = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=np.complex128)


def _check_prob(p: float, name: str) -> float:
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {p!r}")
    return p


def _as_matrix(m: ArrayLike, dim: int, name: str) -> CMatrix:
    arr = np.asarray(m, dtype=np.complex128)
    if arr.shape != (dim, dim):
        raise ValueError(f"{name} must have shape ({dim}, {dim}), got {arr.shape}")
    return arr


# --- unitaries -----------------------------------------------------------


def rotation(axis: Sequence[float], theta: float) -> CMatrix:
    """exp(-i theta/2 n.sigma) for a (normalised here) rotation axis n."""
    n = np.asarray(axis, dtype=float)
    norm = float(np.linalg.norm(n))
    if n.shape != (3,) or norm == 0.0:
        raise ValueError(f"rotation axis must be a non-zero 3-vector, got {axis!r}")
    nx, ny, nz = n / norm
    c, s = math.cos(theta / 2.0), math.sin(theta / 2.0)
    return c * I2 - 1j * s * (nx * X + ny * Y + nz * Z)


def rx(theta: float) -> CMatrix:
    """Rotation about X by theta."""
    return rotation((1.0, 0.0, 0.0), theta)


def ry(theta: float) -> CMatrix:
    """Rotation about Y by theta."""
    return rotation((0.0, 1.0, 0.0), theta)


def rz(theta: float) -> CMatrix:
    """Rotation about Z by theta."""
    return rotation((0.0, 0.0, 1.0), theta)


def phi_rotation(phi: float, theta: float) -> CMatrix:
    """Rotation by theta about the equatorial axis at angle phi (microwave /
    laser drive with phase phi)."""
    return rotation((math.cos(phi), math.sin(phi), 0.0), theta)


def controlled(u: ArrayLike) -> CMatrix:
    """4x4 controlled-U, control = first (most significant) qubit."""
    out = np.eye(4, dtype=np.complex128)
    out[2:, 2:] = _as_matrix(u, 2, "controlled gate target unitary")
    return out


# --- Kraus sets ------------------------------------------------------------


def depolarizing_kraus(p: float) -> list[CMatrix]:
    """Kraus set of rho -> (1-p) rho + p I/2 (replace by maximally mixed w.p. p)."""
    p = _check_prob(p, "depolarising probability p")
    return [math.sqrt(1.0 - 0.75 * p) * I2] + [math.sqrt(p / 4.0) * P for P in (X, Y, Z)]


def dephasing_kraus(p: float) -> list[CMatrix]:
    """Kraus set of rho -> (1-p) rho + p Z rho Z."""
    p = _check_prob(p, "dephasing probability p")
    return [math.sqrt(1.0 - p) * I2, math.sqrt(p) * Z]


def amplitude_damping_kraus(gamma: float) -> list[CMatrix]:
    """Kraus set of amplitude damping: |1> decays to |0> with probability gamma."""
    g = _check_prob(gamma, "damping probability gamma")
    k0 = np.array([[1.0, 0.0], [0.0, math.sqrt(1.0 - g)]], dtype=np.complex128)
    k1 = np.array([[0.0, math.sqrt(g)], [0.0, 0.0]], dtype=np.complex128)
    return [k0, k1]


# --- superoperators ----------------------------------------------------------


def unitary_superop(u: ArrayLike) -> CMatrix:
    """Superoperator of M -> U M U^dag (any dimension)."""
    arr = np.asarray(u, dtype=np.complex128)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"unitary must be a square matrix, got shape {arr.shape}")
    return np.kron(arr, arr.conj())


def kraus_to_superop(kraus: Iterable[ArrayLike]) -> CMatrix:
    """Superoperator of M -> sum_k K M K^dag."""
    total: CMatrix | None = None
    for k in kraus:
        term = unitary_superop(k)
        total = term if total is None else total + term
    if total is None:
        raise ValueError("empty Kraus set")
    return total


def compose(*superops: ArrayLike) -> CMatrix:
    """Superoperator of applying ``superops`` in the order given (first one first)."""
    if not superops:
        raise ValueError("compose needs at least one superoperator")
    out = np.asarray(superops[0], dtype=np.complex128)
    for s in superops[1:]:
        out = np.asarray(s, dtype=np.complex128) @ out
    return out


def depolarizing_superop(p: float) -> CMatrix:
    """Superoperator of one-qubit depolarising with probability p."""
    return kraus_to_superop(depolarizing_kraus(p))


def dephasing_superop(p: float) -> CMatrix:
    """Superoperator of one-qubit dephasing with probability p."""
    return kraus_to_superop(dephasing_kraus(p))


def amplitude_damping_superop(gamma: float) -> CMatrix:
    """Superoperator of amplitude damping with decay probability gamma."""
    return kraus_to_superop(amplitude_damping_kraus(gamma))


def _absent(t: float | None) -> bool:
    return t is None or t == 0.0 or math.isinf(t)


def idle_superop(dt: float, t1: float | None, t2: float | None) -> CMatrix:
    """T1/T2 free evolution for time dt, same semantics as ``StateEngine.idle``.

    Populations relax to |0> as exp(-dt/T1), coherences decay as exp(-dt/T2)
    (T2 includes the T1 part; T2 <= 2 T1 is required).  T1/T2 of 0, inf or
    None mean absent; T2 absent with T1 present gives the T1 limit 2 T1.
    """
    if not (dt >= 0.0 and math.isfinite(dt)):
        raise ValueError(f"idle time dt must be finite and >= 0, got {dt!r}")
    for name, t in (("t1", t1), ("t2", t2)):
        if t is not None and not t >= 0.0:
            raise ValueError(f"{name} must be >= 0 (0 or inf = none), got {t!r}")
    has1, has2 = not _absent(t1), not _absent(t2)
    if has1 and has2 and t2 > 2.0 * t1:  # type: ignore[operator]
        raise ValueError(
            f"unphysical coherence times: t2={t2!r} > 2*t1={2.0 * t1!r} (need t2 <= 2*t1)"  # type: ignore[operator]
        )
    e1 = math.exp(-dt / t1) if has1 else 1.0  # type: ignore[operator]
    if has2:
        e2 = math.exp(-dt / t2)  # type: ignore[operator]
    elif has1:
        e2 = math.exp(-dt / (2.0 * t1))  # type: ignore[operator]
    else:
        e2 = 1.0
    s = np.zeros((4, 4), dtype=np.complex128)
    s[0, 0] = 1.0
    s[0, 3] = 1.0 - e1
    s[3, 3] = e1
    s[1, 1] = s[2, 2] = e2
    return s


def noisy_gate_superop(
    u: ArrayLike,
    *,
    depolarize: float = 0.0,
    dephase: float = 0.0,
    amplitude_damp: float = 0.0,
) -> CMatrix:
    """One superoperator for a gate followed by its noise.

    Order: unitary, then amplitude damping, dephasing, depolarising.  Applied
    with ``StateEngine.apply_superop_1q`` this is a single pass over the
    register instead of one pass per channel.
    """
    parts = [unitary_superop(_as_matrix(u, 2, "unitary"))]
    if amplitude_damp:
        parts.append(amplitude_damping_superop(amplitude_damp))
    if dephase:
        parts.append(dephasing_superop(dephase))
    if depolarize:
        parts.append(depolarizing_superop(depolarize))
    return np.ascontiguousarray(compose(*parts))


def apply_superop_to_matrix(s: ArrayLike, m: ArrayLike) -> CMatrix:
    """Apply a superoperator to a small matrix directly (for checks/tools)."""
    mat = np.asarray(m, dtype=np.complex128)
    d = mat.shape[0]
    sup = _as_matrix(s, d * d, "superoperator")
    return (sup @ mat.reshape(-1)).reshape(d, d)


def is_cptp(s: ArrayLike, atol: float = 1e-9) -> bool:
    """Whether a one-qubit superoperator is completely positive and trace preserving.

    Uses the Choi matrix (realigned S), the standard test; handy for
    validating hand-written noise models before giving them to the engine.
    """
    sup = _as_matrix(s, 4, "superoperator")
    # S[(i,j),(k,l)] -> Choi[(i,k),(j,l)]
    choi = sup.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)
    if not np.allclose(choi, choi.conj().T, atol=atol):
        return False
    if np.linalg.eigvalsh(choi).min() < -atol:
        return False
    # trace preservation: sum_i S[(i,i),(k,l)] = delta_kl
    tp = sup.reshape(2, 2, 2, 2)[0, 0] + sup.reshape(2, 2, 2, 2)[1, 1]
    return bool(np.allclose(tp, np.eye(2), atol=atol))

"""Small linear-algebra helpers for translation: rotations, Euler decompositions, Pauli basis changes.

Everything works up to a global phase, which no measurement can see.
"""
from __future__ import annotations

import cmath
import math
from functools import lru_cache

import numpy as np

from qnodeos.hal import Axis

I2 = np.eye(2, dtype=complex)
PAULI = {
    "i": I2,
    "x": np.array([[0, 1], [1, 0]], dtype=complex),
    "y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "z": np.array([[1, 0], [0, -1]], dtype=complex),
}
TWO_PI = 2 * math.pi
_EPS = 1e-10


def rotation(axis: Axis | str, angle: float) -> np.ndarray:
    """R_axis(angle) = exp(-i angle/2 sigma_axis)."""
    sigma = PAULI[Axis(axis).value]
    return math.cos(angle / 2) * I2 - 1j * math.sin(angle / 2) * sigma


def pauli_rotation(p: str, q: str, angle: float) -> np.ndarray:
    """exp(-i angle/2 P(x)Q) on two qubits, P on the first (most significant)."""
    pq = np.kron(PAULI[p], PAULI[q])
    return math.cos(angle / 2) * np.eye(4) - 1j * math.sin(angle / 2) * pq


def equal_up_to_phase(a: np.ndarray, b: np.ndarray, tol: float = 1e-8) -> bool:
    """Whether two unitaries differ only by a global phase."""
    idx = np.unravel_index(np.argmax(np.abs(b)), b.shape)
    if abs(b[idx]) < tol:
        return bool(np.allclose(a, b, atol=tol))
    phase = a[idx] / b[idx]
    return abs(abs(phase) - 1) < tol and bool(np.allclose(a, phase * b, atol=tol))


def _norm_angle(angle: float) -> float:
    """Map an angle into (-2pi, 2pi] keeping R(angle) equal up to phase; 0 means identity."""
    angle = math.remainder(angle, 2 * TWO_PI)  # R has period 4pi exactly, 2pi up to phase
    angle = math.remainder(angle, TWO_PI)
    return 0.0 if abs(angle) < _EPS else angle


def zyz_angles(u: np.ndarray) -> tuple[float, float, float]:
    """Angles (alpha, beta, gamma) with u ~ Rz(alpha) Ry(beta) Rz(gamma)."""
    det = np.linalg.det(u)
    v = u / cmath.sqrt(det)
    beta = 2 * math.atan2(abs(v[1, 0]), abs(v[0, 0]))
    if abs(v[0, 0]) < _EPS:  # beta = pi: only alpha - gamma is defined
        return 2 * cmath.phase(v[1, 0]), beta, 0.0
    if abs(v[1, 0]) < _EPS:  # beta = 0: only alpha + gamma is defined
        return 2 * cmath.phase(v[1, 1]), 0.0, 0.0
    plus = 2 * cmath.phase(v[1, 1])
    minus = 2 * cmath.phase(v[1, 0])
    return (plus + minus) / 2, beta, (plus - minus) / 2


# A basis change C with C sigma_a C^dag = Z, C sigma_b C^dag = Y turns an (a, b, a) Euler problem into ZYZ.
_EULER_FRAMES: dict[tuple[str, str], tuple[np.ndarray, float]] = {}


def _frame(first: str, middle: str) -> tuple[np.ndarray, float]:
    """(C, sign) such that C sigma_first C^dag = Z and C sigma_middle C^dag = sign * Y."""
    key = (first, middle)
    if key not in _EULER_FRAMES:
        candidates = [rotation(ax, ang) for ax in "xyz" for ang in (0, math.pi / 2, -math.pi / 2, math.pi)]
        candidates += [rotation("y", a) @ rotation("x", b) for a in (math.pi / 2, -math.pi / 2)
                       for b in (math.pi / 2, -math.pi / 2)]
        candidates += [rotation("x", a) @ rotation("z", b) for a in (math.pi / 2, -math.pi / 2)
                       for b in (math.pi / 2, -math.pi / 2)]
        for c in candidates:
            if np.allclose(c @ PAULI[first] @ c.conj().T, PAULI["z"]):
                m = c @ PAULI[middle] @ c.conj().T
                for sign in (1.0, -1.0):
                    if np.allclose(m, sign * PAULI["y"]):
                        _EULER_FRAMES[key] = (c, sign)
                        break
            if key in _EULER_FRAMES:
                break
        else:
            raise ValueError(f"no Euler frame for axes {first}{middle}{first}")
    return _EULER_FRAMES[key]


def euler_sequence(u: np.ndarray, axes: frozenset[Axis]) -> list[tuple[Axis, float]]:
    """Native rotations [(axis, angle), …] in application order whose product is ``u`` up to phase.

    Uses at most three rotations about two of the available axes; identity gives an empty list.
    """
    names = {a.value for a in axes}
    for first, middle in (("z", "y"), ("z", "x"), ("x", "y"), ("y", "x"), ("x", "z"), ("y", "z")):
        if first in names and middle in names:
            break
    else:
        raise ValueError(f"need two rotation axes to decompose a gate, have {sorted(names)}")
    c, sign = _frame(first, middle)
    a, b, g = zyz_angles(c @ u @ c.conj().T)
    seq = [(Axis(first), _norm_angle(g)), (Axis(middle), _norm_angle(sign * b)), (Axis(first), _norm_angle(a))]
    return [(ax, ang) for ax, ang in seq if ang != 0.0]


@lru_cache(maxsize=None)
def pauli_frame(src: str, dst: str) -> np.ndarray:
    """A single-qubit Clifford W with W sigma_src W^dag = sigma_dst."""
    for ax in "xyz":
        for ang in (0.0, math.pi / 2, -math.pi / 2, math.pi):
            w = rotation(ax, ang)
            if np.allclose(w @ PAULI[src] @ w.conj().T, PAULI[dst]):
                return w
    raise ValueError(f"no Clifford maps {src} to {dst}")

"""One quantum state shared by several mock devices (and the heralding stations linking them).

Qubits of two nodes become entangled through a heralded pair, so their joint density matrix must
live in one place. :class:`SharedStateSpace` owns one :class:`StateEngine` and serialises every call
with a re-entrant lock, so devices driven from different threads stay consistent. Its interface is
deliberately narrow — opaque integer qubit handles, numpy arrays in and out, no engine objects leak —
so that it could later sit behind an RPC boundary in its own process.

Randomness stays with the callers: :meth:`measure` takes the uniform draw from the device's own
seeded generator, which keeps a run reproducible however the threads interleave.
"""
from __future__ import annotations

import threading
from typing import Sequence

import numpy as np

from ._engine import StateEngine

_TINY = 1e-15  # the engine refuses to project onto outcomes less likely than this


class SharedStateSpace:
    """Thread-safe façade over one :class:`StateEngine`; qubit handles are plain ints."""

    def __init__(self, seed: int | None = None) -> None:
        self._engine = StateEngine(seed)
        self._lock = threading.RLock()

    # -- lifecycle ---------------------------------------------------------------------------------
    def add_qubit(self) -> int:
        with self._lock:
            return int(self._engine.add_qubit())

    def remove_qubit(self, q: int) -> None:
        with self._lock:
            self._engine.remove_qubit(q)

    def reset(self, q: int) -> None:
        """|0><0| on ``q``, tracing it out of any entanglement."""
        with self._lock:
            self._engine.reset(q)

    # -- channels ----------------------------------------------------------------------------------
    def apply_superop_1q(self, q: int, superop: np.ndarray) -> None:
        with self._lock:
            self._engine.apply_superop_1q(q, superop)

    def apply_unitary_2q(self, q0: int, q1: int, unitary: np.ndarray, p_depol: float = 0.0) -> None:
        """``unitary`` with ``q0`` most significant, then two-qubit depolarising ``p_depol``."""
        with self._lock:
            self._engine.apply_unitary_2q(q0, q1, unitary, p_depol)

    def depolarize_1q(self, q: int, p: float) -> None:
        with self._lock:
            self._engine.depolarize_1q(q, p)

    def dephase(self, q: int, p: float) -> None:
        with self._lock:
            self._engine.dephase(q, p)

    def idle(self, q: int, dt_ns: float, t1_ns: float, t2_ns: float) -> None:
        with self._lock:
            self._engine.idle(q, dt_ns, t1_ns, t2_ns)

    # -- measurement -------------------------------------------------------------------------------
    def measure(self, q: int, u: float) -> int:
        """Projective Z measurement with the caller's uniform draw ``u`` in [0, 1).

        Outcome 1 iff ``u < P(1)``; ``q`` is left alone in |outcome>, the rest renormalised. The
        probability and the collapse happen under one lock, so no other thread can act in between.
        """
        with self._lock:
            p1 = float(self._engine.probability_one(q))
            outcome = 1 if u < p1 else 0
            # never collapse onto an outcome of vanishing probability (rounding at p1 ~ 0 or 1)
            if (p1 if outcome else 1.0 - p1) < _TINY:
                outcome ^= 1
            self._engine.project(q, outcome)
            return outcome

    def probability_one(self, q: int) -> float:
        with self._lock:
            return float(self._engine.probability_one(q))

    # -- whole-state access ------------------------------------------------------------------------
    def set_state(self, qubits: Sequence[int], rho: np.ndarray) -> None:
        """Place ``qubits`` (traced out of wherever they were) in the joint state ``rho``."""
        with self._lock:
            self._engine.set_state(list(qubits), rho)

    def density_matrix(self, qubits: Sequence[int]) -> np.ndarray:
        """A copy of the reduced state of ``qubits`` (first listed = most significant)."""
        with self._lock:
            return self._engine.density_matrix(list(qubits))

    def register_of(self, q: int) -> tuple[int, ...]:
        """Handles sharing ``q``'s density matrix (``q`` included); for diagnostics."""
        with self._lock:
            return tuple(int(x) for x in self._engine.register_of(q))

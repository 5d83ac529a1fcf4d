"""An independent photon-level reference for the heralded-link states (tests only).

Single click, built from first principles instead of the closed form in ``link_physics``: each spin
is sqrt(1-alpha)|0> + sqrt(alpha)|1>, the bright state creates a photon. A photon from node A is
created by  sqrt(eta_A) (c0+ + d0+)/sqrt2 + sqrt(1-eta_A) eA+  and one from node B by
sqrt(eta_B) (sqrt(V)(c0+ - d0+) + sqrt(1-V)(c1+ - d1+))/sqrt2 e^{i phi} + sqrt(1-eta_B) eB+ :
c/d are the beam splitter's outputs in front of the two detectors, 0/1 a spectral "flavour" whose
overlap sqrt(V) makes the photons partly distinguishable, eA/eB loss modes. The joint state is
expanded in Fock states; a detector clicks when at least one photon reaches it or (probability p) a
dark count happens; the spin state is conditioned on "detector c clicks, d stays silent". The
interferometer phase phi is averaged with Gauss-Hermite quadrature; double excitation is applied as
a loss of each spin's coherence with probability p2e.
"""
from __future__ import annotations

import itertools
import math
from collections import defaultdict

import numpy as np

Poly = dict[tuple[str, ...], complex]  # monomial of creation operators (sorted mode names) -> coefficient


def _mul(p: Poly, q: Poly) -> Poly:
    out: dict[tuple[str, ...], complex] = defaultdict(complex)
    for (m1, c1), (m2, c2) in itertools.product(p.items(), q.items()):
        out[tuple(sorted(m1 + m2))] += c1 * c2
    return dict(out)


def _photon_a(eta: float) -> Poly:
    s = math.sqrt(eta / 2)
    return {("c0",): s, ("d0",): s, ("eA",): math.sqrt(1 - eta)}


def _photon_b(eta: float, v: float, phi: float) -> Poly:
    s = math.sqrt(eta / 2) * np.exp(1j * phi)
    return {("c0",): s * math.sqrt(v), ("d0",): -s * math.sqrt(v), ("c1",): s * math.sqrt(1 - v),
            ("d1",): -s * math.sqrt(1 - v), ("eB",): math.sqrt(1 - eta)}


def _fock_amplitudes(poly: Poly) -> dict[tuple[tuple[str, int], ...], complex]:
    """Monomials -> normalised Fock-basis amplitudes (a+^n |0> = sqrt(n!) |n>)."""
    out: dict[tuple[tuple[str, int], ...], complex] = defaultdict(complex)
    for mono, coef in poly.items():
        counts = tuple(sorted((m, mono.count(m)) for m in set(mono)))
        out[counts] += coef * math.prod(math.sqrt(math.factorial(n)) for _, n in counts)
    return dict(out)


def _click_weight(occupation: tuple[tuple[str, int], ...], dark: float, clicking: str, silent: str) -> float:
    n = dict(occupation)
    n_click = sum(v for k, v in n.items() if k.startswith(clicking))
    n_silent = sum(v for k, v in n.items() if k.startswith(silent))
    if n_silent:
        return 0.0
    return (1 - dark) * (1.0 if n_click else dark)


def single_click_reference(alpha: float, eta_a: float, eta_b: float, visibility: float, dark: float,
                           sigma: float = 0.0, p2e: float = 0.0, detector: str = "c",
                           nodes: int = 24) -> tuple[np.ndarray, float]:
    """(normalised spin state, probability of this detector's herald) for one attempt."""
    amp = {0: math.sqrt(1 - alpha), 1: math.sqrt(alpha)}
    other = "d" if detector == "c" else "c"
    xs, ws = np.polynomial.hermite_e.hermegauss(nodes) if sigma > 0 else (np.array([0.0]), np.array([1.0]))
    ws = ws / ws.sum()
    rho = np.zeros((4, 4), dtype=np.complex128)
    for x, w in zip(xs, ws):
        branches = {}
        for sa, sb in itertools.product((0, 1), repeat=2):
            poly: Poly = {(): amp[sa] * amp[sb]}
            if sa:
                poly = _mul(poly, _photon_a(eta_a))
            if sb:
                poly = _mul(poly, _photon_b(eta_b, visibility, sigma * x))
            branches[2 * sa + sb] = _fock_amplitudes(poly)
        occupations = set().union(*branches.values())
        for occ in occupations:
            weight = _click_weight(occ, dark, detector, other)
            if weight == 0.0:
                continue
            vec = np.array([branches[i].get(occ, 0.0) for i in range(4)])
            rho += w * weight * np.outer(vec, vec.conj())
    prob = float(np.real(np.trace(rho)))
    rho = rho / prob
    keep = 1.0 - p2e  # each node: with probability p2e its spin coherence is lost
    for bit in (2, 1):  # node A's bit, node B's bit
        mask = np.array([[1.0 if ((i & bit) == (j & bit)) else keep for j in range(4)] for i in range(4)])
        rho = rho * mask
    return rho, prob

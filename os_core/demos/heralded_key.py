"""Two mock nodes turn heralded entanglement into a shared key (entanglement-based QKD, BBM92 style).

Both devices attempt entanglement through their heralding station (each node drives its own device
from its own thread, as two QNPUs would); after each herald both measure in a randomly chosen Z or X
basis. Rounds with matching bases give key bits; the Bell state the station heralded tells Bob whether
to flip his bit. Reported: pairs, key bits, QBER, mean pair fidelity, and rates in device time.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from qnodeos.drivers.heralding import bell_projector
from qnodeos.drivers.mock_network import build_mock_network
from qnodeos.hal import Axis, BellState, EntangleAttempt, Init, Measure, Rotate, Status

# Bob flips his bit when the heralded state anti-correlates the measured basis.
_FLIP = {  # (bell state, basis) -> flip
    (BellState.PHI_PLUS, "Z"): 0, (BellState.PHI_PLUS, "X"): 0,
    (BellState.PHI_MINUS, "Z"): 0, (BellState.PHI_MINUS, "X"): 1,
    (BellState.PSI_PLUS, "Z"): 1, (BellState.PSI_PLUS, "X"): 0,
    (BellState.PSI_MINUS, "Z"): 1, (BellState.PSI_MINUS, "X"): 1,
}


@dataclass
class KeyReport:
    platform: str
    pairs: int
    sifted_bits: int
    errors: int
    mean_attempts: float
    mean_fidelity: float
    device_time_s: float

    @property
    def qber(self) -> float:
        return self.errors / self.sifted_bits if self.sifted_bits else float("nan")

    @property
    def pair_rate_hz(self) -> float:
        return self.pairs / self.device_time_s if self.device_time_s else float("nan")

    @property
    def key_rate_hz(self) -> float:
        return self.sifted_bits / self.device_time_s if self.device_time_s else float("nan")


def _measure_in(device, basis: str) -> int:  # type: ignore[no-untyped-def]
    if basis == "X":  # rotate X eigenstates onto Z ones: R_y(-pi/2)
        device.execute(Rotate(0, Axis.Y, -np.pi / 2))
    resp = device.execute(Measure(0))
    return int(resp.outcome)


def run_heralded_key(platform: str, pairs: int, seed: int = 1, preset: str = "realistic",
                     progress: Callable[[int], None] | None = None) -> KeyReport:
    devices = build_mock_network(platform, ["alice", "bob"], seed=seed, preset=preset)
    alice, bob = devices["alice"], devices["bob"]
    rng = np.random.default_rng(seed)
    sifted = errors = attempts = 0
    fidelities = []
    t0 = max(alice.now_ns, bob.now_ns)
    for k in range(pairs):
        responses = {}

        def attempt(name: str, device, peer: str) -> None:  # type: ignore[no-untyped-def]
            device.execute(Init(0))
            responses[name] = device.execute(EntangleAttempt(0, peer, max_attempts=10_000_000))

        threads = [threading.Thread(target=attempt, args=("alice", alice, "bob")),
                   threading.Thread(target=attempt, args=("bob", bob, "alice"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ra, rb = responses["alice"], responses["bob"]
        if ra.status is not Status.ENTANGLED or rb.status is not Status.ENTANGLED or ra.pair_id != rb.pair_id:
            raise RuntimeError(f"pair {k}: {ra.status.value}/{rb.status.value}: {ra.message}")
        attempts += ra.attempts
        if k < 20:  # the mock lets us look at the delivered state (a real node cannot)
            alice.density_matrix([0]), bob.density_matrix([0])
            rho = alice.state_space.density_matrix([alice.state_handle(0), bob.state_handle(0)])
            fidelities.append(float(np.real(np.trace(rho @ bell_projector(ra.bell_state)))))
        basis_a, basis_b = rng.choice(["Z", "X"]), rng.choice(["Z", "X"])
        bit_a, bit_b = _measure_in(alice, basis_a), _measure_in(bob, basis_b)
        if basis_a == basis_b:
            sifted += 1
            errors += int(bit_a != bit_b ^ _FLIP[(ra.bell_state, basis_a)])
        if progress:
            progress(k + 1)
    elapsed = max(alice.now_ns, bob.now_ns) - t0
    return KeyReport(platform, pairs, sifted, errors, attempts / pairs, float(np.mean(fidelities)), elapsed / 1e9)

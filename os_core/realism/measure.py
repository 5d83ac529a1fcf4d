"""How each published figure is measured on the mock devices.

Exact figures come from density matrices of states produced *through* the devices (instructions on
the HAL, pairs heralded by the heralding station); sampled figures (rates, attempt counts, the
teleportation averages) come with their standard error. Each function returns a
:class:`~qnodeos.realism.figures.Measured` whose ``method`` says which.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qnodeos.drivers.config import IonConfig
from qnodeos.drivers.link_physics import bell_projector
from qnodeos.drivers.mock_device import MockDevice
from qnodeos.drivers.mock_network import build_mock_network
from qnodeos.hal import Axis, EntangleAttempt, Init, QDevice, Rotate, Status, Wait

from .figures import Measured

#: Wall-clock bound on one rendezvous of the two devices (both run in this process).
RENDEZVOUS_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Context:
    """Settings shared by the measurements: ``seed`` for reproducibility, ``samples`` scales every
    sample size (1.0 = the default sizes)."""

    seed: int = 1
    samples: float = 1.0

    def n(self, default: int) -> int:
        return max(2, round(default * self.samples))


def linked_devices(platform: str, preset: str, seed: int, **overrides: Any) -> tuple[MockDevice, MockDevice]:
    devices = build_mock_network(platform, ["alice", "bob"], seed=seed, preset=preset, sync_timeout_s=5.0,
                                 **overrides)
    return devices["alice"], devices["bob"]


def herald_rounds(a: QDevice, b: QDevice, rounds: int, max_attempts: int = 10**12) -> list[tuple[Any, Any]]:
    """``rounds`` entanglement rounds, both nodes attempting (bob on a helper thread)."""
    bob: list[Any] = []
    errors: list[BaseException] = []

    def bob_side() -> None:
        try:
            for _ in range(rounds):
                bob.append(b.execute(EntangleAttempt(0, a.node, max_attempts)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            errors.append(exc)

    thread = threading.Thread(target=bob_side, name="realism-bob", daemon=True)
    thread.start()
    alice = [a.execute(EntangleAttempt(0, b.node, max_attempts)) for _ in range(rounds)]
    thread.join(RENDEZVOUS_TIMEOUT_S)
    if thread.is_alive() or errors:
        raise RuntimeError(f"heralding rounds did not finish: {errors[0] if errors else 'bob is stuck'}")
    pairs = list(zip(alice, bob))
    bad = [ra for ra, _ in pairs if ra.status is not Status.ENTANGLED]
    if bad:
        raise RuntimeError(f"a heralding round failed: {bad[0].message}")
    return pairs


def _pair_state(a: Any, b: Any) -> np.ndarray:
    a.density_matrix([0])
    b.density_matrix([0])  # bring both nodes' idle noise up to their clocks
    return a.state_space.density_matrix([a.state_handle(0), b.state_handle(0)])


# -- the link ------------------------------------------------------------------------------------------
def pair_fidelity(platform: str, preset: str, ctx: Context) -> Measured:
    """Fidelity of a pair heralded through the devices and the station, at the herald, to the Bell
    state the herald announced; read from the density matrix (what readout-corrected tomography
    estimates)."""
    a, b = linked_devices(platform, preset, ctx.seed)
    (ra, _), = herald_rounds(a, b, 1)
    rho = _pair_state(a, b)
    value = float(np.real(np.trace(bell_projector(ra.bell_state) @ rho)))
    return Measured(value, 0.0, "density matrix of a pair heralded through the mock devices (readout-free)")


def attempts_sample(platform: str, preset: str, ctx: Context, default: int = 400) -> tuple[Any, np.ndarray]:
    """Attempts to each herald over ``ctx.n(default)`` rounds through the station, and the link."""
    a, b = linked_devices(platform, preset, ctx.seed)
    rounds = herald_rounds(a, b, ctx.n(default))
    return a.link_params(), np.array([ra.attempts for ra, _ in rounds], dtype=float)


def success_probability(platform: str, preset: str, ctx: Context) -> Measured:
    """p per attempt = 1 / mean attempts to a herald, sampled through the station."""
    _, k = attempts_sample(platform, preset, ctx)
    p = 1.0 / k.mean()
    return Measured(p, p * math.sqrt(1.0 - p) / math.sqrt(len(k)),
                    f"1 / mean attempts to a herald, {len(k)} heralds through the station")


def pair_time_s(platform: str, preset: str, ctx: Context) -> Measured:
    """Mean time per pair when attempting continuously: attempts sampled through the station, each
    batch begun paying its overhead (drawn with the link's own sampler), plus the herald delay."""
    link, k = attempts_sample(platform, preset, ctx)
    rng = np.random.default_rng(ctx.seed)
    times = np.array([
        kk * link.attempt_duration_ns + sum(link.sample_batch_overhead_ns(rng) for _ in range(link.batches_for(int(kk))))
        + link.herald_delay_ns for kk in k]) / 1e9
    return Measured(float(times.mean()), float(times.std(ddof=1) / math.sqrt(len(times))),
                    f"{len(times)} heralds through the station + sampled batch overheads (mean time per pair)")


PAIRS_APP = Path(__file__).parent / "apps" / "pairs"


def pair_time_through_os_s(platform: str, preset: str, ctx: Context) -> Measured:
    """Mean time per pair as applications see it: one request for ``n`` measure-directly pairs through
    the OS and the network stack, attempts in the network schedule's bins (default timing), on the
    simulated clock; the error assumes geometrically distributed waits (standard deviation ~ mean)."""
    from qnodeos.apps.runner import run_app_dir

    n = ctx.n(20)
    run = run_app_dir(PAIRS_APP, platform, seed=ctx.seed, preset=preset, mode="threads",
                      overrides={"alice": {"n": n}, "bob": {"n": n}})
    if not run.ok:
        raise RuntimeError(f"pair-rate application failed: {run.errors}")
    elapsed = max(s["elapsed_ns"] for s in run.stats.values()) / 1e9
    mean = elapsed / n
    return Measured(mean, mean / math.sqrt(n),
                    f"{n} pairs of one request through the OS, network schedule bins, simulated clock")


def _dqc_ms(platform: str, preset: str, ctx: Context, what: str) -> Measured:
    """Mean ± standard error, in ms, of ``what`` (a :class:`~.dqc.DqcRound` property) over the
    repetitions of one run of the delegated-computation application (see :mod:`.dqc`)."""
    from .dqc import timed_rounds

    rounds = timed_rounds(platform, preset, ctx.n(20), ctx.seed)
    ms = np.array([getattr(r, what) for r in rounds], dtype=float) / 1e6
    return Measured(float(ms.mean()), float(ms.std(ddof=1) / math.sqrt(len(ms))),
                    f"{len(ms)} repetitions of a DQC application (NetQASM SDK, client and server) through the OS "
                    "and network stack, read from the server's trace on the simulated clock")


def dqc_server_waiting_ms(platform: str, preset: str, ctx: Context) -> Measured:
    """The server's qubit between its two subroutines: start of S2 − end of S1."""
    return _dqc_ms(platform, preset, ctx, "waiting_ns")


def dqc_latency_ms(platform: str, preset: str, ctx: Context) -> Measured:
    """End-to-end latency: from the herald (the pair delivered to the server's S1) to the end of S2."""
    return _dqc_ms(platform, preset, ctx, "latency_ns")


def pair_rate_hz(platform: str, preset: str, ctx: Context) -> Measured:
    t = pair_time_s(platform, preset, ctx)
    return Measured(1.0 / t.value, t.error / t.value ** 2, t.method.replace("mean time per pair", "1 / mean time per pair"))


def remote_state_decoherence_hz(platform: str, preset: str, ctx: Context) -> Measured:
    """Decay rate of the pair's coherence while both halves wait: heralded through the devices, then
    both nodes idle (``Wait``); the rate is fitted to ln|rho_01,10| over the waits."""
    a, b = linked_devices(platform, preset, ctx.seed)
    herald_rounds(a, b, 1)
    start = a.now_ns
    times, logs = [], []
    for wait in (0, 20_000_000, 40_000_000, 80_000_000):
        a.execute(Wait(wait))
        b.execute(Wait(wait))
        rho = _pair_state(a, b)
        times.append((a.now_ns - start) / 1e9)
        logs.append(math.log(abs(rho[1, 2])))
    slope = np.polyfit(times, logs, 1)[0]
    return Measured(float(-slope), 0.0, "coherence of a heralded pair idling on both nodes (density matrix, fit)")


# -- one node ------------------------------------------------------------------------------------------
def memory_coherence_ms(platform: str, preset: str, ctx: Context) -> Measured:
    """Coherence time of the communication qubit: |+> prepared on the device, left to idle, fitted to
    ln of its coherence (exponential decay)."""
    dev = build_mock_network(platform, ["node"], seed=ctx.seed, preset=preset)["node"]
    prep = [dev.execute(i) for i in (Init(0), Rotate(0, Axis.Y, math.pi / 2))][-1]
    times, logs = [], []
    for wait in (0, 2_000_000, 5_000_000, 10_000_000, 20_000_000):
        dev.execute(Wait(wait))
        rho = dev.density_matrix([0])
        times.append((dev.now_ns - prep.end_ns) / 1e6)
        logs.append(math.log(2 * abs(rho[0, 1])))
    slope = np.polyfit(times, logs, 1)[0]
    return Measured(float(-1.0 / slope), 0.0, "a |+> state idling on the communication qubit (density matrix, fit)")


# -- trapped-ion photon interface ------------------------------------------------------------------
def photon_detection_probability(platform: str, preset: str, ctx: Context) -> Measured:
    """Per-emission detection probability eta from sampled heralds: p = eta^2 / 2 for the
    two-photon scheme (dark-count heralds neglected, < 1 % here)."""
    _, k = attempts_sample(platform, preset, ctx)
    p = 1.0 / k.mean()
    p_err = p * math.sqrt(1.0 - p) / math.sqrt(len(k))
    eta = math.sqrt(2.0 * p)
    return Measured(eta, eta * p_err / (2.0 * p), f"sqrt(2 p), p from {len(k)} heralds through the station")


def ion_photon_fidelity(platform: str, preset: str, ctx: Context) -> Measured:
    """The ion-photon Bell-state fidelity implied by a heralded ion-ion pair: with V the preset's
    interference visibility, F_pair = w^2 (1+V)/2 + (1-w^2)/4 and F_ion-photon = (3w+1)/4."""
    a, b = linked_devices(platform, preset, ctx.seed, dark_count_probability=0.0)
    (ra, _), = herald_rounds(a, b, 1)
    rho = a.state_space.density_matrix([a.state_handle(0), b.state_handle(0)])  # at the herald
    f_pair = float(np.real(np.trace(bell_projector(ra.bell_state) @ rho)))
    config = a.config
    assert isinstance(config, IonConfig), f"{platform} is not a trapped-ion platform"
    v = config.visibility
    w = math.sqrt((f_pair - 0.25) / ((1 + v) / 2 - 0.25))
    return Measured((3 * w + 1) / 4, 0.0, "inverted from a pair heralded through the devices (density matrix)")


# -- through the OS and the network stack ----------------------------------------------------------
#: The six cardinal states (phi, theta) teleported: |0>, |1>, |+>, |->, |+i>, |-i>.
CARDINAL_STATES = ((0.0, 0.0), (0.0, math.pi), (0.0, math.pi / 2), (math.pi, math.pi / 2),
                   (math.pi / 2, math.pi / 2), (3 * math.pi / 2, math.pi / 2))


def teleport_fidelity(platform: str, preset: str, ctx: Context) -> Measured:
    """netqasm's own teleport example, run unchanged through ``qnodeos.apps.runner.run_app_dir`` on
    two mock nodes (OS, EGP, network stack), for the six cardinal states; the receiver reports the
    state it holds (netqasm's simulation-only branch) and the fidelity <psi|rho|psi> is averaged.
    Not a row of the table: no experiment published this protocol's figure (docs/realism.md,
    "netqasm's teleport example"); the published teleportation is
    :func:`qnodeos.realism.network_teleport.teleport_between_non_neighbours`."""
    from .teleport import run_netqasm_teleport

    runs = ctx.n(4)
    fids = []
    for i, (phi, theta) in enumerate(CARDINAL_STATES):
        for r in range(runs):
            fids.append(run_netqasm_teleport(platform, preset, phi, theta, seed=ctx.seed * 1000 + 10 * i + r))
    arr = np.array(fids)
    return Measured(float(arr.mean()), float(arr.std(ddof=1) / math.sqrt(len(arr))),
                    f"netqasm's teleport example via run_app_dir, 6 states x {runs} runs (state read at the receiver)")

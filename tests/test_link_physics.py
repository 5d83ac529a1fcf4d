"""The heralded-link model (``qnodeos.drivers.link_physics``) against independent references.

* single click: the closed form against a photon-level Fock-space construction
  (``reference_optics``) for many parameter sets, and against the QNodeOS data release's limit
  F = (1-a)(1 + sqrt(V)(1-p2e)^2 exp(-s^2/2))/2;
* double click: against an explicit entanglement swap of two noisy ion-photon states in numpy;
* fibre and batch timing: closed forms, and the mean time per pair against a direct simulation of
  geometric attempts and per-batch overheads;
* NV ionisation and the presets' loading rules.
"""
from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

from qnodeos.drivers.config import IonConfig, NVConfig
from qnodeos.drivers.link_physics import LinkParams, bell_projector
from qnodeos.drivers.mock_ion import MockIonDevice
from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.hal import Axis, BellState, ConfigError, EntangleAttempt, Init, Rotate

from reference_optics import single_click_reference
from test_mock_physics import attempt_rounds, linked_pair, run

PSI_PLUS = bell_projector(BellState.PSI_PLUS)

SINGLE_CLICK_CASES = [
    # alpha, eta_A, eta_B, V, dark, sigma (rad), p2e
    (0.21, 2.8e-4, 4.2e-4, 0.9, 5e-7, math.radians(15), 0.04),  # QNodeOS-era numbers
    (0.05, 1e-3, 1e-3, 1.0, 0.0, 0.0, 0.0),
    (0.3, 0.2, 0.35, 0.8, 0.01, 0.0, 0.0),  # large efficiencies: bunching of two photons matters
    (0.5, 0.9, 0.6, 0.5, 0.1, 0.5, 0.1),
    (0.1, 1e-4, 1e-4, 0.95, 1e-3, 0.2, 0.0),  # dark counts comparable to real clicks
]


def single_click(alpha, eta_a, eta_b, v, dark, sigma, p2e, **kw) -> LinkParams:
    return LinkParams("single-click", eta_a, dark, v, 5_500, alpha=alpha, peer_detection_efficiency=eta_b,
                      phase_noise_rad=sigma, double_excitation_probability=p2e, **kw)


@pytest.mark.parametrize("case", SINGLE_CLICK_CASES)
def test_single_click_state_and_rate_match_the_photon_level_reference(case) -> None:
    link = single_click(*case)
    probs = {}
    for bell, detector in ((BellState.PSI_PLUS, "c"), (BellState.PSI_MINUS, "d")):
        ref, probs[detector] = single_click_reference(*case, detector=detector)
        assert np.allclose(link.heralded_state(bell), ref, atol=1e-12)
    assert link.success_probability == pytest.approx(probs["c"] + probs["d"], rel=1e-12)


def test_single_click_limit_of_the_qnodeos_data_release_model() -> None:
    for alpha, v, sigma, p2e in ((0.05, 0.9, math.radians(15), 0.04), (0.3, 0.7, 0.4, 0.1), (0.2, 1.0, 0.0, 0.0)):
        link = single_click(alpha, 1e-8, 1e-8, v, 0.0, sigma, p2e)
        expected = (1 - alpha) * (1 + math.sqrt(v) * (1 - p2e) ** 2 * math.exp(-sigma ** 2 / 2)) / 2
        assert link.fidelity == pytest.approx(expected, abs=1e-7)
        assert link.success_probability == pytest.approx(2 * alpha * 1e-8, rel=1e-6)
    # dark counts add 2p to the rate and herald states without coherence
    link = single_click(0.1, 1e-4, 1e-4, 1.0, 1e-5, 0.0, 0.0)
    assert link.success_probability == pytest.approx(0.1 * 2e-4 + 2e-5, rel=1e-3)
    assert link.fidelity < 0.9 * (1 - 1e-4)


def test_asymmetric_efficiencies_cost_coherence_and_order_the_qubits() -> None:
    """eta_A != eta_B: the |01>/|10> populations follow the *other* node's efficiency (the photon
    came from the bright node), the coherence sqrt(eta_A eta_B) is below their mean."""
    link = single_click(0.2, 1e-4, 3e-4, 1.0, 0.0, 0.0, 0.0)
    rho = link.heralded_state(BellState.PSI_PLUS)
    assert rho[1, 1].real / rho[2, 2].real == pytest.approx(3.0, rel=1e-3)  # |01>: B bright, B's photon
    assert rho[1, 2].real == pytest.approx(math.sqrt(rho[1, 1].real * rho[2, 2].real), rel=1e-9)
    assert link.fidelity < single_click(0.2, 2e-4, 2e-4, 1.0, 0.0, 0.0, 0.0).fidelity


def _swap_reference(f_emit: float) -> np.ndarray:
    """Ion-ion state after an ideal photonic Bell measurement (Psi+) on two ion-photon Werner states."""
    psi = np.array([0, 1, 1, 0]) / math.sqrt(2)
    w = (4 * f_emit - 1) / 3
    pair = w * np.outer(psi, psi) + (1 - w) * np.eye(4) / 4  # (ion, photon)
    state = np.kron(pair, pair).reshape([2] * 8)  # ion_a, photon_a, ion_b, photon_b (bra indices after)
    proj = np.outer(psi, psi).reshape(2, 2, 2, 2)  # photon_a, photon_b
    out = np.einsum("aibjckdl,ijkl->abcd", state, proj)  # keep the ions: (ion_a, ion_b | ion_a', ion_b')
    rho = out.reshape(4, 4)
    return rho / np.trace(rho)


@pytest.mark.parametrize("f_emit", [1.0, 0.92, 0.6])
def test_double_click_equals_an_entanglement_swap_of_ion_photon_states(f_emit: float) -> None:
    link = LinkParams("double-click", 0.1, 0.0, 1.0, 20_000, emission_fidelity=f_emit)
    assert np.allclose(link.heralded_state(BellState.PSI_PLUS), _swap_reference(f_emit), atol=1e-12)
    assert link.success_probability == pytest.approx(0.1 * 0.1 / 2)


def test_double_click_visibility_and_dark_counts() -> None:
    link = LinkParams("double-click", 0.05, 1e-4, 0.9, 20_000, double_excitation_probability=0.02)
    v = 0.9 * 0.98 ** 2
    p_true, p_dark = 0.05 * 0.05 / 2, 2 * 0.1 * 1e-4
    assert link.success_probability == pytest.approx(p_true + p_dark)
    assert link.fidelity == pytest.approx((p_true * (1 + v) / 2 + p_dark / 4) / (p_true + p_dark))
    with pytest.raises(ConfigError, match="Psi"):
        link.heralded_state(BellState.PHI_PLUS)


def test_fibre_attenuates_and_delays() -> None:
    link = single_click(0.1, 0.5, 0.5, 1.0, 0.0, 0.0, 0.0, fibre_length_km=10.0,
                        fibre_attenuation_db_per_km=0.3, fibre_ns_per_km=4_900.0)
    assert link.fibre_transmission == pytest.approx(10 ** (-0.3))
    assert link.efficiencies == pytest.approx((0.5 * 10 ** (-0.3),) * 2)
    assert link.herald_delay_ns == 98_000 and link.classical_latency_ns == 98_000
    assert link.success_probability < single_click(0.1, 0.5, 0.5, 1.0, 0.0, 0.0, 0.0).success_probability
    dev = MockNVDevice.from_config(preset="ideal", fibre_length_km=2.0)
    expected = 5.1e-4 * 10 ** (-dev.config.fibre_attenuation_db_per_km * 2.0 / 10)
    assert dev.link_params().efficiencies == pytest.approx((expected, expected))


def test_batch_overheads_mean_and_pair_time_against_a_direct_simulation() -> None:
    link = single_click(0.2, 0.01, 0.01, 1.0, 0.0, 0.0, 0.0, attempts_per_batch=50, batch_check_ns=10_000,
                        batch_check_failure_probability=0.3, batch_fixed_overhead_ns=200_000,
                        fibre_length_km=1.0, fibre_ns_per_km=5_000.0)
    assert link.batch_overhead_ns == pytest.approx(10_000 / 0.7 + 200_000)
    rng = np.random.default_rng(11)
    n = 20_000
    overheads = np.array([link.sample_batch_overhead_ns(rng) for _ in range(n)])
    sd = overheads.std() / math.sqrt(n)
    assert abs(overheads.mean() - link.batch_overhead_ns) < 5 * sd
    # time per pair: k ~ geometric(p) attempts, each batch of 50 begun pays its overhead, then the herald travels back
    p = link.success_probability
    k = rng.geometric(p, size=n)
    batches = -(-k // 50)
    times = k * 5_500 + np.array([sum(link.sample_batch_overhead_ns(rng) for _ in range(b)) for b in batches]) + 10_000
    assert abs(times.mean() - link.mean_pair_time_ns) < 5 * times.std() / math.sqrt(n)
    assert link.pair_rate_hz == pytest.approx(1e9 / link.mean_pair_time_ns)
    assert [link.batches_for(a) for a in (0, 1, 50, 51)] == [0, 1, 1, 2]


def test_nv_ionisation_loses_the_stored_states_and_reports_why() -> None:
    a, b, space = linked_pair(MockNVDevice, preset="ideal", detection_efficiency=0.05,
                              peer_detection_efficiency=0.05, ionisation_probability=1.0)
    run(a, Init(1), Rotate(1, Axis.Y, math.pi / 2))
    (ra, _), = attempt_rounds(a, b, 1, 10**6)
    why = a.after_attempt_batch(ra.attempts)
    assert why is not None and "ionised" in why and "'alice'" in why
    assert np.allclose(a.density_matrix([1]), np.eye(2) / 2)  # the carbon's state is gone
    pair = space.density_matrix([a.state_handle(0), b.state_handle(0)])
    assert np.allclose(pair, np.kron(np.eye(2) / 2, b.density_matrix([0])))  # entanglement broken
    assert b.after_attempt_batch(ra.attempts, np.random.default_rng(0)) is not None  # bob ionises too (p = 1)
    quiet = MockNVDevice.from_config(preset="ideal")
    assert quiet.after_attempt_batch(10**6) is None and MockIonDevice.from_config().after_attempt_batch(5) is None


def test_ionisation_check_does_not_wait_for_a_device_inside_its_own_attempt() -> None:
    """The station resolves a batch while both devices sit inside ``execute`` (holding their locks):
    calling ``after_attempt_batch`` on the waiting device from another thread must not block."""
    a, b, _ = linked_pair(MockNVDevice, preset="ideal", ionisation_probability=1.0)
    waiting = threading.Thread(target=lambda: b.execute(EntangleAttempt(0, "alice", 10)), daemon=True)
    waiting.start()
    deadline = time.monotonic() + 5.0
    while b._lock.acquire(blocking=False):  # until bob's thread holds its lock (inside execute, waiting for alice)
        b._lock.release()
        assert time.monotonic() < deadline, "bob never started attempting"
        time.sleep(0.001)
    start = time.monotonic()
    assert b.after_attempt_batch(10) is not None
    assert time.monotonic() - start < 0.5 and waiting.is_alive()
    waiting.join(5)  # bob's attempt ends with a sync failure after the station's timeout


def test_nv_ionisation_frequency_per_batch() -> None:
    dev = MockNVDevice.from_config(preset="ideal", ionisation_probability=1e-3, carbons=0)
    rng = np.random.default_rng(5)
    n, attempts = 3_000, 200
    fails = sum(dev.after_attempt_batch(attempts, rng) is not None for _ in range(n))
    p = 1 - (1 - 1e-3) ** attempts
    assert abs(fails - n * p) <= 5 * math.sqrt(n * p * (1 - p))


# -- presets ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [NVConfig, IonConfig])
def test_every_preset_loads_and_describes_itself(cls) -> None:
    presets = cls.presets()
    assert {"realistic", "ideal"} <= set(presets)
    for name, description in presets.items():
        assert description, f"preset {name} has no description"
        cls.load(preset=name)


def test_realistic_is_the_qnodeos_preset_and_ideal_is_noiseless() -> None:
    assert NVConfig.load(preset="realistic") == NVConfig.load(preset="qnodeos-nv-2025")
    nv = NVConfig.load(preset="ideal")
    assert (nv.visibility, nv.dark_count_probability, nv.ec_gate_error, nv.carbon_phase_per_reset_rad) == (1.0, 0.0, 0.0, 0.0)
    assert NVConfig.load(preset="ideal").attempt_duration_ns == NVConfig.load().attempt_duration_ns == 5_500
    assert IonConfig.load(preset="qnodeos-ion-2025").ions == 1  # QNodeOS's node: one 40Ca+ ion
    assert IonConfig.load(preset="realistic").emission_fidelity == 0.92


def test_preset_chains_are_checked(tmp_path, monkeypatch) -> None:
    from qnodeos.drivers import config

    defaults = tmp_path / "defaults"
    defaults.mkdir()
    (defaults / "mock_nv.toml").write_text('[a]\nbase = "b"\n[b]\nbase = "a"\n[c]\nbase = "nowhere"\n')
    monkeypatch.setattr(config, "DEFAULTS_DIR", defaults)
    with pytest.raises(ConfigError, match="cycle"):
        NVConfig.load(preset="a")
    with pytest.raises(ConfigError, match="base='nowhere'"):
        NVConfig.load(preset="c")
    with pytest.raises(ConfigError, match="preset='d' is unknown"):
        NVConfig.load(preset="d")


def test_choice_keys_are_checked() -> None:
    with pytest.raises(ConfigError, match="scheme='triple-click' must be one of single-click, double-click"):
        NVConfig.load(scheme="triple-click")
    with pytest.raises(ConfigError, match="dephasing=1 must be one of exponential, gaussian"):
        IonConfig.load(dephasing=1)

"""Physics of the mock devices, checked through the HAL against closed-form expectations.

Sampled checks use fixed seeds and tolerances of five binomial (or geometric) standard deviations.
"""
from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pytest

from qnodeos.drivers.heralding import HeraldingStation
from qnodeos.drivers.link_physics import bell_projector
from qnodeos.drivers.mock_device import MockDevice
from qnodeos.drivers.mock_ion import MockIonDevice
from qnodeos.drivers.mock_nv import MockNVDevice, attempts_to_1e, carbon_dephasing_probability
from qnodeos.drivers.state_space import SharedStateSpace
from qnodeos.hal import (
    Axis,
    BellState,
    ConfigError,
    ControlledRotate,
    EntangleAttempt,
    Init,
    Measure,
    MolmerSorensen,
    Response,
    Rotate,
    Status,
    Wait,
)

PI = math.pi
PHI_PLUS = bell_projector(BellState.PHI_PLUS)


def fidelity(rho: np.ndarray, target: np.ndarray) -> float:
    """<psi|rho|psi> for a pure ``target`` given as a projector."""
    return float(np.real(np.trace(target @ rho)))


def run(dev: MockDevice, *instrs) -> list[Response]:
    return [dev.execute(i).raise_for_status() for i in instrs]


def linked_pair(cls: type[MockDevice], *, station_seed: int = 3, **cfg) -> tuple[MockDevice, MockDevice, SharedStateSpace]:
    space = SharedStateSpace(seed=0)
    a = cls.from_config(node="alice", seed=1, state_space=space, **cfg)
    b = cls.from_config(node="bob", seed=2, state_space=space, **cfg)
    HeraldingStation(a, b, seed=station_seed, sync_timeout_s=1.0)
    return a, b, space


def attempt_rounds(a: MockDevice, b: MockDevice, rounds: int, max_attempts: int) -> list[tuple[Response, Response]]:
    """``rounds`` simultaneous attempts from both nodes (one thread for bob)."""
    bob: list[Response] = []

    def bob_side() -> None:
        for _ in range(rounds):
            bob.append(b.execute(EntangleAttempt(0, "alice", max_attempts)))

    t = threading.Thread(target=bob_side, daemon=True)
    t.start()
    alice = [a.execute(EntangleAttempt(0, "bob", max_attempts)) for _ in range(rounds)]
    t.join(10)
    assert not t.is_alive()
    return list(zip(alice, bob))


def joint_state(a: MockDevice, b: MockDevice, space: SharedStateSpace, qa: int = 0, qb: int = 0) -> np.ndarray:
    a.density_matrix([qa])  # bring both nodes' idle noise up to their clocks
    b.density_matrix([qb])
    return space.density_matrix([a.state_handle(qa), b.state_handle(qb)])


# -- single-qubit dynamics --------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [MockNVDevice, MockIonDevice])
def test_rabi_population_follows_sin_squared(cls: type[MockDevice]) -> None:
    dev = cls.from_config(preset="ideal", seed=4)
    for theta in np.linspace(0, 2 * PI, 13):
        run(dev, Init(0), Rotate(0, Axis.X, float(theta)))
        rho = dev.density_matrix([0])
        assert rho[1, 1].real == pytest.approx(math.sin(theta / 2) ** 2, abs=1e-12)
    shots, theta = 600, PI / 3
    ones = sum(run(dev, Init(0), Rotate(0, Axis.X, theta), Measure(0))[-1].outcome for _ in range(shots))
    p = math.sin(theta / 2) ** 2
    assert abs(ones - shots * p) <= 5 * math.sqrt(shots * p * (1 - p))


def test_gate_noise_is_depolarising_fused_with_the_gate() -> None:
    ion = MockIonDevice.from_config(seed=1)  # gate_error 0.02, T1 = inf
    run(ion, Init(0), Rotate(0, Axis.X, PI))
    assert ion.density_matrix([0])[1, 1].real == pytest.approx(1 - 0.02 / 2, abs=1e-12)


def test_readout_errors_match_the_configuration() -> None:
    dev = MockNVDevice.from_config(seed=9, readout_error_0=0.1, readout_error_1=0.2)
    shots = 1500
    for prep, expect_wrong, wrong_value in (([], 0.1, 1), ([Rotate(0, Axis.X, PI)], 0.2, 0)):
        wrong = sum(run(dev, Init(0), *prep, Measure(0))[-1].outcome == wrong_value for _ in range(shots))
        assert abs(wrong - shots * expect_wrong) <= 5 * math.sqrt(shots * expect_wrong * (1 - expect_wrong))


def test_ramsey_coherence_decays_with_t2_and_population_with_t1() -> None:
    t1, t2 = 4e6, 1e6
    dev = MockNVDevice.from_config(preset="ideal", electron_t1_ns=t1, electron_t2_ns=t2, seed=0)
    ramsey = run(dev, Init(0), Rotate(0, Axis.Y, PI / 2))[-1]
    for wait in (0, 250_000, 700_000, 2_000_000):
        dev.execute(Wait(wait))
        dt = dev.now_ns - ramsey.end_ns
        rho = dev.density_matrix([0])
        assert abs(rho[0, 1]) == pytest.approx(0.5 * math.exp(-dt / t2), rel=1e-9)
    flipped = run(dev, Init(0), Rotate(0, Axis.X, PI))[-1]
    for wait in (0, 1_000_000, 3_000_000):
        dev.execute(Wait(wait))
        dt = dev.now_ns - flipped.end_ns
        assert dev.density_matrix([0])[1, 1].real == pytest.approx(math.exp(-dt / t1), rel=1e-9)


@pytest.mark.parametrize("dephasing", ["exponential", "gaussian"])
def test_ion_dephases_without_decay_and_idle_noise_is_applied_once(dephasing: str) -> None:
    t2 = 5e6
    dev = MockIonDevice.from_config(preset="ideal", t2_ns=t2, dephasing=dephasing, seed=0)
    init, prep = run(dev, Init(1), Rotate(1, Axis.X, PI / 2))
    for _ in range(3):
        dev.execute(Wait(1_000_000))
    first = dev.density_matrix([1])
    again = dev.density_matrix([1])  # same clock: no further decay
    assert np.allclose(first, again)
    if dephasing == "exponential":
        expected = math.exp(-(dev.now_ns - prep.end_ns) / t2)
    else:  # quasi-static: exp(-(tau/T2)^2) since the init, for the part after the rotation
        tau0, tau1 = prep.end_ns - init.end_ns, dev.now_ns - init.end_ns
        expected = math.exp(-(tau1 ** 2 - tau0 ** 2) / t2 ** 2)
    assert abs(first[0, 1]) == pytest.approx(0.5 * expected, rel=1e-9)
    assert first[1, 1].real == pytest.approx(0.5, abs=1e-12)


# -- two-qubit gates ----------------------------------------------------------------------------------

def test_ion_molmer_sorensen_makes_a_bell_state() -> None:
    target = np.zeros(4, dtype=complex)
    target[0], target[3] = 1 / math.sqrt(2), -1j / math.sqrt(2)
    proj = np.outer(target, target.conj())
    ideal = MockIonDevice.from_config(preset="ideal", seed=0)
    run(ideal, Init(0), Init(2), MolmerSorensen((0, 2), PI / 2))
    assert fidelity(ideal.density_matrix([0, 2]), proj) == pytest.approx(1.0, abs=1e-12)
    # measuring one ion collapses the other onto the same value
    out = run(ideal, Measure(0))[0].outcome
    assert ideal.density_matrix([2])[out, out].real == pytest.approx(1.0, abs=1e-12)
    noisy = MockIonDevice.from_config(seed=0)  # MS depolarising 0.1 -> F = 0.9 + 0.1/4
    run(noisy, Init(0), Init(1), MolmerSorensen((1, 0), PI / 2))
    assert fidelity(noisy.density_matrix([0, 1]), proj) == pytest.approx(0.925, abs=2e-3)


def nv_cnot(carbon: int) -> list:
    """CNOT(electron -> carbon) from the native gates: conditional rotation, a carbon X rotation and
    an electron Z rotation built as Rx(pi/2) Ry(pi/2) Rx(-pi/2)."""
    return [ControlledRotate(0, carbon, Axis.X, -PI / 2), Rotate(carbon, Axis.X, PI / 2),
            Rotate(0, Axis.X, -PI / 2), Rotate(0, Axis.Y, PI / 2), Rotate(0, Axis.X, PI / 2)]


def test_nv_cnot_from_native_gates_makes_a_bell_state() -> None:
    dev = MockNVDevice.from_config(preset="ideal", seed=0)
    run(dev, Init(0), Init(1), Rotate(0, Axis.Y, PI / 2), *nv_cnot(1))
    assert fidelity(dev.density_matrix([0, 1]), PHI_PLUS) == pytest.approx(1.0, abs=1e-12)
    for e, c in ((0, 0), (0, 1), (1, 0), (1, 1)):  # truth table
        prep = [Rotate(q, Axis.X, PI) for q, bit in ((0, e), (2, c)) if bit]
        run(dev, Init(0), Init(2), *prep, *nv_cnot(2))
        expected = 2 * e + (c ^ e)
        assert dev.density_matrix([0, 2])[expected, expected].real == pytest.approx(1.0, abs=1e-12)


def test_controlled_rotation_matches_its_definition() -> None:
    dev = MockNVDevice.from_config(preset="ideal", seed=0)
    for axis in (Axis.X, Axis.Y):
        for control in (0, 1):
            prep = [Rotate(0, Axis.X, PI)] if control else []
            run(dev, Init(0), Init(1), *prep, ControlledRotate(0, 1, axis, PI / 3))
            rho_c = dev.density_matrix([1])
            sign = -1 if control else 1  # R(+theta) on control |0>, R(-theta) on |1>
            bloch = 2 * rho_c[0, 1]  # <X> - i<Y> for this convention: rho01 = (x - i y) / 2
            x, y = bloch.real, -bloch.imag
            if axis is Axis.X:  # Rx(t)|0> has Bloch vector (0, -sin t, cos t)
                assert (x, y) == pytest.approx((0.0, -sign * math.sin(PI / 3)), abs=1e-12)
            else:  # Ry(t)|0> has Bloch vector (sin t, 0, cos t)
                assert (x, y) == pytest.approx((sign * math.sin(PI / 3), 0.0), abs=1e-12)


# -- heralded entanglement ----------------------------------------------------------------------------

@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.25, 0.5])
def test_nv_heralded_fidelity_vs_alpha(alpha: float) -> None:
    """Through the devices and the station, at vanishing detection efficiency and without dark
    counts, the pair has the single-click fidelity (1-a)(1 + sqrt(V)(1-p2e)^2 exp(-s^2/2))/2 and the
    bright-bright population a (QNodeOS data release's limit; Humphreys et al. 2018)."""
    for preset in ("ideal", "realistic"):
        a, b, space = linked_pair(MockNVDevice, preset=preset, alpha=alpha, detection_efficiency=1e-7,
                                  peer_detection_efficiency=1e-7, dark_count_probability=0.0)
        (ra, rb), = attempt_rounds(a, b, 1, 10**12)
        assert ra.status is Status.ENTANGLED and rb.bell_state is ra.bell_state
        rho = joint_state(a, b, space)
        c = a.config
        k = math.sqrt(c.visibility) * (1 - c.double_excitation_probability) ** 2 * math.exp(
            -math.radians(c.phase_noise_deg) ** 2 / 2)
        expected = (1 - alpha) * (1 + k) / 2
        assert fidelity(rho, bell_projector(ra.bell_state)) == pytest.approx(expected, abs=1e-6)
        assert rho[3, 3].real == pytest.approx(alpha, abs=1e-6)  # both spins bright
        assert a.capabilities.entanglement.fidelity == pytest.approx(expected, abs=1e-6)
        assert a.capabilities.entanglement.success_probability == pytest.approx(2 * alpha * 1e-7, rel=1e-6)


def test_ion_heralded_state_has_the_emission_and_interference_errors() -> None:
    """Two ion-photon states of Bell fidelity F_e swapped by a two-photon Bell-state measurement of
    visibility V: a Bell-diagonal state depolarised twice, F = w^2 (1+V)/2 + (1-w^2)/4 with
    w = (4 F_e - 1)/3, diluted by dark-count heralds (fully mixed)."""
    a, b, space = linked_pair(MockIonDevice)
    (ra, _), = attempt_rounds(a, b, 1, 100_000)
    assert ra.status is Status.ENTANGLED and ra.bell_state in (BellState.PSI_PLUS, BellState.PSI_MINUS)
    c = a.config
    w = (4 * c.emission_fidelity - 1) / 3
    f_true = w * w * (1 + c.visibility) / 2 + (1 - w * w) / 4
    p_true = c.detection_efficiency * c.peer_detection_efficiency / 2
    p_dark = 2 * (c.detection_efficiency + c.peer_detection_efficiency) * c.dark_count_probability
    expected = (p_true * f_true + p_dark / 4) / (p_true + p_dark)
    rho = space.density_matrix([a.state_handle(0), b.state_handle(0)])  # at the herald, before idling
    assert fidelity(rho, bell_projector(ra.bell_state)) == pytest.approx(expected, abs=1e-12)


def test_measuring_one_half_of_a_pair_collapses_the_other_node() -> None:
    a, b, _space = linked_pair(MockNVDevice, preset="ideal", detection_efficiency=0.05)
    for _ in range(10):
        (ra, _), = attempt_rounds(a, b, 1, 100_000)
        assert ra.status is Status.ENTANGLED
        out_a = a.execute(Measure(0)).outcome
        rho_b = b.density_matrix([0])
        if out_a == 0:  # (1-alpha) Psi + alpha |11>: a = 0 forces b = 1
            assert rho_b[1, 1].real == pytest.approx(1.0, abs=1e-12)
        assert a.density_matrix([0])[out_a, out_a].real == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("cls,cfg", [(MockNVDevice, {"detection_efficiency": 0.01}), (MockIonDevice, {})])
def test_mean_attempts_is_one_over_p(cls: type[MockDevice], cfg: dict) -> None:
    a, b, _ = linked_pair(cls, **cfg)
    p = a.capabilities.entanglement.success_probability
    rounds = 300
    results = attempt_rounds(a, b, rounds, 10**7)
    counts = np.array([ra.attempts for ra, _ in results])
    assert all(ra.status is Status.ENTANGLED and ra.attempts == rb.attempts for ra, rb in results)
    sd = math.sqrt(1 - p) / p / math.sqrt(rounds)
    assert abs(counts.mean() - 1 / p) <= 5 * sd
    # and the windows: both clocks end at window start + attempts * attempt duration
    dur = a.capabilities.entanglement.attempt_duration_ns
    assert all(ra.end_ns == rb.end_ns == ra.start_ns + ra.attempts * dur for ra, rb in results)


def test_failure_reports_max_attempts_on_both_sides() -> None:
    a, b, _ = linked_pair(MockNVDevice, preset="ideal")  # p ~ 1e-4
    dur = a.capabilities.entanglement.attempt_duration_ns
    assert dur == 5_500  # attempts at the hardware rate, not one per 10 us tick
    for ra, rb in attempt_rounds(a, b, 5, 3):
        assert ra.status is rb.status is Status.ENT_FAILURE
        assert ra.attempts == rb.attempts == 3 and ra.end_ns - ra.start_ns == 3 * dur


@pytest.mark.parametrize("alpha", [0.1, 0.4])
def test_carbon_dephasing_per_attempt_scales_with_alpha(alpha: float) -> None:
    """Each attempt keeps 1 - alpha (1 - exp(-x^2/2)) of a carbon's coherence (the bright electron's
    random reset time), so after k attempts the coherence is that factor to the power k."""
    x = 0.3
    a, b, _ = linked_pair(MockNVDevice, preset="ideal", carbon_phase_per_reset_rad=x, alpha=alpha,
                          detection_efficiency=0.002, peer_detection_efficiency=0.002)
    run(a, Init(1), Rotate(1, Axis.Y, PI / 2))
    per_attempt = 1 - alpha * (1 - math.exp(-x * x / 2))
    total = 0
    for _ in range(4):
        (ra, _rb), = attempt_rounds(a, b, 1, 10**6)
        total += ra.attempts
        coherence = 2 * abs(a.density_matrix([1])[0, 1])
        assert coherence == pytest.approx(per_attempt ** total, rel=1e-9)
    assert carbon_dephasing_probability(total, (alpha,), x) == pytest.approx((1 - per_attempt ** total) / 2)
    assert attempts_to_1e((alpha,), x) == pytest.approx(-1 / math.log(per_attempt))
    # bob's carbons dephase too; a carbon that was never rotated keeps its (zero) coherence
    assert abs(b.density_matrix([1])[0, 1]) == 0.0


def test_barrett_kok_on_nv_excites_twice_per_attempt() -> None:
    """Double click on NV: two rounds at bright population 1/2 each dephase the carbons, p = eta^2/2."""
    x, eta = 0.3, 0.02
    a, b, _ = linked_pair(MockNVDevice, preset="ideal", scheme="double-click", carbon_phase_per_reset_rad=x,
                          detection_efficiency=eta, peer_detection_efficiency=eta)
    assert a.capabilities.entanglement.scheme == "double-click"
    assert a.capabilities.entanglement.success_probability == pytest.approx(eta * eta / 2)
    assert a.capabilities.entanglement.fidelity == pytest.approx(1.0)
    run(a, Init(1), Rotate(1, Axis.Y, PI / 2))
    (ra, _), = attempt_rounds(a, b, 1, 10**6)
    per_attempt = (1 - 0.5 * (1 - math.exp(-x * x / 2))) ** 2
    assert 2 * abs(a.density_matrix([1])[0, 1]) == pytest.approx(per_attempt ** ra.attempts, rel=1e-9)


def test_other_qubits_idle_during_attempts() -> None:
    a, b, _ = linked_pair(MockNVDevice, preset="ideal", carbon_t1_ns=1e9, carbon_t2_ns=2e8,
                          detection_efficiency=0.02)
    prep = run(a, Init(2), Rotate(2, Axis.X, PI / 2))[-1]
    (ra, _), = attempt_rounds(a, b, 1, 10**6)
    dt = a.now_ns - prep.end_ns
    assert dt >= ra.attempts * a.capabilities.entanglement.attempt_duration_ns
    assert 2 * abs(a.density_matrix([2])[0, 1]) == pytest.approx(math.exp(-dt / 2e8), rel=1e-9)


def test_window_alignment_and_sync_failures() -> None:
    a, b, _ = linked_pair(MockNVDevice, preset="ideal", detection_efficiency=0.5)
    a.execute(Wait(123_456))
    (ra, rb), = attempt_rounds(a, b, 1, 100)
    assert ra.start_ns == rb.start_ns == 130_000  # the later clock, rounded up to a tick
    window = max(a.now_ns, b.now_ns) + 1_000_000
    ra, rb = _both(a, b, window, window)
    assert ra.start_ns == rb.start_ns == window and ra.status is rb.status
    ra, rb = _both(a, b, window + 5_000_000, window + 6_000_000)
    assert ra.status is rb.status is Status.ENT_SYNC_FAILURE and "windows differ" in ra.message
    ra, rb = _both(a, b, 10_000, 10_000)
    assert ra.status is rb.status is Status.ENT_SYNC_FAILURE and "already passed" in ra.message
    lone = a.execute(EntangleAttempt(0, "bob"))
    assert lone.status is Status.ENT_SYNC_FAILURE and "'bob' did not attempt" in lone.message


def _both(a: MockDevice, b: MockDevice, wa: int, wb: int) -> tuple[Response, Response]:
    out: dict[str, Response] = {}
    t = threading.Thread(target=lambda: out.setdefault("b", b.execute(EntangleAttempt(0, "alice", 10, wb))))
    t.start()
    ra = a.execute(EntangleAttempt(0, "bob", 10, wa))
    t.join(10)
    return ra, out["b"]


def test_station_needs_a_shared_state_space_and_two_nodes() -> None:
    a = MockNVDevice.from_config(node="alice")
    b = MockNVDevice.from_config(node="bob")
    with pytest.raises(ConfigError, match="SharedStateSpace"):
        HeraldingStation(a, b)
    space = SharedStateSpace()
    c = MockNVDevice.from_config(node="alice", state_space=space)
    d = MockNVDevice.from_config(node="alice", state_space=space)
    with pytest.raises(ConfigError, match="alice"):
        HeraldingStation(c, d)


# -- reproducibility ----------------------------------------------------------------------------------

def _measurement_record(seed: int) -> list[int]:
    dev = MockNVDevice.from_config(seed=seed)
    return [run(dev, Init(0), Rotate(0, Axis.X, PI / 2), Measure(0))[-1].outcome for _ in range(64)]


def _attempt_record(station_seed: int) -> list[tuple[int, str]]:
    a, b, _ = linked_pair(MockIonDevice, station_seed=station_seed)
    return [(ra.attempts, ra.bell_state.value) for ra, _ in attempt_rounds(a, b, 12, 10**6)]


def test_same_seed_same_outcomes_different_seed_different_outcomes() -> None:
    assert _measurement_record(21) == _measurement_record(21)
    assert _measurement_record(21) != _measurement_record(22)
    assert _attempt_record(5) == _attempt_record(5)
    assert _attempt_record(5) != _attempt_record(6)


def test_two_nodes_with_one_seed_draw_independent_streams() -> None:
    space = SharedStateSpace(0)
    a = MockNVDevice.from_config(node="alice", seed=3, preset="ideal", state_space=space)
    b = MockNVDevice.from_config(node="bob", seed=3, preset="ideal", state_space=space)
    rec = {d.node: [run(d, Init(0), Rotate(0, Axis.X, PI / 2), Measure(0))[-1].outcome for _ in range(64)]
           for d in (a, b)}
    assert rec["alice"] != rec["bob"]


# -- configuration and refusals -------------------------------------------------------------------------

@pytest.mark.parametrize("cls,key,value,pattern", [
    (MockNVDevice, "alpha", 1.5, r"alpha=1\.5 is out of range \(0, 0\.5\]"),
    (MockNVDevice, "carbons", 9, r"carbons=9 is out of range \[0, 8\]"),
    (MockNVDevice, "readout_error_0", -0.1, "readout_error_0"),
    (MockNVDevice, "tick_ns", 2.5, "tick_ns=2.5 must be an integer"),
    (MockNVDevice, "electron_t2_ns", 1e13, "electron_t2_ns"),
    (MockIonDevice, "ions", 0, r"ions=0 is out of range"),
    (MockIonDevice, "ms_gate_error", "high", "ms_gate_error='high' must be a number"),
    (MockIonDevice, "t2_ns", float("nan"), "t2_ns=nan"),
])
def test_bad_config_values_name_the_key(cls, key, value, pattern) -> None:
    with pytest.raises(ConfigError, match=pattern):
        cls.from_config(**{key: value})


def test_unknown_config_keys_and_presets_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key.*'alpah'"):
        MockNVDevice.from_config(alpah=0.1)
    with pytest.raises(ConfigError, match="preset='perfect'"):
        MockIonDevice.from_config(preset="perfect")
    bad = tmp_path / "bad.toml"
    bad.write_text("ions = 2\nfoo = 1\n")
    with pytest.raises(ConfigError, match=r"unknown key.*'foo'.*bad\.toml"):
        MockIonDevice.from_config(config_file=str(bad))
    good = tmp_path / "good.toml"
    good.write_text("ions = 5\ngate_error = 0.05\n")
    dev = MockIonDevice.from_config(config_file=str(good), gate_error=0.01)  # keywords win over the file
    assert dev.capabilities.num_qubits == 5 and dev.config.gate_error == 0.01
    with pytest.raises(ConfigError, match="does not exist"):
        MockIonDevice.from_config(config_file=str(tmp_path / "missing.toml"))


def test_refusals_name_the_instruction_and_the_cause() -> None:
    nv = MockNVDevice.from_config(seed=0)
    before = nv.now_ns
    r = nv.execute(Rotate(0, Axis.Z, 1.0))
    assert r.status is Status.UNSUPPORTED and "about z" in r.message and "Rotate(" in r.message
    r = nv.execute(Measure(2))
    assert r.status is Status.UNSUPPORTED and "measure" in r.message and "(2,)" in r.message
    r = nv.execute(ControlledRotate(1, 2, Axis.X, 1.0))
    assert r.status is Status.UNSUPPORTED and "controlled_rotate" in r.message
    r = nv.execute(Rotate(7, Axis.X, 1.0))
    assert r.status is Status.INVALID_QUBIT and "no qubit 7" in r.message
    r = nv.execute(EntangleAttempt(0, "charlie"))
    assert r.status is Status.UNSUPPORTED and "'charlie'" in r.message
    r = nv.execute(Rotate(0, Axis.X, float("nan")))
    assert r.status is Status.UNSUPPORTED and "not finite" in r.message
    assert nv.now_ns == before
    ion = MockIonDevice.from_config(seed=0)
    r = ion.execute(ControlledRotate(0, 1, Axis.X, 1.0))
    assert r.status is Status.UNSUPPORTED and "no native 'controlled_rotate'" in r.message

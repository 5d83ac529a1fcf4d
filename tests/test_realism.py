"""``qnodeos validate``: every published figure of every preset agrees with the mocks.

The whole table is computed once (default sample sizes, seed 1: what ``qnodeos validate`` prints) and
each row is checked on its own, so a failing figure is named. Further checks keep the measurements
honest: exact rows equal the link model's closed form, the teleport harness gives fidelity 1 on
perfect pairs, and the agreement rule behaves at its edges.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from qnodeos.cli import main
from qnodeos.drivers.mock_ion import MockIonDevice
from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.realism import measure
from qnodeos.realism.figures import Measured, Published, agrees
from qnodeos.realism.report import resolve, validate
from qnodeos.realism.rows import PENDING, ROWS
from qnodeos.realism.dqc import run_dqc, server_rounds
from qnodeos.realism.network_teleport import LINE, SWAP_TELEPORT_APP, line_network, swap_teleport
from qnodeos.realism.teleport import TELEPORT_DIR, load_netqasm_teleport, run_netqasm_teleport

DOC = Path(__file__).resolve().parent.parent / "docs" / "realism.md"


@pytest.fixture(scope="module")
def table() -> dict:
    results, _ = validate(None, measure.Context(seed=1))
    return {(r.row.preset, r.row.figure): r for r in results}


#: rows that do not agree yet, with why (each is a known gap, tracked, not hidden)
KNOWN_GAPS = {
    ("pompili-2021", "teleportation between non-neighbouring nodes, 6 cardinal states (own three-node app)"):
        "predicted, not fitted, and below the paper (docs/realism.md, row 10): bob's stored carbon dephases with "
        "every attempt of the second link (1/e after ~2850 attempts at the preset's 0.0789 rad per reset, a pair "
        "takes ~12500), and the lab's timeout of 1000 attempts before starting over (Hermans 2022, Fig. 3) cannot "
        "be asked of the OS; the runs that meet it give 0.637(22), the rest of the gap is two F = 0.80 links and "
        "2 % electron-carbon gates",
    ("qnodeos-nv-2025", "DQC: end-to-end latency (herald at the server -> end of S2)"):
        "the mock's subroutines are fast (docs/realism.md, DQC rows): its QNPU runs classical instructions "
        "in no device time, so S1 ends at the herald and S2 (a rotation, H, a measurement) takes 0.06 ms, "
        "where QNodeOS's S2 took 0.53-0.72 ms; 3.33 ms against about 4.8 ms",
}


def _row_param(row):
    gap = KNOWN_GAPS.get((row.preset, row.figure))
    marks = [pytest.mark.xfail(reason=gap, strict=True)] if gap else []
    return pytest.param(row, marks=marks, id=f"{row.preset}: {row.figure}")


@pytest.mark.parametrize("row", [_row_param(r) for r in ROWS])
def test_every_published_figure_agrees(row, table) -> None:
    result = table[(row.preset, row.figure)]
    p, m = row.published, result.measured
    assert result.agree, (f"{row.preset}: {row.figure}: paper {p.value} ± {p.error or p.tolerance} {p.unit}, "
                          f"mock {m.value} ± {m.error} ({m.method})")
    assert math.isfinite(m.value) and m.error >= 0 and m.method


def test_exact_rows_equal_the_closed_form() -> None:
    ctx = measure.Context(seed=3)
    for preset in ("qnodeos-nv-2025", "pompili-2021"):
        link = MockNVDevice.from_config(preset=preset).link_params()
        assert measure.pair_fidelity("nv", preset, ctx).value == pytest.approx(link.fidelity, abs=1e-12)
    link = MockIonDevice.from_config(preset="stephenson-2020").link_params()
    assert measure.pair_fidelity("trapped_ion", "stephenson-2020", ctx).value == pytest.approx(link.fidelity, abs=1e-12)
    assert measure.memory_coherence_ms("nv", "qnodeos-nv-2025", ctx).value == pytest.approx(13.0, rel=1e-9)
    t2 = MockNVDevice.from_config(preset="humphreys-2018").config.electron_t2_ns
    assert measure.remote_state_decoherence_hz("nv", "humphreys-2018", ctx).value == pytest.approx(2e9 / t2, rel=1e-9)
    assert measure.ion_photon_fidelity("trapped_ion", "qnodeos-ion-2025", ctx).value == pytest.approx(0.92, abs=1e-12)


def test_sampled_rate_converges_to_the_model() -> None:
    """The sampled time per pair (through the station) is the link model's mean, within 5 sigma."""
    m = measure.pair_time_s("nv", "pompili-2021", measure.Context(seed=7, samples=2.0))
    expected = MockNVDevice.from_config(preset="pompili-2021").link_params().mean_pair_time_ns / 1e9
    assert abs(m.value - expected) < 5 * m.error


def test_teleport_harness_runs_netqasms_example_and_is_exact_on_perfect_pairs() -> None:
    module = load_netqasm_teleport("receiver")
    assert Path(module.__file__) == TELEPORT_DIR / "app_receiver.py"  # netqasm's own file, not a copy
    for phi, theta in ((0.0, 0.0), (math.pi / 2, math.pi / 2), (1.1, 0.7)):
        assert run_netqasm_teleport("trapped_ion", "ideal", phi, theta, seed=5) == pytest.approx(1.0, abs=1e-9)
    noisy = run_netqasm_teleport("nv", "qnodeos-nv-2025", math.pi / 2, math.pi / 2, seed=5)
    assert 0.5 < noisy < 0.95


def test_teleport_through_a_pair_alone_is_the_pairs_pauli_channel() -> None:
    """Only the heralded pair noisy (gates, readout, memories ideal; no latencies): teleporting |+>
    through netqasm's example gives p(Psi+) + p(Phi+) of the heralded state exactly. Teleportation
    with Pauli corrections is the Pauli channel of the pair's Bell weights (Bowen & Bose 2001); after
    the OS corrects the herald to Phi+, |+> is hurt only by the Z-type weights. A herald corrected to
    the wrong Bell state, or corrections applied the wrong way round, give 1 minus that or less."""
    from qnodeos.hal.responses import BellState
    from qnodeos.drivers.link_physics import bell_projector
    from qnodeos.network.timing import INSTANT

    inf = math.inf
    quiet = {"electron_t1_ns": inf, "electron_t2_ns": inf, "carbon_t1_ns": inf, "carbon_t2_ns": inf,
             "carbon_phase_per_reset_rad": 0.0, "readout_error_0": 0.0, "readout_error_1": 0.0,
             "electron_init_error": 0.0, "carbon_init_error": 0.0, "electron_gate_error": 0.0,
             "carbon_gate_error": 0.0, "ec_gate_error": 0.0}
    rho = MockNVDevice.from_config(preset="qnodeos-nv-2025").link_params().heralded_state(BellState.PSI_PLUS)
    weight = {b: float(np.real(np.trace(bell_projector(b) @ rho))) for b in BellState}
    # |+> is left alone by the X-type weight, |+i> by the Y-type one (both corrections matter there)
    plus = weight[BellState.PSI_PLUS] + weight[BellState.PHI_PLUS]
    plus_i = weight[BellState.PSI_PLUS] + weight[BellState.PHI_MINUS]
    assert 0.8 < plus < 0.85 and 0.8 < plus_i < 0.85
    for (phi, theta), expected, seed in (((0.0, math.pi / 2), plus, 11), ((math.pi / 2, math.pi / 2), plus_i, 12)):
        f = run_netqasm_teleport("nv", "qnodeos-nv-2025", phi, theta, seed=seed, timing=INSTANT, device_config=quiet)
        assert f == pytest.approx(expected, abs=1e-9)


def _client_c1_ends(trace: dict) -> list[int]:
    """End of each of the client's C1 subroutines (the one with create_epr), read from its own trace."""
    subs: dict[int, list[dict]] = {}
    for e in trace["entries"]:
        if e["process"] != "network":
            subs.setdefault(e["subroutine"], []).append(e)
    return [max(r["end_ns"] for r in rows if r["line"] >= 0) for _, rows in sorted(subs.items())
            if any(r["instruction"].startswith("create_epr") for r in rows)]


def test_dqc_app_computes_on_the_server_the_state_the_client_chose() -> None:
    """On noiseless nodes with perfect pairs (the ideal ion preset; the ideal NV link keeps the
    single-click |11> admixture, F = 0.9) the server, told only delta, measures |+_alpha> in the X
    basis: outcome 0 always for alpha = 0 and 1 always for alpha = pi, whatever theta and the client's
    outcomes. A wrong sign of theta or of the client's correction m pi gives 50/50 outcomes."""
    for alpha_n, theta_n, expected in ((0, 3, 0), (4, 1, 1), (0, 6, 0)):
        results, rounds, _ = run_dqc("trapped_ion", "ideal", 4, seed=20 + theta_n, alpha_n=alpha_n, theta_n=theta_n)
        assert results["server"]["outcomes"] == [expected] * 4
        assert len(results["client"]["outcomes"]) == 4 and len(rounds) == 4


def test_dqc_server_wait_is_the_sum_of_its_legs() -> None:
    """The server's wait between S1 and S2, read from its trace, is the client's C1 after the herald
    (from the client's own trace) + the client's QNPU -> host result + the classical message + the
    server's host -> QNPU submission, for any latencies; the end-to-end latency adds S2. Checked
    within 100 ns (sub-tick alignment of the device clocks)."""
    from qnodeos.network.timing import INSTANT, HostLatency, LinkLatency, NetworkTiming

    custom = NetworkTiming(host=HostLatency(submit_ns=2_000_000, result_ns=500_000),
                           link=LinkLatency(length_km=10.0, processing_ns=300_000))
    for timing, legs_ns in ((custom, 500_000 + 300_000 + 50_000 + 2_000_000), (INSTANT, 0)):
        _, rounds, traces = run_dqc("nv", "qnodeos-nv-2025", 3, seed=4, timing=timing)
        c1_ends = _client_c1_ends(traces["client"])
        assert len(c1_ends) == len(rounds) == 3
        for r, c1_end in zip(rounds, c1_ends):
            assert r.s1_end_ns == r.herald_ns  # the server's S1 has nothing left after its pair
            assert 0 < c1_end - r.herald_ns < 200_000  # the client's rotation, H and measurement
            assert abs(r.waiting_ns - (c1_end - r.herald_ns + legs_ns)) <= 100
            assert r.latency_ns == r.waiting_ns + (r.s2_end_ns - r.s2_start_ns) and r.s2_end_ns > r.s2_start_ns


def test_dqc_trace_reader_refuses_incomplete_traces() -> None:
    def row(sub: int, line: int, instruction: str, t: int) -> dict:
        return {"pid": 1, "process": "server", "subroutine": sub, "line": line, "instruction": instruction,
                "physical": [], "start_ns": t, "end_ns": t}

    s1 = [row(0, 0, "recv_epr R0 R1 R2 R3", 0), row(0, 1, "wait_all @0[R3:R5]", 50), row(0, 2, "ret_arr @0", 50)]
    s2 = [row(1, -1, "wait: host", 50), row(1, 0, "meas Q0 M0", 3_050), row(1, 1, "ret_arr @1", 3_060)]
    (r,) = server_rounds({"meta": {}, "entries": s1 + s2})
    assert (r.herald_ns, r.waiting_ns, r.latency_ns) == (50, 3_000, 3_010)
    with pytest.raises(ValueError, match="an S2 after it"):
        server_rounds({"meta": {}, "entries": s1})
    with pytest.raises(ValueError, match="its wait_all"):
        server_rounds({"meta": {}, "entries": [s1[0], s1[2]] + s2})
    with pytest.raises(ValueError, match="no DQC server"):
        server_rounds({"meta": {}, "entries": s2})
    with pytest.raises(ValueError, match="let 7 rows go"):
        server_rounds({"meta": {"trace": {"dropped": 7}}, "entries": s1 + s2})
QUIET_NV = {"electron_t1_ns": math.inf, "electron_t2_ns": math.inf, "carbon_t1_ns": math.inf,
            "carbon_t2_ns": math.inf, "carbon_phase_per_reset_rad": 0.0, "readout_error_0": 0.0,
            "readout_error_1": 0.0, "electron_init_error": 0.0, "carbon_init_error": 0.0,
            "electron_gate_error": 0.0, "carbon_gate_error": 0.0, "ec_gate_error": 0.0}


def test_swap_teleport_through_werner_pairs_is_the_depolarising_channel() -> None:
    """The three-node application, everything ideal but the pairs, which are Werner states of fidelity F
    (depolarising weight p = (4F-1)/3): a swap multiplies the weights (p^2) and teleporting through the
    swapped pair is the depolarising channel of that weight, so every state, whatever the four
    outcomes, arrives with fidelity (1 + p^2)/2. A correction applied for the wrong outcome, or the
    two Pauli frames combined wrongly, turns that into 1 - (1 + p^2)/2 or less for some state."""
    from qnodeos.network.timing import INSTANT

    f_pair = 0.9
    p = (4 * f_pair - 1) / 3
    werner = {"delivered": {"kind": "werner", "fidelity": f_pair}}
    frames = set()
    for seed, (phi, theta) in enumerate(((0.0, 0.0), (0.0, math.pi), (0.0, math.pi / 2), (math.pi / 2, math.pi / 2),
                                          (3 * math.pi / 2, math.pi / 2), (math.pi, math.pi / 2), (0.0, 0.0),
                                          (0.0, math.pi / 2)), start=21):
        run = swap_teleport("pompili-2021", phi, theta, seed, timing=INSTANT, device_config=QUIET_NV, link=werner)
        assert run["fidelity"] == pytest.approx((1 + p * p) / 2, abs=1e-9), (phi, theta, run["alice"])
        assert run["alice"]["swap"] == [run["bob"]["m1"], run["bob"]["m2"]]
        assert run["alice"]["teleport"] == [run["charlie"]["m1"], run["charlie"]["m2"]]
        assert run["second_link_attempts"] >= 1
        frames.add(tuple(run["alice"]["swap"] + run["alice"]["teleport"]))
    assert len(frames) >= 3  # several correction frames were exercised, not one lucky one


def test_swap_teleport_runs_on_a_line_without_an_alice_charlie_link() -> None:
    spec = line_network("pompili-2021")
    assert {frozenset(link.nodes) for link in spec.link_list()} == {frozenset(pair) for pair in LINE}
    assert frozenset(("alice", "charlie")) not in {frozenset(link.nodes) for link in spec.link_list()}
    assert sorted(path.name for path in SWAP_TELEPORT_APP.glob("app_*.py")) == ["app_alice.py", "app_bob.py",
                                                                                "app_charlie.py"]


def test_agreement_rule() -> None:
    with_bar = Published(0.72, 0.02, "", "paper", "read")
    assert agrees(with_bar, Measured(0.759, 0.0, "exact"))
    assert not agrees(with_bar, Measured(0.77, 0.0, "exact"))
    assert agrees(with_bar, Measured(0.775, 0.02, "sampled"))  # 2 x hypot(0.02, 0.02) = 0.0566
    without = Published(39.0, None, "Hz", "paper", "read", tolerance=2.0)
    assert agrees(without, Measured(40.9, 0.0, "exact")) and not agrees(without, Measured(41.5, 0.0, "exact"))
    assert agrees(without, Measured(41.5, 0.5, "sampled"))
    with pytest.raises(ValueError, match="tolerance"):
        Published(1.0, None, "", "paper", "read")
    with pytest.raises(ValueError, match="status"):
        Published(1.0, 0.1, "", "paper", "rumour")


def test_presets_resolve_and_pending_rows_are_listed() -> None:
    assert resolve("realistic") == {("nv", "qnodeos-nv-2025"), ("trapped_ion", "qnodeos-ion-2025")}
    assert resolve("humphreys-2018") == {("nv", "humphreys-2018")}
    assert resolve("no-such-preset") == set()
    dqc = {r.figure for r in ROWS if r.figure.startswith("DQC: ")}
    assert len(dqc) == 2 and not dqc & {p.figure for p in PENDING}


def test_cli_json_plot_and_errors(tmp_path, capsys) -> None:
    png = tmp_path / "alpha.png"
    code = main(["validate", "--preset", "humphreys-2018", "--json", "--plot", str(png), "--samples", "0.5"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["all_agree"] is True and all(isinstance(r["agree"], bool) for r in out["rows"])
    assert {r["figure"] for r in out["rows"]} == {"entangling rate (up to)", "remote-state decoherence rate"}
    assert all(r["preset"] == "humphreys-2018" and r["paper"]["source"].startswith("Humphreys") for r in out["rows"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["validate", "--preset", "ideal"]) == 2
    assert "has no published figures" in capsys.readouterr().err
    assert main(["validate", "--samples", "0"]) == 2
    assert main(["validate", "--preset", "stephenson-2020", "--samples", "0.3"]) in (0, 1)
    printed = capsys.readouterr().out
    assert "stephenson-2020" in printed and "[unverified]" in printed


def test_realism_doc_examples_run(capsys) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/realism.md example {i}", "exec"), {"__name__": "__doc__"})
    assert capsys.readouterr().out.strip()

#!/usr/bin/env python3
"""Benchmark of the density-matrix engine against its peers.

Times one noisy single-qubit gate (unitary fused with depolarising noise) and
one noisy two-qubit gate (unitary + two-qubit depolarising) on an n-qubit
register, n = 2..10, for

* this engine (``qnodeos.drivers._engine.StateEngine``),
* the fused-numpy peer (``tests/reference_dm.py:FusedNumpyDM``: one
  ``tensordot`` per pre-fused gate),
* QuTiP, if importable (1q: precomputed full superoperator applied with
  ``S(rho)``, i.e. vector_to_operator(S @ operator_to_vector(rho)); 2q:
  ``U rho U^dag`` plus depolarising via ``ptrace``/``tensor``/``permute``),
* qiskit-aer, if importable (density-matrix method with a depolarising noise
  model, gate fusion off; per-gate cost = marginal cost of extra gates in one
  circuit, so its circuit overhead is excluded).

All implementations run single-threaded (BLAS thread variables default to 1,
Aer max_parallel_threads=1): a per-core comparison.

It also measures the machine's copy bandwidth in the same run and compares
the n = 10 engine time with one read + one write of the 4^n complex128
matrix at that bandwidth (the floor for an in-place pass).

Every figure is the median over repeated batches; targets cycle through all
qubits (and pairs) of the register so every kernel path is measured.

Usage: python benchmarks/bench_engine.py [--quick] [--json PATH] [--max-n N]
"""

from __future__ import annotations

import os

# Per-core comparison: every implementation single-threaded (the engine is).
# Multi-threaded BLAS also turns erratic on a shared two-core machine.  Must
# be set before numpy loads its BLAS.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from reference_dm import FusedNumpyDM, random_density_matrix  # noqa: E402

from qnodeos.drivers import _engine, channels  # noqa: E402
from qnodeos.drivers._engine import StateEngine  # noqa: E402

P1 = 1e-3  # one-qubit depolarising probability of the benchmarked gate
P2 = 1e-2  # two-qubit depolarising probability
U1 = channels.rx(0.37)
U2 = channels.CNOT @ np.kron(channels.ry(0.2), channels.ry(0.5))  # dense 4x4 entangler (no zero entries)


LEVELS: dict[str, bool | int] = {"best": True, "avx512": 2, "avx2": 1, "portable": 0}


# --- timing helpers ----------------------------------------------------------------

Step = Callable[[int], None]

#: Every implementation restores its initial state after this many gates.
#: Repeated noisy gates drive rho towards I/d, and the vanishing deviations
#: eventually become subnormal floats, which slow numpy/QuTiP down ~10-100x
#: (the engine flushes them to zero).  Restoring keeps every peer in the
#: normal-float regime; at 1/20000 of the calls its cost is invisible.
RESTORE_EVERY = 20000


def time_interleaved(
    steps: dict[str, Step], budget: float, min_samples: int = 7, sample_s: float = 0.004
) -> dict[str, float]:
    """Median seconds per call of each step(i).

    Samples are taken round-robin over all steps (one batch of calls each per
    round) so that background load on a shared machine hits every
    implementation alike; a batch lasts ~sample_s.  Runs for ``budget``
    seconds or until every step has ``min_samples`` samples, whichever is
    later (at most 300 rounds).
    """
    batch: dict[str, int] = {}
    counter = 0
    for key, step in steps.items():
        step(counter)  # warm up: allocations, caches, lazy imports
        t0 = time.perf_counter()
        step(counter + 1)
        one = max(time.perf_counter() - t0, 1e-7)
        counter += 2
        batch[key] = max(1, int(sample_s / one))
    samples: dict[str, list[float]] = {key: [] for key in steps}
    start = time.perf_counter()
    rounds = 0
    while rounds < min_samples or (time.perf_counter() - start < budget and rounds < 300):
        for key, step in steps.items():
            t0 = time.perf_counter()
            for _ in range(batch[key]):
                step(counter)
                counter += 1
            samples[key].append((time.perf_counter() - t0) / batch[key])
        rounds += 1
    return {key: statistics.median(v) for key, v in samples.items()}


def copy_bandwidth(nbytes: int, reps: int) -> float:
    """Bytes copied per second by np.copyto (source bytes; the copy reads and
    writes each of them once)."""
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        times.append(time.perf_counter() - t0)
    return nbytes / statistics.median(times)


# --- implementations: each returns {"1q": step, "2q": step} -------------------------------


def pairs(n: int) -> list[tuple[int, int]]:
    """Pairs the 2q gate cycles through: neighbours both ways and a far pair."""
    out = [(k, (k + 1) % n) for k in range(n)] + [((k + 1) % n, k) for k in range(n)]
    if n > 2:
        out.append((0, n - 1))
    return out


def setup_engine(n: int) -> dict[str, Step]:
    eng = StateEngine(seed=1)
    qs = [eng.add_qubit() for _ in range(n)]
    rho0 = random_density_matrix(np.random.default_rng(n), n)
    eng.set_state(qs, rho0)
    s = channels.noisy_gate_superop(U1, depolarize=P1)
    prs = [(qs[a], qs[b]) for a, b in pairs(n)]
    one = eng.apply_superop_1q
    two = eng.apply_unitary_2q

    def step1(i: int) -> None:
        if i % RESTORE_EVERY == 0:
            eng.set_state(qs, rho0)
        one(qs[i % n], s)

    def step2(i: int) -> None:
        if i % RESTORE_EVERY == 0:
            eng.set_state(qs, rho0)
        a, b = prs[i % len(prs)]
        two(a, b, U2, P2)

    return {"1q": step1, "2q": step2}


def setup_numpy(n: int) -> dict[str, Step]:
    t0 = random_density_matrix(np.random.default_rng(n), n).reshape((2,) * (2 * n))
    sims = {kind: FusedNumpyDM(n) for kind in ("1q", "2q")}
    s4 = FusedNumpyDM.fuse_1q(U1, P1)
    s8 = FusedNumpyDM.fuse_2q(U2, P2)
    prs = pairs(n)

    def step1(i: int) -> None:
        if i % RESTORE_EVERY == 0:
            sims["1q"].t = t0.copy()
        sims["1q"].apply_1q(i % n, s4)

    def step2(i: int) -> None:
        if i % RESTORE_EVERY == 0:
            sims["2q"].t = t0.copy()
        a, b = prs[i % len(prs)]
        sims["2q"].apply_2q(a, b, s8)

    return {"1q": step1, "2q": step2}


def setup_qutip(n: int) -> dict[str, Step]:
    import qutip

    dims = [2] * n
    rho0 = random_density_matrix(np.random.default_rng(n), n)
    kraus1 = [math.sqrt(1 - 0.75 * P1) * U1] + [
        math.sqrt(P1 / 4) * p @ U1 for p in (channels.X, channels.Y, channels.Z)
    ]
    # full-register superoperators, built once per target as a driver would
    # cache them; at large n only a few targets, to bound memory
    targets = list(range(n)) if n <= 7 else [0, n // 2, n - 1]
    sup: dict[int, Any] = {}
    for k in targets:
        ks = [qutip.expand_operator(qutip.Qobj(m), dims=dims, targets=k) for m in kraus1]
        sup[k] = sum((qutip.to_super(kf) for kf in ks[1:]), qutip.to_super(ks[0]))
    state = {"1q": qutip.Qobj(rho0, dims=[dims, dims]), "2q": qutip.Qobj(rho0, dims=[dims, dims])}

    def step1(i: int) -> None:
        if i % RESTORE_EVERY == 0:
            state["1q"] = qutip.Qobj(rho0, dims=[dims, dims])
        state["1q"] = sup[targets[i % len(targets)]](state["1q"])

    prs = pairs(n) if n <= 7 else [(0, 1), (n - 1, n // 2)]
    uq = qutip.Qobj(U2, dims=[[2, 2], [2, 2]])
    full_u = {pr: qutip.expand_operator(uq, dims=dims, targets=list(pr)) for pr in prs}
    mixed = qutip.qeye([2, 2]) / 4
    perms: dict[tuple[int, int], tuple[list[int], list[int]]] = {}
    for a, b in prs:
        rest = [k for k in range(n) if k not in (a, b)]
        order = [a, b] + rest  # tensor(mixed, reduced) is over this order
        perms[(a, b)] = (rest, [order.index(k) for k in range(n)])

    def step2(i: int) -> None:
        if i % RESTORE_EVERY == 0:
            state["2q"] = qutip.Qobj(rho0, dims=[dims, dims])
        pr = prs[i % len(prs)]
        r = state["2q"]
        uf = full_u[pr]
        rest, perm = perms[pr]
        out = (1 - P2) * (uf @ r @ uf.dag())
        if rest:
            out = out + P2 * qutip.tensor(mixed, r.ptrace(rest)).permute(perm)
        else:
            out = out + P2 * mixed.permute(perm) * r.tr()
        state["2q"] = out

    return {"1q": step1, "2q": step2}


AER_GATES: dict[int, tuple[int, int]] = {}


def setup_aer(n: int) -> dict[str, Step]:
    """Two circuits per gate kind (few and many gates); the per-gate figure
    is the difference of their run times over the difference in gate count,
    so circuit submission overhead cancels.  Fusion is disabled: the others
    are per-call APIs that cannot merge a gate with the ones after it."""
    from qiskit import QuantumCircuit, transpile
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel, depolarizing_error

    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(P1, 1), ["rx"])
    noise.add_all_qubit_quantum_error(depolarizing_error(P2, 2), ["unitary"])
    sim = AerSimulator(method="density_matrix", noise_model=noise, max_parallel_threads=1, fusion_enable=False)
    prs = pairs(n)
    small, big = 2 * n, 2 * n + max(24, min(400, int(4e6 / 4**n)))
    AER_GATES[n] = (small, big)

    def circuit(gates: int, two: bool) -> Any:
        qc = QuantumCircuit(n)
        for i in range(gates):
            if two:
                a, b = prs[i % len(prs)]
                qc.unitary(U2, [a, b], label="U2")  # same dense U2 (Aer is little-endian: irrelevant here)
            else:
                qc.rx(0.37, i % n)
        qc.save_density_matrix()
        return transpile(qc, sim, optimization_level=0)

    steps: dict[str, Step] = {}
    for kind in ("1q", "2q"):
        for size, gates in (("small", small), ("big", big)):
            c = circuit(gates, kind == "2q")
            steps[f"{kind}_{size}"] = lambda _i, c=c: sim.run(c).result()
    return steps


# --- driver --------------------------------------------------------------------------


def fmt_us(t: float | None) -> str:
    return "-" if t is None else (f"{t * 1e6:.3g}" if t * 1e6 < 1000 else f"{t * 1e6:.0f}")


def fmt_ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}x"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short budgets, n up to 8, for a smoke run")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON to PATH ('-' = stdout)")
    ap.add_argument("--max-n", type=int, default=None, help="largest register size (default 10, 8 with --quick)")
    ap.add_argument("--no-qutip", action="store_true")
    ap.add_argument("--no-aer", action="store_true")
    ap.add_argument(
        "--kernels", choices=list(LEVELS), default="best", help="engine kernel family (default: the best the CPU has)"
    )
    args = ap.parse_args(argv)

    max_n = args.max_n or (8 if args.quick else 10)
    simd = _engine._set_simd(LEVELS[args.kernels])

    peers: dict[str, Callable[[int], dict[str, Step]]] = {"engine": setup_engine, "numpy": setup_numpy}
    skipped: dict[str, str] = {}
    qutip_version: str | None = None
    aer_version: str | None = None
    if not args.no_qutip:
        try:
            import qutip

            peers["qutip"] = setup_qutip
            qutip_version = qutip.__version__
        except ImportError as exc:
            skipped["qutip"] = f"not importable ({exc})"
    if not args.no_aer:
        try:
            import qiskit_aer

            peers["aer"] = setup_aer
            aer_version = qiskit_aer.__version__
        except ImportError as exc:
            skipped["aer"] = f"not importable ({exc})"

    t_start = time.perf_counter()
    big_bw = copy_bandwidth(256 * 2**20 if not args.quick else 64 * 2**20, 7)
    mat_bytes = 16 * 4**max_n
    same_bw = copy_bandwidth(mat_bytes, 15)

    rows: list[dict[str, Any]] = []
    for n in range(2, max_n + 1):
        steps: dict[str, Step] = {}
        for name, setup in peers.items():
            try:
                for kind, step in setup(n).items():
                    steps[f"{name}:{kind}"] = step
            except MemoryError as exc:
                skipped[f"{name} n={n}"] = repr(exc)
        budget = (0.3 if args.quick else 2.0) * (1.0 if n <= 6 else 2.5)
        med = time_interleaved(steps, budget, min_samples=3 if args.quick else 7)
        for name in list(peers):
            if name == "aer" and "aer:1q_big" in med:
                small, big = AER_GATES[n]
                for kind in ("1q", "2q"):
                    med[f"aer:{kind}"] = max(med[f"aer:{kind}_big"] - med[f"aer:{kind}_small"], 1e-9) / (big - small)
        row: dict[str, Any] = {"n": n}
        for name in peers:
            for kind in ("1q", "2q"):
                row[f"{name}_{kind}_s"] = med.get(f"{name}:{kind}")
        for name in peers:
            if name == "engine":
                continue
            for kind in ("1q", "2q"):
                peer, own = row[f"{name}_{kind}_s"], row[f"engine_{kind}_s"]
                row[f"{name}_over_engine_{kind}"] = None if peer is None else peer / own
        rows.append(row)
        print(f"  n={n} done ({time.perf_counter() - t_start:.0f} s)", file=sys.stderr)

    rw_time = mat_bytes / big_bw
    rw_time_same = mat_bytes / same_bw
    last = rows[-1]
    floor = {
        "n": max_n,
        "matrix_bytes": mat_bytes,
        "copy_bandwidth_GBps_large_array": big_bw / 1e9,
        "copy_bandwidth_GBps_matrix_size": same_bw / 1e9,
        "read_plus_write_s": rw_time,
        "read_plus_write_s_matrix_size_bw": rw_time_same,
        "engine_1q_over_read_write": last["engine_1q_s"] / rw_time,
        "engine_2q_over_read_write": last["engine_2q_s"] / rw_time,
    }

    def worst(key: str, upto: int) -> float | None:
        vals = [r[key] for r in rows if r["n"] <= upto and r.get(key) is not None]
        return min(vals) if vals else None

    targets = {
        "qutip_min_speedup_n_le_6_1q": worst("qutip_over_engine_1q", 6),
        "qutip_min_speedup_n_le_6_2q": worst("qutip_over_engine_2q", 6),
        "numpy_min_speedup_n_le_6_1q": worst("numpy_over_engine_1q", 6),
        "numpy_min_speedup_n_le_6_2q": worst("numpy_over_engine_2q", 6),
    }
    verdicts = {
        "qutip >= 20x (n<=6)": None
        if targets["qutip_min_speedup_n_le_6_1q"] is None
        else min(targets["qutip_min_speedup_n_le_6_1q"], targets["qutip_min_speedup_n_le_6_2q"]) >= 20,
        "numpy >= 5x (n<=6)": min(targets["numpy_min_speedup_n_le_6_1q"], targets["numpy_min_speedup_n_le_6_2q"]) >= 5,
        f"1q n={max_n} within 2x of read+write": floor["engine_1q_over_read_write"] <= 2.0,
        f"2q n={max_n} within 2x of read+write": floor["engine_2q_over_read_write"] <= 2.0,
    }

    report = {
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "engine_simd_kernels": simd,
            "blas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS"),
            "qutip": qutip_version,
            "qiskit_aer": aer_version,
        },
        "gate": {"p_depol_1q": P1, "p_depol_2q": P2},
        "rows": rows,
        "bandwidth": floor,
        "targets": targets,
        "verdicts": verdicts,
        "skipped": skipped,
        "quick": args.quick,
        "wall_s": time.perf_counter() - t_start,
    }
    print_table(report, list(peers), to_stderr=args.json == "-")
    if args.json:
        text = json.dumps(report, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    return 0


def print_table(report: dict[str, Any], names: list[str], to_stderr: bool = False) -> None:
    """Table + notes, on stderr when stdout carries the JSON."""
    out = sys.stderr if to_stderr else sys.stdout
    peers = [p for p in names if p != "engine"]
    header = ["n", "engine 1q µs"] + [f"{p} 1q µs" for p in peers] + [f"{p}/eng 1q" for p in peers]
    header += ["engine 2q µs"] + [f"{p} 2q µs" for p in peers] + [f"{p}/eng 2q" for p in peers]
    body = []
    for r in report["rows"]:
        line = [str(r["n"]), fmt_us(r["engine_1q_s"])]
        line += [fmt_us(r[f"{p}_1q_s"]) for p in peers] + [fmt_ratio(r[f"{p}_over_engine_1q"]) for p in peers]
        line += [fmt_us(r["engine_2q_s"])]
        line += [fmt_us(r[f"{p}_2q_s"]) for p in peers] + [fmt_ratio(r[f"{p}_over_engine_2q"]) for p in peers]
        body.append(line)
    bw = report["bandwidth"]
    notes = [
        f"copy bandwidth (np.copyto, large array): {bw['copy_bandwidth_GBps_large_array']:.2f} GB/s; "
        f"at matrix size ({bw['matrix_bytes'] / 2**20:.0f} MiB): {bw['copy_bandwidth_GBps_matrix_size']:.2f} GB/s",
        f"n={bw['n']}: one read+one write of the matrix = {bw['read_plus_write_s'] * 1e6:.0f} µs "
        f"({bw['read_plus_write_s_matrix_size_bw'] * 1e6:.0f} µs at matrix-size bandwidth); "
        f"engine 1q / that = {bw['engine_1q_over_read_write']:.2f}, 2q / that = {bw['engine_2q_over_read_write']:.2f}",
    ]
    verdict = {True: "met", False: "NOT met", None: "n/a"}
    notes += [f"target {k}: {verdict[v]}" for k, v in report["verdicts"].items()]
    notes += [f"skipped {k}: {v}" for k, v in report["skipped"].items()]
    level_name = {v: k for k, v in LEVELS.items() if k != "best"}[report["machine"]["engine_simd_kernels"]]
    notes.append(f"engine kernels: {level_name}; wall time {report['wall_s']:.0f} s")
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
        print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)), file=out)
        for b in body:
            print("  ".join(c.rjust(w) for c, w in zip(b, widths, strict=True)), file=out)
        for note in notes:
            print(note, file=out)
        return
    table = Table(title="Noisy gate time per call (median); ratio = peer time / engine time")
    for h in header:
        table.add_column(h, justify="right")
    for b in body:
        table.add_row(*b)
    console = Console(width=max(100, 14 * len(header)), file=out)
    console.print(table)
    for note in notes:
        console.print(note)


if __name__ == "__main__":
    raise SystemExit(main())

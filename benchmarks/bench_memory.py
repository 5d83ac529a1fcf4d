"""Multitasking on NV and trapped-ion nodes with the quantum memory manager (issue 16).

Each process runs two subroutines with a host wait between them, as ``qnodeos run s1.nqasm s2.nqasm
--processes k --host-delay-us 5000`` does: the first allocates virtual qubit ``Q`` (0 or 1), resets it
and applies H; the host waits 5 ms; the second applies H, measures (ideally 0) and frees it.
k processes run together and one after the other on the same kind of node (realistic presets: mock
NV = electron + 2 carbons, mock ion = 3 ions). Printed per k: utilisation and makespan together and
one after the other, the moves the OS made, and the fidelity each process's result keeps — the
fraction of runs (seeds) in which it read the ideal 0, averaged over processes and for the worst one.

Target (issue 16): NV running the ``Q0`` program, k = 2 and 3: the utilisation gain over k = 1 is at
least 90 % of the ion's for the same program and k (moves included); printed as the gain ratio
U(k)/U(1) and, for reference, in percentage points U(k) - U(1).

    python benchmarks/bench_memory.py [--quick] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from qnodeos.drivers.mock_ion import MockIonDevice
from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.moves import MovePolicy
from qnodeos.node import Node

HEADER = "# NETQASM 1.0\n# APPID 0\n"
HOST_DELAY_NS = 5_000_000
KS = (1, 2, 3, 4, 8, 16)
TARGET = 0.9


def programs(vid: int, flavour: str) -> list[str]:
    if flavour == "nv":  # the NV flavour has no h: R_y(pi/2), then R_y(3 pi/2) brings |+> back to |0>
        return [HEADER + f"set Q0 {vid}\nqalloc Q0\ninit Q0\nrot_y Q0 8 4\n",
                HEADER + f"set Q0 {vid}\nrot_y Q0 24 4\nmeas Q0 M0\nret_reg M0\nqfree Q0\n"]
    return [HEADER + f"set Q0 {vid}\nqalloc Q0\ninit Q0\nh Q0\n",
            HEADER + f"set Q0 {vid}\nh Q0\nmeas Q0 M0\nret_reg M0\nqfree Q0\n"]


#: (label, device class, virtual id, flavour, move policy)
ROWS = [
    ("mock ion (3 ions), Q0", MockIonDevice, 0, None, None),
    ("mock ion (3 ions), Q1", MockIonDevice, 1, None, None),
    ("mock NV (e + 2 C), Q0", MockNVDevice, 0, None, None),
    ("mock NV (e + 2 C), Q1", MockNVDevice, 1, None, None),
    ("mock NV, Q0, NV flavour", MockNVDevice, 0, "nv", None),
    ("mock NV, Q0, protect=True", MockNVDevice, 0, None, MovePolicy(protect=True)),
]


def run(device_cls, vid: int, flavour: str | None, policy: MovePolicy | None, k: int, seed: int,
        together: bool) -> dict:
    node = Node(device_cls.from_config(seed=seed, preset="realistic"), trace=False, move_policy=policy)
    prog = programs(vid, flavour or "vanilla")
    pids = []
    if together:
        pids = [node.submit(prog, host_delay_ns=HOST_DELAY_NS, flavour=flavour) for _ in range(k)]
        node.run()
    else:
        for _ in range(k):
            pids.append(node.submit(prog, host_delay_ns=HOST_DELAY_NS, flavour=flavour))
            node.run()
    results = [node.result(p) for p in pids]
    failed = [r.error for r in results if not r.ok]
    if failed:
        raise SystemExit(f"a process failed: {failed[0]}")
    stats = node.stats()
    return {"utilisation": node.utilisation(), "makespan_ns": stats["elapsed_ns"],
            "moves": stats["memory"]["moves"], "zeros": [int(r.registers["M0"] == 0) for r in results]}


def measure(repeats: int) -> list[dict]:
    out = []
    for label, cls, vid, flavour, policy in ROWS:
        for k in KS:
            together = run(cls, vid, flavour, policy, k, 1, True)
            apart = run(cls, vid, flavour, policy, k, 1, False)
            zeros = [together["zeros"]] + [run(cls, vid, flavour, policy, k, seed, True)["zeros"]
                                           for seed in range(2, repeats + 1)]
            per_process = [sum(z[i] for z in zeros) / len(zeros) for i in range(k)]
            out.append({"row": label, "k": k, "utilisation": together["utilisation"],
                        "makespan_ms": together["makespan_ns"] / 1e6, "moves": together["moves"],
                        "apart_utilisation": apart["utilisation"], "apart_makespan_ms": apart["makespan_ns"] / 1e6,
                        "fidelity_mean": sum(per_process) / k, "fidelity_worst": min(per_process),
                        "runs": len(zeros)})
    return out


def targets(rows: list[dict]) -> list[dict]:
    util = {(r["row"], r["k"]): r["utilisation"] for r in rows}
    out = []
    for k in (2, 3):
        ion = (util[(ROWS[0][0], k)], util[(ROWS[0][0], 1)])
        nv = (util[(ROWS[2][0], k)], util[(ROWS[2][0], 1)])
        gain_ion, gain_nv = ion[0] / ion[1], nv[0] / nv[1]
        points_ion, points_nv = ion[0] - ion[1], nv[0] - nv[1]
        out.append({"k": k, "ion_gain": gain_ion, "nv_gain": gain_nv, "ratio": gain_nv / gain_ion,
                    "ion_points": points_ion * 100, "nv_points": points_nv * 100,
                    "points_ratio": points_nv / points_ion, "met": gain_nv / gain_ion >= TARGET})
    return out


def _print(rows: list[dict], checks: list[dict], seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=170)
    table = Table(title=f"k processes with a {HOST_DELAY_NS / 1e6:g} ms host wait between two subroutines "
                        "(realistic presets): together vs one after the other")
    for col in ("driver, program", "k", "utilisation", "makespan", "apart: utilisation", "apart: makespan",
                "moves", "result fidelity (mean / worst)"):
        table.add_column(col, justify="right")
    last = None
    for r in rows:
        if last is not None and r["row"] != last:
            table.add_section()
        last = r["row"]
        table.add_row(r["row"], str(r["k"]), f"{r['utilisation']:.1%}", f"{r['makespan_ms']:.2f} ms",
                      f"{r['apart_utilisation']:.1%}", f"{r['apart_makespan_ms']:.2f} ms", str(r["moves"]),
                      f"{r['fidelity_mean']:.3f} / {r['fidelity_worst']:.3f}")
    console.print(table)
    target = Table(title=f"Target: NV Q0's utilisation gain over k = 1 >= {TARGET:.0%} of the ion's (same program, k)")
    for col in ("k", "ion U(k)/U(1)", "NV U(k)/U(1)", "NV / ion", "ion U(k)-U(1)", "NV U(k)-U(1)", "NV / ion (points)",
                "target"):
        target.add_column(col, justify="right")
    for c in checks:
        target.add_row(str(c["k"]), f"{c['ion_gain']:.2f}×", f"{c['nv_gain']:.2f}×", f"{c['ratio']:.0%}",
                       f"{c['ion_points']:+.1f} pts", f"{c['nv_points']:+.1f} pts", f"{c['points_ratio']:.0%}",
                       "met" if c["met"] else "NOT met")
    console.print(target)
    console.print(f"fidelity = fraction of {rows[0]['runs']} seeded runs in which a process read the ideal 0; "
                  f"{seconds:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer seeded runs for the fidelity column")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = measure(8 if args.quick else 40)
    checks = targets(rows)
    _print(rows, checks, time.perf_counter() - t0)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "targets": checks}, indent=1))
    sys.exit(0 if all(c["met"] for c in checks) else 1)


if __name__ == "__main__":
    main()

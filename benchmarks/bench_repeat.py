"""Repeated runs: wall time per run of netqasm's teleport example, ``qnodeos run APP --num N`` next to
``netqasm simulate --app-dir APP --simulator=simulaqron --num K`` (issue 15, point 3; target ≥ 100×).

Both are whole commands in a fresh interpreter, timed from outside, so each per-run figure is the
command's wall time over its runs (start-up shared by the runs). qnodeos also reports the mean time of
one run inside the series (its network already up: ``wall_s`` of each run in ``--json``), and
SimulaQron its marginal time per run ((wall of K runs − wall of 1 run) / (K − 1)).

    python benchmarks/bench_repeat.py [--quick] [--json out.json] [--skip-peer]
"""
from __future__ import annotations

import argparse
import json
import os
import platform as host_platform
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peer_simulaqron as peer_mod  # noqa: E402
from peer_simulaqron import run_in_group  # noqa: E402

TARGET = 100.0
APP = "teleport"
PRESET = "realistic"


def qnodeos_series(app: Path, platform: str, mode: str, num: int, timeout_s: float) -> dict[str, Any]:
    """``qnodeos run APP --num num --json`` in a fresh interpreter (its own process group)."""
    scratch = Path(tempfile.mkdtemp(prefix="qnodeos-bench-repeat-"))
    try:
        out = scratch / "series.json"
        # the console script's main, its stdout (the --json document) into a file
        code = ("import contextlib, sys\nfrom qnodeos.cli import main\n"
                "with open(sys.argv[1], 'w') as f, contextlib.redirect_stdout(f):\n    code = main(sys.argv[2:])\n"
                "sys.exit(code)")
        cmd = [sys.executable, "-c", code, str(out), "run", str(app), "--num", str(num), "--platform", platform,
               "--mode", mode, "--seed", "1", "--preset", PRESET, "--json", "--no-logs",
               "--app-output", str(scratch / "app-output.txt")]
        rc, text, wall = run_in_group(cmd, timeout_s=timeout_s, cwd=scratch)
        if rc is None:
            return {"status": "timeout", "error": text[-800:]}
        try:
            document = json.loads(out.read_text())
        except (OSError, ValueError):
            return {"status": f"failed (exit {rc})", "error": text[-800:]}
        runs = document["runs"]
        failed = sum(not r["ok"] for r in runs)
        return {"status": "ok" if rc == 0 and not failed else f"{failed} of {len(runs)} runs failed",
                "num": len(runs), "wall_s": wall, "per_run_s": wall / max(1, len(runs)),
                "in_series_s": sum(r["wall_s"] for r in runs) / max(1, len(runs)),
                "fidelity": document["statistics"]["quantities"].get("receiver.fidelity")}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def peer_series(peer: Any, app: Path, num: int, timeout_s: float) -> dict[str, Any]:
    one = peer_mod.run_app(peer, app, timeout_s=timeout_s, extra_args=["--num", "1"])
    many = peer_mod.run_app(peer, app, timeout_s=timeout_s * num, extra_args=["--num", str(num)])
    if not (one.ok and many.ok):
        bad = many if one.ok else one
        return {"status": bad.status, "error": bad.error_line}
    return {"status": "ok", "num": num, "wall_s": many.wall_s, "per_run_s": many.wall_s / num,
            "marginal_s": (many.wall_s - one.wall_s) / (num - 1) if num > 1 else None, "one_s": one.wall_s}


def _fmt_s(x: float | None) -> str:
    return "—" if x is None else (f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s")


def report(rows: list[dict], peer: dict | None, meta: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Repeated runs of netqasm's {APP} example: wall time per run (target ≥ {TARGET:g}×)")
    for col in ("platform", "mode", "runs q / SimulaQron", "qnodeos per run", "qnodeos in series",
                "SimulaQron per run", "SimulaQron marginal", "ratio", "fidelity (mean ± s.e.)"):
        table.add_column(col, justify="left" if col in ("platform", "mode") else "right")
    peer_ok = peer is not None and peer["status"] == "ok"
    for r in rows:
        fid = r.get("fidelity") or {}
        table.add_row(r["platform"], r["mode"], f"{r.get('num', '—')} / {peer.get('num', '—') if peer else '—'}",
                      _fmt_s(r.get("per_run_s")) + ("" if r["status"] == "ok" else f" {r['status']}"),
                      _fmt_s(r.get("in_series_s")),
                      _fmt_s(peer.get("per_run_s")) if peer_ok else (peer["status"] if peer else "skipped"),
                      _fmt_s(peer.get("marginal_s")) if peer_ok else "—",
                      f"{r['ratio']:,.0f}×" if r.get("ratio") else "—",
                      f"{fid['mean']:.4f} ± {fid['std_error']:.4f}" if fid.get("std_error") is not None else "—")
    Console(width=160).print(table)
    for r in rows:
        if r.get("ratio"):
            verdict = "meets" if r["ratio"] >= TARGET else "below"
            print(f"repeat {APP} {r['platform']:11} {r['mode']:9}: {r['ratio']:,.0f}× SimulaQron per run "
                  f"({verdict} the ≥{TARGET:g}× target)")
        if r["status"] != "ok":
            print(f"qnodeos {r['platform']} {r['mode']}: {r['status']}: {r.get('error')}")
    if peer is not None and not peer_ok:
        print(f"SimulaQron: {peer['status']}: {peer.get('error')}")
    print(f"per run = the command's wall time / its runs (fresh interpreter, start-up included); qnodeos in "
          f"series = one run on the warm network; SimulaQron marginal = (K runs − 1 run) / (K − 1). "
          f"qnodeos preset {PRESET!r}. {meta['host']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer runs (about a minute)")
    ap.add_argument("--num", type=int, help="qnodeos runs per series (default 1000; 200 with --quick)")
    ap.add_argument("--peer-num", type=int, help="SimulaQron runs (default 5; 3 with --quick)")
    ap.add_argument("--platforms", default="nv,trapped_ion")
    ap.add_argument("--modes", default="processes,threads")
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--peer-venv", type=Path, default=peer_mod.DEFAULT_VENV)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run atexit: kill the child groups
    num = args.num or (200 if args.quick else 1000)
    peer_num = args.peer_num or (3 if args.quick else 5)
    import netqasm

    app = Path(netqasm.__file__).resolve().parent / "examples" / "apps" / APP
    meta = {"host": f"{host_platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
            "num": num, "peer_num": peer_num, "preset": PRESET}
    peer = None
    if not args.skip_peer:
        try:
            env = peer_mod.setup_peer(args.peer_venv, log=lambda m: print(m, file=sys.stderr))
            peer = peer_series(env, app, peer_num, timeout_s=120)
        except Exception as exc:  # noqa: BLE001 - measure qnodeos anyway
            peer = {"status": "setup failed", "error": str(exc)[-800:]}
        print(f"  SimulaQron {APP} --num {peer_num}: {_fmt_s(peer.get('per_run_s'))} per run ({peer['status']})",
              file=sys.stderr, flush=True)
    rows = []
    for platform in args.platforms.split(","):
        for mode in args.modes.split(","):
            started = time.perf_counter()
            row = {"platform": platform, "mode": mode, **qnodeos_series(app, platform, mode, num, 60 + num * 2.0)}
            if peer is not None and peer["status"] == "ok" and row.get("per_run_s"):
                row["ratio"] = peer["per_run_s"] / row["per_run_s"]
            rows.append(row)
            print(f"  qnodeos {APP} {platform} {mode} --num {num}: {_fmt_s(row.get('per_run_s'))} per run "
                  f"({row['status']}, {time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    report(rows, peer, meta)
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "peer": peer, "rows": rows}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench_repeat: interrupted", file=sys.stderr)
        sys.exit(130)

"""``qnodeos demo``: the README's main job — two-node teleportation and entanglement-based QKD through
the OS (every node its own OS process) on mock NV and mock trapped-ion networks, and one node running
several applications at once; progress bars and results tables."""
from __future__ import annotations

import argparse
from functools import partial
from typing import TYPE_CHECKING

from qnodeos.apps import defaults

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="run the two-node network demos and the multitasking demo")
    p.add_argument("--teleports", type=int, default=10, help="teleportation runs per platform")
    p.add_argument("--qkd-pairs", type=int, default=100, help="EPR pairs of the QKD run per platform")
    p.add_argument("--preset", choices=defaults.PRESETS, default=defaults.PRESET)
    p.add_argument("--mode", choices=defaults.MODES, default=defaults.MODE)
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from qnodeos.demos.multitasking import run_multitasking
    from qnodeos.demos.network import APP_LOG, run_qkd, run_teleport

    console = Console(width=None if Console().is_terminal else 120)
    platforms = ("nv", "trapped_ion")
    console.rule(f"[bold]qnodeos demo: two nodes on mock hardware ({args.preset} noise, nodes as {args.mode})")
    teleports, qkd = [], []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        for platform in platforms:
            task = progress.add_task(f"teleport on {platform}", total=args.teleports)
            teleports.append(run_teleport(platform, args.teleports, seed=args.seed, preset=args.preset,
                                          mode=args.mode,
                                          progress=partial(_advance, progress, task)))
        for platform in platforms:
            task = progress.add_task(f"QKD ({args.qkd_pairs} pairs) on {platform}", total=1)
            qkd.append(run_qkd(platform, args.qkd_pairs, seed=args.seed, preset=args.preset, mode=args.mode))
            progress.update(task, completed=1)

    table = Table(title="Teleportation of random states, sender -> receiver (NetQASM SDK app)")
    for col in ("platform", "runs", "mean fidelity", "worst fidelity", "wall time per run"):
        table.add_column(col, justify="right")
    for t in teleports:
        table.add_row(t.platform, str(t.runs), f"{t.mean_fidelity:.3f}", f"{t.min_fidelity:.3f}",
                      f"{t.wall_s_per_run * 1e3:.0f} ms")
    console.print(table)

    table = Table(title="Entanglement-based QKD (netqasm's BB84 example, unchanged)")
    for col in ("platform", "pairs", "sifted key bits", "QBER", "device time", "key rate (device time)", "wall time"):
        table.add_column(col, justify="right")
    for k in qkd:
        table.add_row(k.platform, str(k.pairs), str(k.sifted), f"{k.qber:.1%}", f"{k.device_time_s:.3f} s",
                      f"{k.key_rate_hz:.1f} bit/s", f"{k.wall_s:.2f} s")
    console.print(table)
    console.print("Device time is the nodes' simulated clock (entanglement attempts, gates, readout); "
                  "fidelities are read from the mock devices' states. Application output: " + APP_LOG)

    console.rule("[bold]one node, several NetQASM applications at once")
    mt = Table(title="Each app: |+> prepared, host thinks 5 ms, H and measure (expect 0) — together vs one at a time")
    for col in ("driver", "apps", "outcome 0", "utilisation together", "utilisation alone",
                "makespan together", "makespan alone"):
        mt.add_column(col, justify="right")
    for driver in ("mock-nv", "mock-trapped-ion"):
        m = run_multitasking(driver, seed=args.seed)
        mt.add_row(driver, str(m.apps), f"{m.correct}/{m.apps}", f"{m.utilisation_together:.1%}",
                   f"{m.utilisation_alone:.1%}", f"{m.makespan_together_ms:.2f} ms", f"{m.makespan_alone_ms:.2f} ms")
    console.print(mt)
    return 0


def _advance(progress: Progress, task: TaskID, done: int) -> None:
    progress.update(task, completed=done)

"""``qnodeos run PROGRAM``: run NetQASM subroutines (text or binary) on one node and print results.

Several PROGRAM files run as one process, subroutine after subroutine; ``--processes N`` starts N
copies at once (multitasking on one device). ``--trace FILE`` writes the per-instruction timeline.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from qnodeos.errors import QNodeOSError

from . import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="run NetQASM subroutine files on a single node",
                              description="Run NetQASM subroutines (text .nqasm or binary .bin) on one node.")
    p.add_argument("programs", nargs="+", type=Path, metavar="PROGRAM",
                   help="subroutine files, run in order as one process")
    p.add_argument("--driver", default="mock-nv", help="QDevice driver name (see `qnodeos drivers`)")
    p.add_argument("--seed", type=int, default=None, help="seed of the mock device (reproducible runs)")
    p.add_argument("--config", type=Path, help="node TOML file ([node] and [driver] tables)")
    p.add_argument("--preset", choices=["realistic", "ideal"], help="mock device noise preset")
    p.add_argument("--flavour", choices=["vanilla", "nv", "trapped_ion"], help="NetQASM flavour of the files")
    p.add_argument("--processes", type=int, default=1, help="start this many copies at once")
    p.add_argument("--host-delay-us", type=float, default=0.0, help="host time between subroutines (µs)")
    p.add_argument("--trace", type=Path, help="write the timeline JSON here")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.set_defaults(handler=run)


def _make_node(args: argparse.Namespace) -> Any:
    from qnodeos.node import Node

    config: dict[str, Any] = {}
    if args.preset:
        config["preset"] = args.preset
    if args.config:
        overrides = {"seed": args.seed} if args.seed is not None else {}
        node = Node.from_config(args.config, **overrides)
        return node
    return Node(args.driver, seed=args.seed, config=config)


def run(args: argparse.Namespace) -> int:
    if args.processes < 1:
        raise CommandError("--processes must be at least 1")
    sources: list[Any] = []
    for path in args.programs:
        if not path.is_file():
            raise CommandError(f"no such program file: {path}")
        sources.append(path)
    try:
        node = _make_node(args)
        pids = [node.submit(sources, name=f"{args.programs[0].stem}#{i}", flavour=args.flavour,
                            host_delay_ns=int(args.host_delay_us * 1000)) for i in range(args.processes)]
        node.run()
    except QNodeOSError as exc:
        raise CommandError(str(exc)) from None
    results = [node.result(pid) for pid in pids]
    stats = node.stats()
    if args.trace:
        node.trace.to_json(args.trace)
    if args.json:
        print(json.dumps({"results": [_result_dict(r) for r in results], "stats": stats}, indent=1))
    else:
        _print_table(results, stats)
    return 0 if all(r.ok for r in results) else 1


def _result_dict(r: Any) -> dict[str, Any]:
    return {"pid": r.pid, "name": r.name, "state": r.state.value, "error": r.error, "registers": r.registers,
            "arrays": {str(k): v for k, v in r.arrays.items()}, "finished_ns": r.finished_ns}


def _print_table(results: list[Any], stats: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{stats['device']} ({stats['platform']}) — utilisation {stats['utilisation']:.1%}, "
                        f"{stats['elapsed_ns'] / 1e3:.1f} µs device time")
    for col in ("pid", "process", "state", "registers", "arrays", "error"):
        table.add_column(col)
    for r in results:
        table.add_row(str(r.pid), r.name, r.state.value, json.dumps(r.registers),
                      json.dumps({str(k): v for k, v in r.arrays.items()}), r.error or "")
    Console().print(table)

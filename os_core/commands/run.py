"""``qnodeos run PROGRAM``: run NetQASM subroutines (text or binary) on one node and print results;
``qnodeos run APP_DIR``: run a NetQASM SDK application directory (``app_<role>.py`` files) unchanged on
a mock NV or trapped-ion network, one node per role.

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
    p = subparsers.add_parser("run", help="run NetQASM subroutine files on a node, or an SDK application directory",
                              description="Run NetQASM subroutines (text .nqasm or binary .bin) on one node, or a "
                                          "NetQASM SDK application directory on a mock network.")
    p.add_argument("programs", nargs="+", type=Path, metavar="PROGRAM",
                   help="subroutine files, run in order as one process; or one application directory")
    p.add_argument("--platform", choices=["nv", "trapped_ion"], default="nv",
                   help="mock network hardware for an application directory")
    p.add_argument("--mode", choices=["processes", "threads"], default="processes",
                   help="application directory: one OS process per node (default) or all nodes in this one")
    p.add_argument("--input", action="append", default=[], metavar="ROLE.NAME=VALUE",
                   help="application input (a Python literal), e.g. --input sender.theta=1.57")
    p.add_argument("--driver", help="QDevice driver name (see `qnodeos drivers`); default mock-nv, or the "
                                    "config file's [node] driver")
    p.add_argument("--seed", type=int, default=None, help="seed of the mock device (reproducible runs)")
    p.add_argument("--config", type=Path, help="node TOML file: [node] table (name, driver, seed …) and [driver] "
                                               "table of driver options (e.g. resource = \"TCPIP::…\")")
    p.add_argument("--preset", choices=["realistic", "ideal"], help="mock device noise preset")
    p.add_argument("--flavour", choices=["vanilla", "nv", "trapped_ion"], help="NetQASM flavour of the files")
    p.add_argument("--processes", type=int, default=1, help="start this many copies at once")
    p.add_argument("--host-delay-us", type=float, default=0.0, help="host time between subroutines (µs)")
    p.add_argument("--trace", type=Path, help="write the timeline JSON here")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.set_defaults(handler=run)


def _make_node(args: argparse.Namespace) -> Any:
    from qnodeos.node import Node

    config: dict[str, Any] = {"preset": args.preset} if args.preset else {}
    if args.config:
        return Node.from_config(args.config, driver_config=config, driver=args.driver, seed=args.seed)
    return Node(args.driver or "mock-nv", seed=args.seed, config=config)


def run(args: argparse.Namespace) -> int:
    if len(args.programs) == 1 and args.programs[0].is_dir():
        return run_app(args)
    if args.processes < 1:
        raise CommandError("--processes must be at least 1")
    sources: list[Any] = []
    for path in args.programs:
        if not path.is_file():
            raise CommandError(f"no such program file: {path}")
        sources.append(path)
    try:
        node = _make_node(args)
        if args.processes > node.max_processes:
            raise CommandError(f"--processes {args.processes}: a node runs at most {node.max_processes} "
                               "processes at once")
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


def _parse_inputs(items: list[str]) -> dict[str, dict[str, Any]]:
    import ast

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        role, dot, name = key.partition(".")
        if not sep or not dot or not role or not name:
            raise CommandError(f"--input {item!r}: expected ROLE.NAME=VALUE")
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parsed = value
        out.setdefault(role, {})[name] = parsed
    return out


def run_app(args: argparse.Namespace) -> int:
    from qnodeos.apps.runner import run_app_dir

    try:
        result = run_app_dir(args.programs[0], args.platform, seed=args.seed, preset=args.preset or "realistic",
                             overrides=_parse_inputs(args.input), mode=args.mode)
    except QNodeOSError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print(json.dumps({"results": result.results, "errors": result.errors, "stats": result.stats},
                         indent=1, default=repr))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{args.programs[0].name} on a mock {args.platform} network ({args.mode})")
        for col in ("role", "result", "error"):
            table.add_column(col)
        for role in sorted(set(result.results) | set(result.errors)):
            table.add_row(role, repr(result.results.get(role)), result.errors.get(role, ""))
        Console().print(table)
    return 0 if result.ok else 1

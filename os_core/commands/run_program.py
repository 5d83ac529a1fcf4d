"""``qnodeos run PROGRAM...`` (see :mod:`qnodeos.commands.run`): NetQASM subroutine files as processes
on one node."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from qnodeos.errors import QNodeOSError
from qnodeos.trace_rows import DEFAULT_MAX_ROWS

from . import CommandError
from .output import check_writable, dumps


def _make_node(args: argparse.Namespace) -> Any:
    """The node of a program run: ``--driver``, ``--seed`` and ``--preset`` override the ``--config``
    file's values (an option the driver does not take is refused by the registry, by name)."""
    from qnodeos.node import Node

    driver_config: dict[str, Any] = {"preset": args.preset} if args.preset else {}
    options: dict[str, Any] = {"trace": args.trace is not None}
    if args.max_instructions is not None:
        options["max_instructions"] = args.max_instructions
    if args.config:  # None leaves the file's value (trace_rows too)
        return Node.from_config(args.config, driver_config=driver_config, driver=args.driver, seed=args.seed,
                                trace_rows=args.trace_rows, **options)
    return Node(args.driver or "mock-nv", seed=args.seed, config=driver_config,
                trace_rows=args.trace_rows or DEFAULT_MAX_ROWS, **options)


def run_programs(args: argparse.Namespace) -> int:
    processes = args.processes or 1
    for path in args.programs:
        if not path.is_file():
            raise CommandError(f"no such program file: {path}")
    if args.trace is not None:
        check_writable(args.trace, "--trace")
    try:
        node = _make_node(args)
        if processes > node.max_processes:
            raise CommandError(f"--processes {processes}: a node runs at most {node.max_processes} "
                               "processes at once")
        host_delay_ns = round((args.host_delay_us or 0.0) * 1000)
        pids = [node.submit(list(args.programs), name=f"{args.programs[0].stem}#{i}", flavour=args.flavour,
                            host_delay_ns=host_delay_ns) for i in range(processes)]
        node.run()
    except QNodeOSError as exc:
        raise CommandError(str(exc)) from None
    results = [node.result(pid) for pid in pids]
    stats = node.stats()
    if args.json:
        print(dumps({"results": [_result_dict(r) for r in results], "stats": stats}))
    else:
        _print_table(results, stats)
    if args.trace is not None:  # after the results are out: a full disk must not cost them
        try:
            node.trace.to_json(args.trace)
        except OSError as exc:
            raise CommandError(f"--trace {args.trace}: {exc.strerror or exc}") from None
        if node.trace.dropped:
            print(f"qnodeos run: the trace keeps the latest {node.trace.max_rows} of {node.trace.recorded} "
                  "instructions (--trace-rows)", file=sys.stderr)
    return 0 if all(r.ok for r in results) else 1


def _result_dict(r: Any) -> dict[str, Any]:
    return {"pid": r.pid, "name": r.name, "state": r.state.value, "error": r.error, "registers": r.registers,
            "arrays": {str(k): v for k, v in r.arrays.items()}, "finished_ns": r.finished_ns}


def _print_table(results: list[Any], stats: dict[str, Any]) -> None:
    import json

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

"""``qnodeos drivers``: list the installed QDevice drivers, blocked ones and broken plugins.

Listing is informational: it exits 0 as long as one driver loaded, and reports broken plugins in a
separate section instead of failing. ``--json`` gives the same data for scripts and tests;
``--describe NAME`` instantiates one driver with its default configuration and prints its
capabilities. The JSON lists the options each driver declares (what a node file's ``[driver]`` table
may hold).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from qnodeos.hal.registry import DriverRegistry

from . import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "drivers",
        help="list installed QDevice drivers and broken driver plugins",
        description="List the QDevice drivers found through the 'qnodeos.drivers' entry points. "
        "QNODEOS_DRIVERS_ALLOW / QNODEOS_DRIVERS_BLOCK (comma-separated globs) select drivers.",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--describe", metavar="NAME",
                        help="create driver NAME with its default configuration and print its capabilities as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from qnodeos.hal.registry import DriverRegistry  # here: `qnodeos --help` does not load the plugins

    registry = DriverRegistry.load()
    if args.describe:
        return _describe(registry, args.describe)
    report = listing(registry)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_table(report)
    if not registry.drivers:
        print("qnodeos drivers: no driver loaded", file=sys.stderr)
        return 1
    return 0


def listing(registry: DriverRegistry) -> dict[str, Any]:
    """The registry as plain data: drivers (loaded, then blocked) and plugin problems."""
    rows: list[dict[str, Any]] = []
    for info in sorted(registry.drivers.values(), key=lambda i: i.name):
        rows.append({"name": info.name, "version": info.version, "platform": info.platform,
                     "origin": info.origin, "status": "loaded", "description": info.description,
                     "reason": None, "options": _options(info)})
    for b in sorted(registry.blocked, key=lambda b: b.name):
        rows.append({"name": b.name, "version": b.info.version if b.info else None,
                     "platform": b.info.platform if b.info else None, "origin": b.origin,
                     "status": "blocked", "description": b.info.description if b.info else "",
                     "reason": b.reason})
    return {"drivers": rows, "problems": [p.to_dict() for p in registry.problems]}


def _options(info: Any) -> dict[str, Any]:
    """What the driver's factory accepts (``open``: any further keyword too)."""
    try:
        accepted = info.option_set
    except ValueError as exc:  # a malformed declaration: say so instead of failing the listing
        return {"error": str(exc)}
    return {"declared": [o.to_dict() for o in accepted.options], "open": accepted.open}


def _print_table(report: dict[str, Any], file: TextIO | None = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = _console(file or sys.stdout, Console)
    table = Table(title="qnodeos drivers", title_justify="left")
    for column in ("name", "version", "platform", "status", "origin"):
        table.add_column(column, no_wrap=column in ("name", "status"), overflow="fold")
    for row in report["drivers"]:
        status = Text("loaded", style="green") if row["status"] == "loaded" else Text("blocked", style="yellow")
        table.add_row(Text(row["name"]), Text(row["version"] or "-"), Text(row["platform"] or "-"),
                      status, Text(row["origin"]))
    console.print(table)
    blocked = [r for r in report["drivers"] if r["status"] == "blocked"]
    if blocked:
        console.print(Text("blocked:", style="bold yellow"))
        for row in blocked:
            console.print(Text(f"  {row['name']}: {row['reason']}"))
    if report["problems"]:
        console.print(Text(f"problems ({len(report['problems'])} plugin(s) skipped):", style="bold red"))
        for p in report["problems"]:
            console.print(Text(f"  {p['name']} [{p['kind']}]: {p['message']}"))


def _console(file: TextIO, console_cls: type) -> Any:
    """A rich console; when piped (no terminal, no $COLUMNS) use a wide page rather than 80 columns
    so names and origins are not folded in logs and greps."""
    if not file.isatty() and "COLUMNS" not in os.environ:
        return console_cls(file=file, width=200, soft_wrap=True)
    return console_cls(file=file, soft_wrap=True)


def _describe(registry: DriverRegistry, name: str) -> int:
    device = registry.create(name)  # DriverLoadError / ConfigError are reported by cli.main
    try:
        caps = device.capabilities.to_dict()
    except Exception as exc:  # noqa: BLE001 - driver code
        raise CommandError(f"driver {name!r} failed to report capabilities: {type(exc).__name__}: {exc}") from exc
    finally:
        device.close()
    print(json.dumps(_finite(caps), indent=2))
    return 0


def _finite(value: Any) -> Any:
    """Strict JSON has no Infinity/NaN: write them as "inf"/"-inf"/"nan" (``float()`` reads them back,
    so ``Capabilities.from_dict`` still accepts the output)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value

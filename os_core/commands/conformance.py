"""``qnodeos conformance --driver NAME [--config FILE]``: the HAL conformance kit against an installed
driver — a mock, a shim against a stub, or a real instrument at an address — with a report.

Each check runs on a fresh device built from the driver name and the node file's ``[driver]``
options (the same file ``qnodeos run --config`` reads). Exit code 0 when every check that ran passed,
1 when one failed. The two-node checks need two linked devices and are left to a driver's own tests.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from qnodeos.errors import QNodeOSError

from . import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("conformance", help="run the HAL conformance kit against an installed driver",
                              description="Run the HAL conformance kit against an installed QDevice driver.")
    p.add_argument("--driver", help="driver name (see `qnodeos drivers`); default: the config file's, or mock-nv")
    p.add_argument("--config", type=Path, help="node TOML file: [node] (name, driver, seed) and [driver] options")
    p.add_argument("--seed", type=int, help="seed, for drivers that take one")
    p.add_argument("--shots", type=int, help="repetitions of the statistical checks (default 40; lower for slow hardware)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from qnodeos.hal.registry import DriverRegistry
    from qnodeos.node_config import NodeConfig

    if args.shots is not None and args.shots < 1:
        raise CommandError("--shots must be at least 1")
    try:
        cfg = NodeConfig.load(args.config) if args.config else NodeConfig()
    except QNodeOSError as exc:
        raise CommandError(str(exc)) from None
    cfg = cfg.with_overrides(driver=args.driver, seed=args.seed)
    registry = DriverRegistry.load()

    def make() -> Any:
        return registry.build(cfg.driver, cfg.driver_config, node=cfg.name, seed=cfg.seed)

    make().close()  # a bad name, option or address is a one-line error, not 14 failed checks
    try:
        from qnodeos.hal.conformance.runner import run_conformance
        report = run_conformance(make, label=cfg.driver, shots=args.shots)
    except ImportError as exc:
        raise CommandError(f"the conformance kit needs pytest ({exc}); pip install 'qnodeos[conformance]'") from None
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        _print(report)
    return 0 if report.ok else 1


def _print(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    verdict = "conforms" if report.ok else "does NOT conform"
    table = Table(title=f"{report.label} {verdict} — {report.passed} passed, {report.failed} failed, "
                        f"{report.skipped} skipped in {report.seconds:.1f} s", title_justify="left")
    for col in ("check", "outcome", "s", "detail"):
        table.add_column(col, overflow="fold")
    style = {"passed": "green", "failed": "bold red", "skipped": "yellow"}
    for c in report.checks:
        table.add_row(c.name.removeprefix("test_"), f"[{style[c.outcome]}]{c.outcome}[/]", f"{c.seconds:.2f}", c.detail)
    Console(width=160, soft_wrap=True).print(table)

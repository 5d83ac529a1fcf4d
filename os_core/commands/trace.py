"""``qnodeos trace plot TRACE.json -o timeline.png``: draw a run's timeline with matplotlib."""
from __future__ import annotations

import argparse
from pathlib import Path

from . import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("trace", help="work with timeline traces written by `qnodeos run --trace`")
    sub = p.add_subparsers(dest="trace_command", metavar="ACTION", required=True)
    plot = sub.add_parser("plot", help="draw a timeline PNG")
    plot.add_argument("trace", type=Path, help="trace JSON file")
    plot.add_argument("-o", "--output", type=Path, help="PNG to write (default: TRACE with .png)")
    plot.set_defaults(handler=run_plot)


def run_plot(args: argparse.Namespace) -> int:
    from qnodeos.trace import load_trace, plot_trace

    try:
        data = load_trace(args.trace)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read trace {args.trace}: {exc}") from None
    out = plot_trace(data, args.output or args.trace.with_suffix(".png"))
    print(f"wrote {out}")
    return 0

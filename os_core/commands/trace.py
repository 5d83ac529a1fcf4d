"""``qnodeos trace plot TRACE.json -o timeline.png``: draw a run's timeline (needs the ``plot`` extra);
``qnodeos trace export TRACE.json... -o run.perfetto.json``: the same timelines in the Chrome/Perfetto
trace-event format, to zoom through in https://ui.perfetto.dev — several traces (one per node) go into
one file, each node with its own group of process lanes."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from qnodeos.errors import QNodeOSError

from . import CommandError
from .output import check_writable


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("trace", help="work with timeline traces written by `qnodeos run --trace`")
    sub = p.add_subparsers(dest="trace_command", metavar="ACTION", required=True)
    plot = sub.add_parser("plot", help="draw a timeline PNG (needs matplotlib: pip install 'qnodeos[plot]')")
    plot.add_argument("trace", type=Path, help="trace JSON file")
    plot.add_argument("-o", "--output", type=Path, help="PNG to write (default: TRACE with .png)")
    plot.set_defaults(handler=run_plot)
    export = sub.add_parser("export", help="write traces in the Chrome/Perfetto trace-event format",
                            description="Convert one trace per node into one trace-event JSON file: nodes are "
                                        "process groups, OS processes lanes, subroutines and instructions "
                                        "nested slices. Open it in https://ui.perfetto.dev.")
    export.add_argument("traces", type=Path, nargs="+", metavar="TRACE",
                        help="trace JSON files: a network run's (all its nodes), or one per node (named by "
                             "their meta 'node', else the file name)")
    export.add_argument("-o", "--output", type=Path,
                        help="file to write (default: the first TRACE with .perfetto.json)")
    export.set_defaults(handler=run_export)


def _load(path: Path) -> dict[str, Any]:
    from qnodeos.trace import load_trace

    try:
        return load_trace(path)
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CommandError(f"cannot read trace {path}: {exc}") from None


def run_plot(args: argparse.Namespace) -> int:
    from qnodeos.trace_plot import plot_trace

    data = _load(args.trace)
    out = args.output or args.trace.with_suffix(".png")
    check_writable(out, "--output")
    try:
        plot_trace(data, out)
    except QNodeOSError as exc:
        raise CommandError(str(exc)) from None
    print(f"wrote {out}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from qnodeos.trace_events import write_trace_events

    from qnodeos.trace import node_traces

    traces: dict[str, dict[str, Any]] = {}
    for path in args.traces:
        data = _load(path)
        single = "nodes" not in data
        for name, trace in node_traces(data).items():
            base = name if not single or data.get("meta", {}).get("node") else path.stem
            node, n = base, 2
            while node in traces:  # two traces of nodes with the same name stay apart
                node, n = f"{base} ({n})", n + 1
            traces[node] = trace
    out = args.output or args.traces[0].with_suffix(".perfetto.json")
    check_writable(out, "--output")
    write_trace_events(traces, out)
    print(f"wrote {out} (open it in https://ui.perfetto.dev)")
    return 0

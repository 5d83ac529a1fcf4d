"""``qnodeos run PROGRAM...``: run NetQASM subroutines (text or binary) on one node and print results;
``qnodeos run APP_DIR``: run a NetQASM SDK application directory (``app_<role>.py`` files) unchanged on
a mock NV or trapped-ion network, one node per role.

Several PROGRAM files run as one process, subroutine after subroutine; ``--processes N`` starts N
copies at once (multitasking on one device). ``--trace FILE`` writes the per-instruction timeline.

Every option belongs to program runs, to application runs, or to both; an option given to the kind of
run it does not apply to is refused with a message naming it, before anything runs. The defaults of
application runs are those of :mod:`qnodeos.apps.defaults`, shared with
:func:`qnodeos.apps.runner.run_app_dir`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from qnodeos.apps import defaults
from qnodeos.trace_rows import DEFAULT_MAX_ROWS

from . import CommandError
from .output import finite_non_negative, positive_int, positive_seconds

#: Options of program runs only, and of application-directory runs only (dest -> option string).
PROGRAM_ONLY = {"driver": "--driver", "config": "--config", "flavour": "--flavour", "processes": "--processes",
                "host_delay_us": "--host-delay-us", "trace_rows": "--trace-rows",
                "max_instructions": "--max-instructions"}
APP_ONLY = {"platform": "--platform", "mode": "--mode", "input": "--input", "timeout": "--timeout",
            "request_timeout": "--request-timeout", "recv_timeout": "--recv-timeout", "app_output": "--app-output",
            "log_dir": "--log-dir", "no_logs": "--no-logs", "network": "--network", "num": "--num"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run", help="run NetQASM subroutine files on a node, or an SDK application directory",
        description="Run NetQASM subroutines (text .nqasm or binary .bin) on one node, or a NetQASM SDK "
                    "application directory on a mock network. Options of one kind of run are refused "
                    "for the other.")
    p.add_argument("programs", nargs="+", type=Path, metavar="PATH",
                   help="subroutine files, run in order as one process; or one application directory")
    both = p.add_argument_group("both kinds of run")
    both.add_argument("--seed", type=int, help="seed of the mock devices (reproducible runs)")
    both.add_argument("--preset", metavar="NAME",
                      help=f"mock device noise: {' or '.join(defaults.PRESETS)}, or a preset named after the "
                           "experiment it reproduces (e.g. humphreys-2018, qnodeos-ion-2025; docs/realism.md lists "
                           f"them; an unknown name is refused with the list) (default: {defaults.PRESET}; "
                           "overrides the --config file's [driver] preset)")
    both.add_argument("--trace", type=Path,
                      help="write the timeline JSON here (checked before the run): one node's for program files, "
                           "every node's for an application directory (`qnodeos trace plot|export` read both)")
    both.add_argument("--json", action="store_true",
                      help="print exactly one JSON document on stdout (application output goes to stderr "
                           "or --app-output)")

    prog = p.add_argument_group("program files")
    prog.add_argument("--driver", help="QDevice driver name (see `qnodeos drivers`); default mock-nv, or the "
                                       "--config file's [node] driver")
    prog.add_argument("--config", type=Path, help="node TOML file: [node] table (name, driver, seed …) and [driver] "
                                                  "table of driver options (e.g. resource = \"TCPIP::…\"); "
                                                  "--driver, --seed and --preset override it")
    prog.add_argument("--flavour", choices=["vanilla", "nv", "trapped_ion"], help="NetQASM flavour of the files")
    prog.add_argument("--processes", type=positive_int, help="start this many copies at once (default 1)")
    prog.add_argument("--host-delay-us", type=finite_non_negative,
                      help="host time between subroutines, µs (default 0)")
    prog.add_argument("--max-instructions", type=positive_int,
                      help="instruction budget per process: a process that runs more fails (default 50 million)")
    prog.add_argument("--trace-rows", type=positive_int,
                      help=f"keep the latest N instructions in the trace (default {DEFAULT_MAX_ROWS})")

    app = p.add_argument_group("application directories")
    app.add_argument("--platform", choices=defaults.PLATFORMS, help=f"mock hardware (default {defaults.PLATFORM})")
    app.add_argument("--network", type=Path, metavar="FILE",
                     help="the network to run on: a qnodeos network TOML (nodes' drivers, links' physics, timing) "
                          "or a netqasm network.yaml (default: APP_DIR/network.yaml if there is one, else every "
                          "node on --platform)")
    app.add_argument("--mode", choices=defaults.MODES,
                     help=f"one OS process per node, or all nodes in this one (default {defaults.MODE})")
    app.add_argument("--num", type=positive_int, metavar="N",
                     help="run the application N times on the same (warm) network, with a progress bar, and "
                          "report each run and the statistics over them (mean ± standard error, histograms); "
                          "the series' results.json goes to the log directory")
    app.add_argument("--input", action="append", metavar="ROLE.NAME=VALUE",
                     help="application input (a Python literal), e.g. --input sender.theta=1.57; the role "
                          "and the name must exist")
    app.add_argument("--timeout", type=positive_seconds, metavar="SECONDS",
                     help=f"deadline of the whole run, of each run with --num (default {defaults.TIMEOUT_S:g})")
    app.add_argument("--request-timeout", type=positive_seconds, metavar="SECONDS",
                     help="simulated seconds an entanglement request may wait to be accepted by its peer "
                          "(default: no limit; a request nothing will answer ends when the network is idle)")
    app.add_argument("--recv-timeout", type=positive_seconds, metavar="SECONDS",
                     help=f"wall-clock seconds a classical receive waits for a peer whose process may have died "
                          f"(default {defaults.RECV_TIMEOUT_S:g})")
    app.add_argument("--log-dir", type=Path, metavar="DIR",
                     help="write the run's logs to DIR/<YYYYmmdd-HHMMSS>/ with a DIR/LAST link, as netqasm does "
                          "(results.yaml, errors.yaml, stats.yaml, <role>.log, <node>_instrs.yaml, timeline.json; "
                          "default: APP_DIR/log)")
    app.add_argument("--no-logs", action="store_const", const=True, default=None, help="write no log directory")
    app.add_argument("--app-output", type=Path, metavar="FILE",
                     help="append what the applications print to FILE (default: stdout, or stderr with --json)")
    p.set_defaults(handler=run)


def given(args: argparse.Namespace, options: dict[str, str]) -> list[str]:
    """The options of ``options`` set on the command line (their defaults are all None)."""
    return [flag for dest, flag in options.items() if getattr(args, dest, None) is not None]


def run(args: argparse.Namespace) -> int:
    is_app = any(path.is_dir() for path in args.programs)
    if is_app and len(args.programs) > 1:
        raise CommandError("an application directory runs alone: give one directory, or program files only")
    if is_app:
        wrong, kind = given(args, PROGRAM_ONLY), f"an application directory ({args.programs[0]})"
    else:
        wrong, kind = given(args, APP_ONLY), "program files"
    if wrong:
        raise CommandError(f"{', '.join(wrong)} {'does' if len(wrong) == 1 else 'do'} not apply to {kind}")
    if is_app:
        from .run_app import run_app

        return run_app(args)
    from .run_program import run_programs

    return run_programs(args)

"""``qnodeos run APP_DIR --num N``: the application N times on one warm network
(:func:`qnodeos.apps.repeat.repeat_app_dir`), with a progress bar on a terminal, then the statistics
over the runs as a table, or everything as one JSON document with ``--json``."""
from __future__ import annotations

import argparse
import contextlib
import sys
from typing import IO, Any, Iterator, TextIO

from qnodeos.apps import defaults
from qnodeos.errors import QNodeOSError

from . import CommandError
from .output import dumps

#: Failed runs listed under the statistics table (all of them are in the results file and in --json).
SHOWN_FAILURES = 10


def run_series(args: argparse.Namespace, app: Any, inputs: dict[str, dict[str, Any]], network: Any, platform: str,
               mode: str, stream: TextIO | None, file_for_nodes: str | IO[bytes] | None) -> int:
    from qnodeos.apps.repeat import repeat_app_dir

    show_bar = not args.json and sys.stderr.isatty()
    with _progress(args.num, show_bar, app.path.name) as advance:
        try:
            with contextlib.redirect_stdout(stream) if stream is not None else contextlib.nullcontext():
                series = repeat_app_dir(
                    app.path, args.num, platform, seed=args.seed, preset=args.preset or defaults.PRESET,
                    overrides=inputs, mode=mode, app_output=file_for_nodes,
                    timeout_s=args.timeout or defaults.TIMEOUT_S,
                    request_timeout_s=args.request_timeout or defaults.REQUEST_TIMEOUT_S,
                    recv_timeout_s=args.recv_timeout or defaults.RECV_TIMEOUT_S,
                    log_dir=None if args.no_logs else (args.log_dir or app.path / "log"), network=network,
                    on_run=advance)
        except QNodeOSError as exc:
            raise CommandError(str(exc)) from None
    if args.json:
        print(dumps(series.to_dict()))
    else:
        _print_statistics(series, f"{app.path.name} × {args.num} on {network.source} ({mode})")
    if series.results_file is not None:
        print(f"results of every run in {series.results_file}", file=sys.stderr)
    return 0 if series.ok else 1


@contextlib.contextmanager
def _progress(total: int, show: bool, name: str) -> Iterator[Any]:
    """A rich progress bar on stderr (``show``), advanced by calling the yielded function with each run."""
    if not show:
        yield lambda record: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    failed = 0
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[failed]}"),
                  TimeRemainingColumn(), console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(name, total=total, failed="")

        def advance(record: Any) -> None:
            nonlocal failed
            failed += not record.ok
            bar.update(task, advance=1, failed=f"{failed} failed" if failed else "")

        yield advance


def _print_statistics(series: Any, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    stats = series.statistics
    table = Table(title=title, caption=f"{stats['ok_runs']} of {stats['runs']} runs without errors; "
                                       f"{_mean_run_ms(series):.1f} ms per run (wall; the network started once)")
    for col in ("quantity", "n", "mean ± standard error", "outcomes"):
        table.add_column(col)
    for name, entry in stats["quantities"].items():
        mean = entry.get("mean")
        error = entry.get("std_error")
        shown = "" if mean is None else (f"{mean:.6g}" if error is None else f"{mean:.6g} ± {error:.2g}")
        outcomes = ", ".join(f"{label}: {count}" for label, count in entry.get("histogram", {}).items())
        table.add_row(name, str(entry["n"]), shown, outcomes)
    console = Console()
    console.print(table)
    failures = [run for run in series.runs if not run.ok]
    for run in failures[:SHOWN_FAILURES]:
        console.print(f"run {run.index}: " + "; ".join(f"{role}: {error}" for role, error in run.errors.items()),
                      markup=False, highlight=False)
    if len(failures) > SHOWN_FAILURES:
        console.print(f"… and {len(failures) - SHOWN_FAILURES} more failed runs (see the results file)")
    if series.stopped:
        console.print(f"the series stopped early: {series.stopped}", markup=False, highlight=False)


def _mean_run_ms(series: Any) -> float:
    return 1e3 * sum(run.wall_s for run in series.runs) / max(1, len(series.runs))

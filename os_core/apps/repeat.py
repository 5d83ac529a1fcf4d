"""Run an application directory N times on warm nodes: the network starts once, then each run's hosts
register on the running nodes and run unchanged, as a lab repeats an experiment to get its statistics.

Every run's results and errors are kept (a failed run is recorded, never dropped) and written as they
come to ``runs.jsonl`` in the series' log directory; at the end ``results.json`` there holds every run
and the statistics over them (:func:`qnodeos.run_stats.aggregate`: mean ± standard error of numeric
results, histograms of outcomes). A seeded series repeats exactly: run *i* starts where run *i − 1* left
the network, on the network's one simulated timeline.
"""
from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from ..errors import QNodeOSError
from ..network.spec import NetworkSpec
from ..network.timing import NetworkTiming
from ..run_stats import aggregate
from . import defaults
from .run_logs import new_run_dir, point_last

#: Most runs of one series (its records are kept in memory and in the results file).
MAX_RUNS = 100_000
RUNS_FILE, RESULTS_FILE = "runs.jsonl", "results.json"


@dataclass
class RunRecord:
    """One run of a series: its ``index`` (from 0), ``results`` (role -> return value), ``errors``
    (role -> error; ``"*"``: the run as a whole) and ``wall_s`` (its wall-clock seconds)."""

    index: int
    results: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether no role raised and the run as a whole did not fail."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """The run as plain data (the lines of ``runs.jsonl``; what :func:`qnodeos.run_stats.aggregate` reads)."""
        return {"index": self.index, "ok": self.ok, "results": self.results, "errors": self.errors,
                "wall_s": self.wall_s}


@dataclass
class RepeatedRun:
    """The ``runs`` of a series (:class:`RunRecord`), the ``statistics`` over them
    (:func:`qnodeos.run_stats.aggregate`), each node's ``stats`` after the last run, the series'
    ``wall_s`` (network start-up included), why it ``stopped`` early (None: every run was made), and
    where it was written: ``log_dir`` and ``results_file`` (None when no log directory was asked for)."""

    runs: list[RunRecord]
    statistics: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)  # node -> the node's statistics after the last run
    wall_s: float = 0.0  # the whole series, network start-up included
    stopped: str | None = None  # why the series ended before its last run (None: every run was made)
    log_dir: Path | None = None
    results_file: Path | None = None

    @property
    def ok(self) -> bool:
        """Whether every run was made and none failed."""
        return self.stopped is None and all(run.ok for run in self.runs)

    def to_dict(self) -> dict[str, Any]:
        """The series as plain data (``--json`` prints it; ``results.json`` holds it)."""
        return {"runs": [run.to_dict() for run in self.runs], "statistics": self.statistics, "stats": self.stats,
                "wall_s": self.wall_s, "stopped": self.stopped,
                "results_file": None if self.results_file is None else str(self.results_file)}


class _Recorder:
    """Collects the runs; appends each to ``runs.jsonl`` as it ends and tells ``on_run``."""

    def __init__(self, run_dir: Path | None, on_run: Callable[[RunRecord], None] | None) -> None:
        self.runs: list[RunRecord] = []
        self.on_run = on_run
        self._file = None if run_dir is None else (run_dir / RUNS_FILE).open("a", encoding="utf-8", buffering=1)

    def __call__(self, record: RunRecord) -> None:
        record.results = dict(sorted(record.results.items()))  # by role, however the nodes answered
        record.errors = dict(sorted(record.errors.items()))
        self.runs.append(record)
        if self._file is not None:
            self._file.write(_json(record.to_dict()) + "\n")
        if self.on_run is not None:
            self.on_run(record)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def repeat_app_dir(path: str | Path, num: int, platform: str = defaults.PLATFORM, *, seed: int | None = None,
                   preset: str = defaults.PRESET, overrides: dict[str, dict[str, Any]] | None = None,
                   timeout_s: float = defaults.TIMEOUT_S, request_timeout_s: float | None = defaults.REQUEST_TIMEOUT_S,
                   recv_timeout_s: float = defaults.RECV_TIMEOUT_S, mode: str = defaults.MODE,
                   app_output: str | IO[Any] | None = None, device_config: dict[str, Any] | None = None,
                   timing: NetworkTiming | None = None, log_dir: str | Path | None = None,
                   network: NetworkSpec | str | Path | None = None,
                   on_run: Callable[[RunRecord], None] | None = None) -> RepeatedRun:
    """Run every role of the application directory ``path`` ``num`` times on one network started once.

    The network and the runs take :func:`qnodeos.apps.runner.run_app_dir`'s options, with its
    defaults: ``platform``, ``seed``, ``preset``, ``overrides`` (inputs per role), ``mode``
    (``"threads"`` or ``"processes"``), ``app_output``, ``device_config``, ``timing``, ``network``,
    ``request_timeout_s`` and ``recv_timeout_s``; ``timeout_s`` bounds each run. ``on_run(record)`` is
    called as each run ends (a progress bar). ``log_dir``: the series' logs go to
    ``<log_dir>/<YYYYmmdd-HHMMSS>/`` (``runs.jsonl``, ``results.json``, ``stats.yaml``, each role's
    ``<role>.log`` over all runs); ``None`` writes nothing. Raises :class:`qnodeos.QNodeOSError` for a
    ``num`` outside 1..:data:`MAX_RUNS` or an unknown ``mode``.
    """
    from .app_network import app_network
    from .runner import SCRATCH_PREFIX, load_app_dir

    if isinstance(num, bool) or not isinstance(num, int) or not 1 <= num <= MAX_RUNS:
        raise QNodeOSError(f"the number of runs must be an integer from 1 to {MAX_RUNS}, not {num!r}")
    if mode not in defaults.MODES:
        raise QNodeOSError(f"unknown mode {mode!r} (threads or processes)")
    app = load_app_dir(path)
    spec = app_network(app, network, platform=platform, preset=preset, device_config=device_config)
    run_dir = new_run_dir(log_dir) if log_dir is not None else None
    recorder = _Recorder(run_dir, on_run)
    started = time.monotonic()
    scratch = None
    try:
        if mode == "processes":
            from .processes import run_app_dir_processes

            # without a log directory, the runs' logs go to one scratch directory of this process (the
            # world process removes it should this one be killed; a node process could not)
            scratch = tempfile.mkdtemp(prefix=SCRATCH_PREFIX) if run_dir is None else None
            last = run_app_dir_processes(path, platform, seed=seed, preset=preset, overrides=overrides,
                                         timeout_s=timeout_s, request_timeout_s=request_timeout_s,
                                         recv_timeout_s=recv_timeout_s, app_output=app_output, timing=timing,
                                         run_dir=run_dir, scratch_dir=scratch, network=spec, runs=num,
                                         on_run=recorder)
            stats, stopped = last.stats, last.errors.get("*")
        else:
            stats, stopped = _threads_series(app, spec, platform, seed, preset, overrides, timeout_s,
                                             request_timeout_s, recv_timeout_s, timing, run_dir, num, recorder)
    finally:
        recorder.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    series = RepeatedRun(recorder.runs, aggregate(r.to_dict() for r in recorder.runs), stats,
                         time.monotonic() - started, stopped, run_dir)
    if run_dir is not None:
        _write_series(run_dir, series, app.path, num, seed, mode)
    return series


def _threads_series(app: Any, spec: NetworkSpec, platform: str, seed: int | None, preset: str,
                    overrides: dict[str, dict[str, Any]] | None, timeout_s: float, request_timeout_s: float | None,
                    recv_timeout_s: float, timing: NetworkTiming | None, run_dir: Path | None, num: int,
                    record: Callable[[RunRecord], None]) -> tuple[dict[str, Any], str | None]:
    """Every node in this process; returns the nodes' statistics and why the series stopped early."""
    from .local_network import LocalNetwork
    from .runner import _RUN_LOCK, bind_netqasm, import_mains, run_roles
    from .simulation import report_simulator
    from .sockets import socket_classes

    stopped = None
    mains: dict[str, Callable[..., Any]] = {}
    with _RUN_LOCK, series_logs(run_dir) as logs:
        network = LocalNetwork(platform, app.nodes, seed=seed, preset=preset, request_timeout_s=request_timeout_s,
                               node_of_role=app.node_of_role, timing=timing, spec=spec)
        try:
            for index in range(num):
                begun = time.monotonic()
                try:
                    if index and not network.world.timeline.wait_quiet(timeout_s):
                        raise QNodeOSError(f"the network did not come to rest within {timeout_s:g} s after run "
                                           f"{index - 1}")
                    bind_netqasm(network.directory, *socket_classes(network.directory, recv_timeout_s),
                                 simulated=network.shows_states)
                    if not mains:  # imported once, called once per run (as `netqasm simulate --num`)
                        mains = import_mains(app)
                    mark_role_logs(run_dir, app.roles, index)
                    # every host registered before any starts: the network's time cannot move on meanwhile
                    network.register_hosts(app.roles)
                    network.start()
                    run = run_roles(app, mains, overrides=overrides, timeout_s=timeout_s, log_dir=logs,
                                    on_end=lambda role: network.directory.service_of_app(role).host_done(role))
                    results, errors = run.results, dict(run.errors)
                except Exception as exc:  # the run could not start (a node refused its hosts, ...)
                    results, errors = {}, {"*": f"{type(exc).__name__}: {exc}"}
                record(RunRecord(index, results, errors, time.monotonic() - begun))
                stuck = still_running(app.roles)
                if stuck:  # a host still running would be taken for the next run's host of that name
                    stopped = (f"run {index}: role(s) {', '.join(stuck)} did not finish within the run time-out "
                               f"of {timeout_s:g} s; {num - index - 1} run(s) not made")
                    break
            stats = {name: service.stats() for name, service in network.services.items()}
        finally:
            network.stop()
            report_simulator(False)
    return stats, stopped


@contextlib.contextmanager
def series_logs(run_dir: str | Path | None) -> Iterator[str | Path]:
    """Where the runs write netqasm's logs and the roles' output: the series' log directory, or one
    temporary directory for the whole series (not one per run)."""
    if run_dir is not None:
        yield run_dir
        return
    with tempfile.TemporaryDirectory(prefix="qnodeos-series-", ignore_cleanup_errors=True) as scratch:
        yield scratch


def still_running(roles: list[str]) -> list[str]:
    """Roles whose thread (``app-<role>``, see :func:`qnodeos.apps.runner.run_roles`) is still alive."""
    alive = {t.name[4:] for t in threading.enumerate() if t.name.startswith("app-")}
    return sorted(set(roles) & alive)


def mark_role_logs(run_dir: str | Path | None, roles: list[str], index: int) -> None:
    """A header line in each role's log before run ``index`` (the logs of a series span all its runs)."""
    if run_dir is None:
        return
    from .run_logs import role_log

    for role in roles:
        with role_log(Path(run_dir), role).open("a", encoding="utf-8") as f:
            f.write(f"=== run {index} ===\n")


def _write_series(run_dir: Path, series: RepeatedRun, app_path: Path, num: int, seed: int | None,
                  mode: str) -> None:
    from .run_logs import _dump, _plain

    document = {"application": str(app_path), "num": num, "seed": seed, "mode": mode, **series.to_dict()}
    document.pop("results_file")
    (run_dir / RESULTS_FILE).write_text(_json(document, indent=1) + "\n", encoding="utf-8")
    _dump(run_dir / "stats.yaml", _plain(series.stats))
    point_last(run_dir)
    series.log_dir, series.results_file = run_dir, run_dir / RESULTS_FILE


def _json(value: Any, indent: int | None = None) -> str:
    from ..commands.output import jsonable

    return json.dumps(jsonable(value), indent=indent, allow_nan=False)


__all__ = ["MAX_RUNS", "RepeatedRun", "RunRecord", "repeat_app_dir"]

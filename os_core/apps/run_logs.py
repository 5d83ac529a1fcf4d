"""Where an application run leaves its logs, the way netqasm does: ``<log dir>/<YYYYmmdd-HHMMSS>/``.

A run's directory holds ``results.yaml`` (each role's return value under ``app_<role>``, as
``netqasm simulate`` writes it), ``errors.yaml`` (roles that raised, if any), ``stats.yaml`` (each node's
device-time statistics), ``<role>.log`` (what each role printed, and its traceback if it raised),
netqasm's own subroutine logs (``subroutines_<role>.pkl``, written by the SDK), one instruction log per
node (``<node>_instrs.yaml``: every NetQASM instruction with its simulated start and end) and
``timeline.json`` (every node's timeline, for ``qnodeos trace plot|export``). ``LAST`` next to the run
directories points at the latest one.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Mapping, TextIO

import yaml

from ..errors import QNodeOSError

TIMESTAMP = "%Y%m%d-%H%M%S"
LAST = "LAST"


def new_run_dir(base: str | Path) -> Path:
    """A fresh ``<base>/<timestamp>`` directory (``-2``, ``-3`` … when a run started in the same second)."""
    base = Path(base)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise QNodeOSError(f"cannot create the log directory {base}: {exc.strerror or exc} "
                           "(choose another with --log-dir / log_dir=)") from None
    if not os.access(base, os.W_OK):
        raise QNodeOSError(f"the log directory {base} is not writable (choose another with --log-dir / log_dir=)")
    stamp = datetime.now().strftime(TIMESTAMP)
    for n in range(1, 1000):
        path = base / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise QNodeOSError(f"{base}: too many runs started in the same second")


def role_log(run_dir: Path, role: str) -> Path:
    return run_dir / f"{role}.log"


def write_run(run_dir: Path, run: Any) -> None:
    """Results, errors, stats, instruction logs and the timeline of a finished run; then ``LAST``."""
    from ..trace import network_trace

    _dump(run_dir / "results.yaml", {f"app_{role}": _plain(value) for role, value in sorted(run.results.items())})
    if run.errors:
        _dump(run_dir / "errors.yaml", {f"app_{role}": str(e) for role, e in sorted(run.errors.items())})
    _dump(run_dir / "stats.yaml", _plain(run.stats))
    for node, trace in run.traces.items():
        _dump(run_dir / f"{node}_instrs.yaml", [
            {"SIT": e["start_ns"], "END": e["end_ns"], "AID": e["pid"], "APP": e["process"], "SID": e["subroutine"],
             "PRC": e["line"], "INS": e["instruction"], "PHY": e["physical"]} for e in trace["entries"]])
    if run.traces:
        (run_dir / "timeline.json").write_text(json.dumps(network_trace(run.traces), indent=1))
    point_last(run_dir)


def point_last(run_dir: Path) -> None:
    """Make ``LAST`` (beside the run directories) point at ``run_dir`` (a copy where links cannot be made)."""
    last = run_dir.parent / LAST
    if last.is_symlink() or last.is_file():
        last.unlink()
    elif last.is_dir():
        shutil.rmtree(last)
    try:
        last.symlink_to(run_dir.name, target_is_directory=True)
    except OSError:
        shutil.copytree(run_dir, last)


def _dump(path: Path, data: Any) -> None:
    with path.open("w", encoding="utf-8") as f:
        yaml.dump(data, f, sort_keys=False)


def _plain(value: Any) -> Any:
    """Numpy values and containers as plain Python (complex numbers stay complex)."""
    if isinstance(value, Mapping):
        return {str(k) if not isinstance(k, (str, int)) else k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # numpy arrays and scalars
        return _plain(tolist())
    if isinstance(value, (str, int, float, complex, bool)) or value is None:
        return value
    return repr(value)


class RoleOutput(io.TextIOBase):
    """A ``sys.stdout`` that copies what each role's thread prints into that role's log (threads named
    ``app-<role>`` by the runner); everything also goes on to ``fallback`` (where it went before)."""

    def __init__(self, files: Mapping[str, TextIO], fallback: TextIO) -> None:
        super().__init__()
        self._files = dict(files)
        self._fallback = fallback
        self._lock = threading.Lock()

    def _role_file(self) -> TextIO | None:
        name = threading.current_thread().name
        return self._files.get(name[4:]) if name.startswith("app-") else None

    def write(self, text: str) -> int:
        log = self._role_file()
        with self._lock:
            if log is not None:
                log.write(text)
            self._fallback.write(text)
        return len(text)

    def flush(self) -> None:
        for f in (*self._files.values(), self._fallback):
            with contextlib.suppress(ValueError, OSError):
                f.flush()

    def writable(self) -> bool:
        return True


@contextlib.contextmanager
def routed_output(run_dir: Path | None, roles: list[str]) -> Iterator[dict[str, TextIO]]:
    """While the block runs, each role's prints are also copied to ``<role>.log`` in ``run_dir`` (nothing
    happens when ``run_dir`` is None). Yields role -> open log file (to append tracebacks)."""
    if run_dir is None:
        yield {}
        return
    files: dict[str, TextIO] = {role: role_log(run_dir, role).open("a", encoding="utf-8", buffering=1)
                                for role in roles}
    old = sys.stdout
    sys.stdout = RoleOutput(files, old)
    try:
        yield files
    finally:
        sys.stdout = old
        for f in files.values():
            f.close()

"""Queueing and running jobs: each job in its own worker process (:mod:`qnodeos.jobs.worker`), its
reports stored as they come, its wall time enforced by killing the worker's process group.

Jobs start oldest first, at most ``max_concurrent_jobs`` at once, and never two jobs that share a role
name: a served node knows an application host by its role's name, so two runs of ``sender`` at the
same time would be taken for one. A job found ``running`` when the service starts was cut off by the
service's end: it is marked failed, with that reason, never left running or dropped.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Result, select, update

from .archive import UploadError, app_root, unpack_app
from .db import Database, Job, JobStatus, RunRecord, utcnow
from .settings import ServiceSettings
from .submission import check_app
from .worker import MAX_EVENT_BYTES

#: Environment variables a worker inherits (nothing else: the service's secrets stay with it).
WORKER_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "PYTHONPATH", "TMPDIR", "TZ")
RESTART_REASON = "the job service stopped while this job was running (found at the service's restart)"
STOP_REASON = "the job service was stopped while this job was running"


@dataclass
class _Worker:
    job_id: str
    roles: set[str]
    proc: subprocess.Popen
    wall_time_s: float
    cpu_time_s: float
    memory_bytes: int
    reason: str | None = None  # why the service ended it (wall time, cancel, stop)
    cancelled: bool = False
    reported_failure: str | None = None
    done: bool = False
    watcher: threading.Thread | None = None
    timer: threading.Timer | None = None
    runs: int = 0


class JobManager:
    def __init__(self, db: Database, settings: ServiceSettings) -> None:
        self.db = db
        self.settings = settings
        self.jobs_dir = Path(settings.data_dir) / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._running: dict[str, _Worker] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self.version = 0  # bumped at every change of any job (dashboards follow it)
        self._thread = threading.Thread(target=self._dispatch_loop, name="job-dispatch", daemon=True)

    # ---- life cycle ------------------------------------------------------------------------------
    def start(self) -> "JobManager":
        self.recover()
        self._thread.start()
        self._wake.set()
        return self

    def recover(self) -> int:
        """Jobs left ``running`` by a service that died: failed, with the reason. Returns how many."""
        with self.db() as session, session.begin():
            result = session.execute(update(Job).where(Job.status == JobStatus.RUNNING.value).values(
                status=JobStatus.FAILED.value, error=RESTART_REASON, finished_at=utcnow(), worker_pid=None))
            count = _rowcount(result)
        if count:
            self._bump()
        return count

    def stop(self) -> None:
        """Stop starting jobs; end running ones (marked failed: the service stopped)."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            workers = list(self._running.values())
        for worker in workers:
            self._kill(worker, STOP_REASON)
        for worker in workers:
            if worker.watcher is not None:
                worker.watcher.join(timeout=10)
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def job_dir(self, job_id: str) -> Path:
        if not job_id.isalnum():
            raise ValueError(f"bad job id {job_id!r}")
        return self.jobs_dir / job_id

    def running_jobs(self) -> int:
        with self._lock:
            return len(self._running)

    # ---- changes ---------------------------------------------------------------------------------
    def _bump(self) -> None:
        with self._changed:
            self.version += 1
            self._changed.notify_all()

    def wait_for_change(self, seen: int, timeout_s: float) -> int:
        with self._changed:
            self._changed.wait_for(lambda: self.version != seen, timeout_s)
            return self.version

    # ---- submissions -----------------------------------------------------------------------------
    def submit(self, owner_id: int, archive: bytes, filename: str, inputs: dict[str, dict[str, Any]], runs: int,
               run_timeout_s: float, wall_time_s: float, cpu_time_s: float, memory_mb: int) -> Job:
        """Unpack and check the application, then queue it; :class:`UploadError` if it is refused."""
        job = Job(id=uuid.uuid4().hex, owner_id=owner_id, app_name="", roles=[], inputs=inputs, runs=runs, run_timeout_s=run_timeout_s,
                  wall_time_s=wall_time_s, cpu_time_s=cpu_time_s,
                  memory_bytes=int(memory_mb) << 20, archive=archive, status=JobStatus.QUEUED.value, created_at=utcnow())
        directory = self.job_dir(job.id)
        directory.mkdir(mode=0o700)
        try:
            root = unpack_app(archive, directory / "app", self.settings.archive)
            app = check_app(root, self.settings.network, inputs)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        job.app_name = _app_name(root, directory / "app", filename)
        job.roles = list(app.roles)
        with self.db() as session, session.begin():
            session.add(job)
        self._bump()
        self._wake.set()
        return job

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job; False if it had already ended."""
        with self.db() as session, session.begin():
            result = session.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.QUEUED.value)
                                     .values(status=JobStatus.CANCELLED.value, error="cancelled by its owner",
                                             finished_at=utcnow()))
        if _rowcount(result):
            self._bump()
            return True
        with self._lock:
            worker = self._running.get(job_id)
        if worker is None:
            return False
        worker.cancelled = True
        self._kill(worker, "cancelled by its owner")
        return True

    # ---- dispatching ------------------------------------------------------------------------------
    def _dispatch_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._dispatch()
            except Exception as exc:  # a database hiccup: try again at the next wake-up
                print(f"qnodeos jobs: dispatching failed: {type(exc).__name__}: {exc}", file=sys.stderr)

    def _dispatch(self) -> None:
        with self._lock:
            free = self.settings.max_concurrent_jobs - len(self._running)
            busy = set().union(*(w.roles for w in self._running.values()))
        if free <= 0:
            return
        with self.db() as session:
            queued = list(session.scalars(select(Job).where(Job.status == JobStatus.QUEUED.value)
                                          .order_by(Job.created_at).limit(500)))
        for job in queued:
            if free <= 0 or self._stop.is_set():
                return
            roles = set(job.roles)
            if roles & busy:
                continue
            if self._start(job):
                busy |= roles
                free -= 1

    def _start(self, job: Job) -> bool:
        directory = self.job_dir(job.id)
        try:
            root = self._app_dir(job, directory)
        except (UploadError, OSError) as exc:
            self._finish_job(job.id, JobStatus.FAILED, f"its application could not be unpacked again: {exc}")
            return False
        spec = {"network": self.settings.network.to_dict(), "app_dir": str(root), "job_dir": str(directory),
                "runs": job.runs, "inputs": job.inputs, "run_timeout_s": job.run_timeout_s,
                "cpu_time_s": job.cpu_time_s, "memory_bytes": job.memory_bytes, "parent_pid": os.getpid()}
        env = {k: os.environ[k] for k in WORKER_ENV if k in os.environ}
        env.update({"HOME": str(directory), "PYTHONUNBUFFERED": "1", "OPENBLAS_NUM_THREADS": "1",
                    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
        with self.db() as session, session.begin():
            claimed = session.execute(update(Job).where(Job.id == job.id, Job.status == JobStatus.QUEUED.value)
                                      .values(status=JobStatus.RUNNING.value, started_at=utcnow()))
            if not _rowcount(claimed):  # cancelled meanwhile
                return False
        with open(directory / "worker.log", "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "qnodeos.jobs.worker"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=log, cwd=directory, env=env,
                                    start_new_session=True)
        worker = _Worker(job.id, set(job.roles), proc, job.wall_time_s, job.cpu_time_s, job.memory_bytes)
        with self.db() as session, session.begin():
            session.execute(update(Job).where(Job.id == job.id).values(worker_pid=proc.pid))
        with self._lock:
            self._running[job.id] = worker
        try:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(spec).encode())
            proc.stdin.close()
        except OSError:
            pass  # the worker died at once: its watcher reports it
        worker.timer = threading.Timer(job.wall_time_s, self._kill, (worker, _wall_reason(job.wall_time_s)))
        worker.timer.daemon = True
        worker.timer.start()
        worker.watcher = threading.Thread(target=self._watch, args=(worker,), name=f"job-{job.id[:8]}", daemon=True)
        worker.watcher.start()
        self._bump()
        return True

    def _app_dir(self, job: Job, directory: Path) -> Path:
        app = directory / "app"
        if app.is_dir():
            return app_root(app)
        directory.mkdir(mode=0o700, exist_ok=True)  # the data directory was cleared: unpack from the database
        return unpack_app(job.archive, app, self.settings.archive)

    def _kill(self, worker: _Worker, reason: str) -> None:
        if worker.proc.poll() is not None:
            return
        worker.reason = worker.reason or reason
        try:
            os.killpg(worker.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # ---- one worker ------------------------------------------------------------------------------
    def _watch(self, worker: _Worker) -> None:
        assert worker.proc.stdout is not None
        stream = worker.proc.stdout
        try:
            while True:
                line = stream.readline(MAX_EVENT_BYTES + 64)
                if not line:
                    break
                if not line.endswith(b"\n"):
                    self._kill(worker, "its worker sent a report larger than the limit")
                    break
                try:
                    self._on_event(worker, json.loads(line))
                except (ValueError, KeyError, TypeError) as exc:
                    self._kill(worker, f"its worker sent a malformed report ({exc})")
                    break
        finally:
            stream.close()
            try:
                code = worker.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._kill(worker, "its worker did not exit after closing its report channel")
                code = worker.proc.wait()
            if worker.timer is not None:
                worker.timer.cancel()
            self._finish_worker(worker, code)

    def _on_event(self, worker: _Worker, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "run":
            record = RunRecord(job_id=worker.job_id, index=int(event["index"]), ok=bool(event["ok"]),
                               results=dict(event["results"] or {}), errors=dict(event["errors"] or {}),
                               nodes=dict(event.get("nodes") or {}), wall_s=float(event["wall_s"]),
                               log_dir=event.get("log_dir"))
            with self.db() as session, session.begin():
                session.add(record)
                session.execute(update(Job).where(Job.id == worker.job_id).values(runs_done=Job.runs_done + 1))
            worker.runs += 1
            self._bump()
        elif kind == "failed":
            worker.reported_failure = str(event["reason"])
        elif kind == "done":
            worker.done = True
        else:
            raise ValueError(f"unknown report {kind!r}")

    def _finish_worker(self, worker: _Worker, code: int) -> None:
        if worker.cancelled:
            status, error = JobStatus.CANCELLED, "cancelled by its owner"
        elif worker.reason:
            status, error = JobStatus.FAILED, worker.reason
        elif worker.done and code == 0:
            status, error = JobStatus.DONE, None
        elif worker.reported_failure:
            status, error = JobStatus.FAILED, worker.reported_failure
        else:
            status, error = JobStatus.FAILED, _exit_reason(code, worker)
        self._finish_job(worker.job_id, status, error)
        with self._lock:
            self._running.pop(worker.job_id, None)
        self._wake.set()

    def _finish_job(self, job_id: str, status: JobStatus, error: str | None) -> None:
        with self.db() as session, session.begin():
            session.execute(update(Job).where(Job.id == job_id).values(status=status.value, error=error,
                                                                       finished_at=utcnow(), worker_pid=None))
        self._bump()


def _wall_reason(wall_time_s: float) -> str:
    return f"exceeded its wall-time limit of {wall_time_s:g} s: its worker was killed"


def _exit_reason(code: int, worker: _Worker) -> str:
    if code == -signal.SIGXCPU:
        return f"exceeded its CPU-time limit of {worker.cpu_time_s:g} s: its worker was killed"
    if code == -signal.SIGXFSZ:
        return "wrote a file larger than the limit: its worker was killed"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        return f"its worker died from signal {name} (see worker.log)"
    return f"its worker exited with code {code} before finishing (see worker.log)"


def _app_name(root: Path, top: Path, filename: str) -> str:
    if root != top:
        return root.name
    stem = Path(filename or "application").name
    for suffix in (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip"):
        if stem.lower().endswith(suffix):
            return stem[: -len(suffix)] or "application"
    return stem or "application"


def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE changed (SQLAlchemy types ``Session.execute`` as a plain Result; an UPDATE's is a
    CursorResult, which counts them)."""
    return cast("CursorResult[Any]", result).rowcount or 0

"""What the API returns for jobs and runs (plain JSON data), and the job files a user may read."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .db import Job, RunRecord
from ..run_stats import aggregate

#: Job files a user may fetch: logs, results, timelines (not the unpacked application, not pickles).
LOG_SUFFIXES = (".log", ".yaml", ".json", ".txt")


def when(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite gives back naive datetimes (stored as UTC)
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat()


def job_summary(job: Job) -> dict[str, Any]:
    return {"id": job.id, "app": job.app_name, "status": job.status, "error": job.error, "runs": job.runs,
            "runs_done": job.runs_done, "roles": job.roles, "inputs": job.inputs,
            "run_timeout_s": job.run_timeout_s, "wall_time_s": job.wall_time_s, "cpu_time_s": job.cpu_time_s,
            "memory_mb": job.memory_bytes >> 20,
            "created_at": when(job.created_at), "started_at": when(job.started_at),
            "finished_at": when(job.finished_at), "url": f"/api/jobs/{job.id}"}


def run_view(run: RunRecord) -> dict[str, Any]:
    return {"index": run.index, "ok": run.ok, "results": run.results, "errors": run.errors, "nodes": run.nodes,
            "wall_s": run.wall_s, "log_dir": run.log_dir, "finished_at": when(run.finished_at)}


def job_statistics(runs: list[RunRecord]) -> dict[str, Any]:
    return aggregate({"ok": r.ok, "results": r.results} for r in runs)


def log_files(job_dir: Path) -> list[dict[str, Any]]:
    """The job's log files (relative paths and sizes), outside its unpacked application."""
    out: list[dict[str, Any]] = []
    if not job_dir.is_dir():
        return out
    for path in sorted(job_dir.rglob("*")):
        rel = path.relative_to(job_dir)
        if rel.parts[0] == "app" or path.is_symlink() or not path.is_file() or path.suffix not in LOG_SUFFIXES:
            continue
        if "LAST" in rel.parts:
            continue
        out.append({"path": rel.as_posix(), "bytes": path.stat().st_size})
    return out


def log_file(job_dir: Path, rel: str) -> Path | None:
    """``rel`` inside the job's directory, if it is one of :func:`log_files` (no links, no escapes)."""
    allowed = {f["path"] for f in log_files(job_dir)}
    return job_dir / rel if rel in allowed else None

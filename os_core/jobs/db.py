"""The job service's database: users (token hashes only), jobs (with their archive) and the runs of
each job, through SQLAlchemy — SQLite by default, any URL SQLAlchemy takes (PostgreSQL:
``postgresql+psycopg://user@host/db``) otherwise.

Everything a user sees lives here, so a restarted service shows the same jobs and results; run logs
and timelines are files under the service's data directory, named by job.
"""
from __future__ import annotations

import enum
import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class JobStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"  # every run finished (a run may still have failed: see its errors)
    FAILED = "failed"  # the job could not complete: see its error
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True)}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: uuid.uuid4().hex)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    app_name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSON)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    runs: Mapped[int] = mapped_column(Integer)
    run_timeout_s: Mapped[float] = mapped_column(Float)
    wall_time_s: Mapped[float] = mapped_column(Float)
    cpu_time_s: Mapped[float] = mapped_column(Float)
    memory_bytes: Mapped[int] = mapped_column(Integer)
    archive: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value, index=True)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    runs_done: Mapped[int] = mapped_column(Integer, default=0)
    worker_pid: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    run_records: Mapped[list["RunRecord"]] = relationship(back_populates="job", order_by="RunRecord.index",
                                                          cascade="all, delete-orphan")


class RunRecord(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(Boolean)
    results: Mapped[dict[str, Any]] = mapped_column(JSON)
    errors: Mapped[dict[str, str]] = mapped_column(JSON)
    nodes: Mapped[dict[str, Any]] = mapped_column(JSON)  # per node: device time, utilisation, network stats after
    wall_s: Mapped[float] = mapped_column(Float)
    log_dir: Mapped[str | None] = mapped_column(String(300), default=None)  # relative to the job's directory
    finished_at: Mapped[datetime] = mapped_column(default=utcnow)

    job: Mapped[Job] = relationship(back_populates="run_records")


class Database:
    """An engine and a session factory; creates the tables it needs."""

    def __init__(self, url: str) -> None:
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        self.session = sessionmaker(self.engine, expire_on_commit=False)

    def dispose(self) -> None:
        self.engine.dispose()

    def __call__(self) -> Session:
        return self.session()


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """Write-ahead logging (readers never wait for the writer) and foreign keys enforced."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()

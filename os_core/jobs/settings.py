"""The job service's settings: where it keeps its data, which network it runs on, and its limits."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .archive import ArchiveLimits
from .network import NetworkConfig
from .submission import JobLimits

#: Environment variable with the database URL (so a PostgreSQL password need not be on a command line).
DB_ENV = "QNODEOS_JOBS_DB"


def default_db_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'jobs.sqlite'}"


@dataclass(frozen=True)
class ServiceSettings:
    network: NetworkConfig
    data_dir: Path
    db_url: str = ""  # empty: SQLite in data_dir
    #: jobs running at once (each one worker process); jobs sharing a role name never run together
    max_concurrent_jobs: int = 4
    archive: ArchiveLimits = field(default_factory=ArchiveLimits)
    job: JobLimits = field(default_factory=JobLimits)
    #: how often the dashboard's node states are read, and how long a node may take to answer
    poll_interval_s: float = 0.5
    node_timeout_s: float = 3.0
    #: dashboards connected at once (each holds an event stream)
    max_event_streams: int = 32
    #: timeline rows per node sent to dashboards
    dashboard_rows: int = 40

    @property
    def database_url(self) -> str:
        return self.db_url or default_db_url(self.data_dir)

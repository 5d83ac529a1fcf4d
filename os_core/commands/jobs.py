"""``qnodeos jobs serve|add-user|users``: the job service in front of a served network.

``serve`` runs the HTTP API and the live dashboard (needs the ``service`` extra); ``add-user`` prints
a new user's bearer token (shown once; the database keeps only its hash). The database is SQLite in
the data directory unless ``--db URL`` or ``QNODEOS_JOBS_DB`` names another (e.g. PostgreSQL).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from . import CommandError
from .output import positive_int

if TYPE_CHECKING:
    from qnodeos.jobs.db import Database

DEFAULT_DATA = Path("qnodeos-jobs")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("jobs", help="the job service: an HTTP API and live dashboard for a served network",
                              description="Run applications submitted over HTTP on a served network, and show "
                                          "the nodes live in the browser.")
    sub = p.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)

    def storage(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                            help=f"the service's data directory: job logs, and the SQLite database unless --db "
                                 f"(default: ./{DEFAULT_DATA})")
        parser.add_argument("--db", help="database URL (SQLAlchemy form, e.g. postgresql+psycopg://user@host/db; "
                                         "default: $QNODEOS_JOBS_DB, else SQLite in --data)")

    serve = sub.add_parser("serve", help="serve the job API and the dashboard",
                           description="Serve the job API and the dashboard for the network of --network.")
    serve.add_argument("--network", type=Path, required=True,
                       help="the served network: TOML with each node's host-link address and key, and the "
                            "hosts' key pair (see qnodeos.jobs.network)")
    storage(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    serve.add_argument("--max-jobs", type=positive_int, default=4, help="jobs running at once (default 4)")
    serve.set_defaults(handler=run_serve)

    add = sub.add_parser("add-user", help="add a user and print their token",
                         description="Add a user and print their bearer token (shown only now).")
    add.add_argument("name")
    add.add_argument("--new-token", action="store_true", help="give an existing user a new token (the old one stops working)")
    storage(add)
    add.set_defaults(handler=run_add_user)

    users = sub.add_parser("users", help="list the users")
    storage(users)
    users.set_defaults(handler=run_users)


def _db_url(args: argparse.Namespace) -> str:
    from qnodeos.jobs.settings import DB_ENV, default_db_url

    url = args.db or os.environ.get(DB_ENV)
    if url:
        return url
    args.data.mkdir(parents=True, exist_ok=True)
    return default_db_url(args.data)


def _database(args: argparse.Namespace) -> Database:
    try:
        from qnodeos.jobs.db import Database
    except ImportError as exc:
        raise CommandError(f"the job service needs the 'service' extra (pip install 'qnodeos[service]'): {exc}") from None
    try:
        return Database(_db_url(args))
    except Exception as exc:  # SQLAlchemy: bad URL, missing driver, unreachable server
        raise CommandError(f"cannot open the database: {type(exc).__name__}: {exc}") from None


def run_add_user(args: argparse.Namespace) -> int:
    from qnodeos.jobs.auth import UserError, add_user

    db = _database(args)
    try:
        token = add_user(db, args.name, replace_token=args.new_token)
    except UserError as exc:
        raise CommandError(str(exc)) from None
    finally:
        db.dispose()
    print(token)
    return 0


def run_users(args: argparse.Namespace) -> int:
    from qnodeos.jobs.auth import user_names

    db = _database(args)
    try:
        for name in user_names(db):
            print(name)
    finally:
        db.dispose()
    return 0


def run_serve(args: argparse.Namespace) -> int:
    try:
        from qnodeos.jobs.network import NetworkConfig, NetworkConfigError
        from qnodeos.jobs.server import serve
        from qnodeos.jobs.settings import ServiceSettings
        import fastapi  # noqa: F401  (the extra's presence, checked before anything starts)
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise CommandError(f"the job service needs the 'service' extra (pip install 'qnodeos[service]'): {exc}") from None
    try:
        network = NetworkConfig.from_file(args.network)
    except NetworkConfigError as exc:
        raise CommandError(str(exc)) from None
    _database(args).dispose()  # a bad URL is reported now, in one line
    args.data.mkdir(parents=True, exist_ok=True)
    settings = ServiceSettings(network=network, data_dir=args.data.resolve(), db_url=_db_url(args),
                               max_concurrent_jobs=args.max_jobs)

    def announce(url: str) -> None:
        print(f"ready: job service serving network {network.name!r} ({', '.join(network.nodes)}) on {url} "
              f"(dashboard: {url}/)", flush=True)

    try:
        serve(settings, args.host, args.port, announce=announce)
    except OSError as exc:
        raise CommandError(str(exc)) from None
    return 0

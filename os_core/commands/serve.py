"""``qnodeos world NET``, ``qnodeos serve NET --node N`` and ``qnodeos up NET``: a network whose world
and nodes run as long-lived services (see :mod:`qnodeos.serve`); ``qnodeos run APP_DIR --network NET``
then runs applications' hosts against them.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from . import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    world = subparsers.add_parser(
        "world", help="serve the simulated world of a network (its mock devices, links and timeline)",
        description="Serve the world of a network TOML with a [serve] table on its `world` addresses until "
                    "Ctrl-C or SIGTERM. Start it before the nodes.")
    world.add_argument("network", type=Path, metavar="NET", help="network TOML with a [serve] table")
    world.set_defaults(handler=run_world)

    serve = subparsers.add_parser(
        "serve", help="run one node of a network as a service (its OS, network stack and host link)",
        description="Run node NODE of a network TOML with a [serve] table: it joins the world, links to its "
                    "peers and accepts application hosts on its `hosts` address until Ctrl-C or SIGTERM, "
                    "then leaves the network (its peers are told).")
    serve.add_argument("network", type=Path, metavar="NET", help="network TOML with a [serve] table")
    serve.add_argument("--node", required=True, help="which node of the network this process runs")
    serve.set_defaults(handler=run_serve)

    up = subparsers.add_parser(
        "up", help="start a served network: its world and every node, as children of this command",
        description="Start the world and every node of a network TOML with a [serve] table (default: a "
                    "two-node mock network on loopback, written with fresh keys to --dir), print where they "
                    "listen, and keep them running until Ctrl-C or SIGTERM; stops all if one ends.")
    up.add_argument("network", type=Path, metavar="NET", nargs="?",
                    help="network TOML with a [serve] table (default: write a two-node example to --dir)")
    up.add_argument("--dir", type=Path, default=Path("qnodeos-network"),
                    help="where the default network and its keys are written (default: ./qnodeos-network)")
    up.add_argument("--port", type=int, default=7000,
                    help="first port of the default network (it uses a block of 20 from here; default 7000)")
    up.add_argument("--jobs-port", type=int, default=8000,
                    help="port of the job service and its dashboard on 127.0.0.1 (default 8000; 0 picks a free one)")
    up.add_argument("--jobs-data", type=Path,
                    help="the job service's data directory (default: jobs/ next to the network TOML)")
    up.add_argument("--no-jobs", action="store_true", help="start the network only, without the job service")
    up.set_defaults(handler=run_up)


def _deployment(path: Path) -> Any:
    from qnodeos.errors import QNodeOSError
    from qnodeos.serve import Deployment

    try:
        return Deployment.load(path)
    except QNodeOSError as exc:
        raise CommandError(str(exc)) from None


def run_world(args: argparse.Namespace) -> int:
    from qnodeos.errors import QNodeOSError
    from qnodeos.serve.processes import run_world as serve_world

    deployment = _deployment(args.network)
    try:
        serve_world(deployment, on_ready=lambda: _say_ready(f"world of {deployment.path.name} at {deployment.world}"))
    except (QNodeOSError, OSError) as exc:
        raise CommandError(f"world: {exc}") from None
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from qnodeos.errors import QNodeOSError
    from qnodeos.hal.errors import QDeviceError
    from qnodeos.serve.processes import serve_node

    deployment = _deployment(args.network)
    if args.node not in deployment.nodes:
        raise CommandError(f"--node {args.node!r}: {deployment.path} has nodes {sorted(deployment.nodes)}")
    place = deployment.nodes[args.node]
    try:
        serve_node(deployment, args.node,
                   on_ready=lambda: _say_ready(f"node {args.node}: hosts at {place.hosts}, peers at {place.mailbox}"))
    except (QNodeOSError, QDeviceError, OSError) as exc:
        raise CommandError(f"node {args.node}: {exc}") from None
    return 0


JOBS_PART = "job service"
WORLD_PART = "world"  # the part without which nothing runs: its end stops the others
DEMO_USER = "demo"


def _job_service_user(data: Path) -> tuple[str, Path] | None:
    """The user ``qnodeos up`` signs in as: ``demo``, added with a token saved (owner-only) in
    ``data/demo.token`` the first time. None (and a note) without the ``service`` extra."""
    try:
        from qnodeos.jobs.auth import add_user, user_names
        from qnodeos.jobs.db import Database
        from qnodeos.jobs.settings import default_db_url
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        print(f"no job service: it needs the 'service' extra (pip install 'qnodeos[service]'): {exc}", file=sys.stderr)
        return None
    token_file = data / f"{DEMO_USER}.token"
    try:
        data.mkdir(parents=True, exist_ok=True)
        db = Database(default_db_url(data))
        try:
            if DEMO_USER not in user_names(db) or not token_file.is_file():
                token = add_user(db, DEMO_USER, replace_token=DEMO_USER in user_names(db))
                token_file.touch(mode=0o600)
                token_file.write_text(token + "\n", encoding="utf-8")
        finally:
            db.dispose()
    except OSError as exc:
        raise CommandError(f"job service data {data}: {exc}") from None
    return DEMO_USER, token_file


def _announced_url(launcher: Any) -> str:
    for child in launcher.children:
        if child.name == JOBS_PART and child.said:
            return child.said[-1].split(" on ", 1)[1].split(" ", 1)[0]
    return "?"


def _say_ready(what: str) -> None:
    print(f"ready: {what}", flush=True)


def run_up(args: argparse.Namespace) -> int:
    from qnodeos.serve.example import write_example_network
    from qnodeos.serve.launcher import LaunchError, Launcher, part_commands

    if args.network is None:
        try:
            network = write_example_network(args.dir, first_port=args.port)
        except (OSError, ValueError) as exc:
            raise CommandError(f"--dir {args.dir}: {exc}") from None
        print(f"network: {network} (keys in {network.parent / 'keys'})", file=sys.stderr)
    else:
        given = [flag for flag, default in (("--dir", Path("qnodeos-network")), ("--port", 7000))
                 if getattr(args, flag[2:]) != default]
        if given:
            raise CommandError(f"{', '.join(given)} only apply to the default network (no NET given)")
        network = args.network
    deployment = _deployment(network)
    extra, token = {}, None
    if not args.no_jobs:
        data = args.jobs_data or deployment.path.parent / "jobs"
        token = _job_service_user(data)
        if token is not None:
            extra[JOBS_PART] = ["jobs", "serve", "--network", str(deployment.path), "--data", str(data),
                                "--port", str(args.jobs_port)]
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    launcher = Launcher(part_commands(deployment.path, list(deployment.nodes), extra))
    try:
        launcher.start(on_ready=lambda child: print(f"{child.name}: {child.said[-1]}", file=sys.stderr))
    except LaunchError as exc:
        raise CommandError(str(exc)) from None
    print(f"network up; run an application with `qnodeos run APP_DIR --network {deployment.path}`", file=sys.stderr)
    if token is not None:
        url = _announced_url(launcher)
        print(f"job service and dashboard: {url}/ (user {token[0]!r}, token in {token[1]}); submit jobs with\n"
              f"  curl -H \"Authorization: Bearer $(cat {token[1]})\" -F archive=@APP.zip -F runs=10 {url}/api/jobs",
              file=sys.stderr)
    print("Ctrl-C stops it", file=sys.stderr)
    ended = launcher.wait(stop, essential={WORLD_PART}, on_lost=_report_lost)
    lost = [c.name for c in launcher.lost]
    codes = launcher.stop()
    if ended is not None:
        code = codes.get(ended.name, ended.process.returncode if ended.process is not None else None)
        print(f"{ended.name} ended on its own (exit code {code}); "
              "stopped the others", file=sys.stderr)
        return 1
    print("network stopped" + (f" ({', '.join(lost)} had ended on its own)" if lost else ""), file=sys.stderr)
    return 1 if lost else 0


def _report_lost(child: Any) -> None:
    """A node or the job service ended while the world runs: say what that means, keep the rest."""
    code = child.process.returncode
    if child.name == JOBS_PART:
        consequence = "the network keeps running for `qnodeos run APP_DIR --network NET`"
    else:
        consequence = ("its peers are told it left (within seconds); runs and jobs that need it fail, naming "
                       "it; a node cannot rejoin: start `qnodeos up` again to bring it back")
    print(f"{child.name} ended on its own (exit code {code}): {consequence}. The rest keeps running; Ctrl-C "
          "stops it", file=sys.stderr, flush=True)

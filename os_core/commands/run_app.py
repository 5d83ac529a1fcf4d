"""``qnodeos run APP_DIR`` (see :mod:`qnodeos.commands.run`): a NetQASM SDK application directory on a
mock network.

Before anything starts, the directory is read and every ``--input`` is checked against its roles and
their ``main`` parameters. With ``--json``, stdout carries exactly one JSON document: what the
applications print goes to ``--app-output`` or else to stderr, in both modes.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import fcntl
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator, TextIO

from qnodeos.apps import defaults
from qnodeos.errors import QNodeOSError

from . import CommandError
from .output import check_writable, dumps


def parse_inputs(items: list[str]) -> dict[str, dict[str, Any]]:
    """``ROLE.NAME=VALUE`` items as ``{role: {name: value}}``; a value is a Python literal, else text."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        role, dot, name = key.partition(".")
        if not sep or not dot or not role or not name:
            raise CommandError(f"--input {item!r}: expected ROLE.NAME=VALUE")
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            parsed = value
        out.setdefault(role, {})[name] = parsed
    return out


def run_app(args: argparse.Namespace) -> int:
    import yaml

    from qnodeos.apps.app_network import app_network
    from qnodeos.apps.inputs import check_inputs
    from qnodeos.apps.runner import load_app_dir, run_app_dir

    path = args.programs[0]
    inputs = parse_inputs(args.input or [])
    try:
        app = load_app_dir(path)
        check_inputs(app, inputs, what="--input")
    except (QNodeOSError, yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        raise CommandError(str(exc)) from None
    if args.app_output is not None:
        check_writable(args.app_output, "--app-output")
    if args.trace is not None:
        check_writable(args.trace, "--trace")
    if args.network is not None:
        from qnodeos.serve import is_served_network

        if is_served_network(args.network) and args.num is not None:
            raise CommandError(f"--num does not apply to the served network {args.network} (submit the "
                               "application with its number of runs to the job service instead)")
        if is_served_network(args.network):
            return _run_on_served_nodes(args, app, inputs)
    platform = args.platform or defaults.PLATFORM
    mode = args.mode or defaults.MODE
    try:  # before anything starts: the network file is read and checked here
        network = app_network(app, args.network, platform=platform, preset=args.preset or defaults.PRESET)
    except QNodeOSError as exc:
        raise CommandError(str(exc)) from None
    if getattr(args, "log_level", None):
        _netqasm_log_level(args.log_level)
    if args.num is not None:
        from .run_series import run_series

        if args.trace is not None:
            raise CommandError("--trace does not apply with --num (the timeline of one run: run without --num)")
        with _application_output(args.app_output, args.json, mode) as (stream, file_for_nodes):
            return run_series(args, app, inputs, network, platform, mode, stream, file_for_nodes)
    with _application_output(args.app_output, args.json, mode) as (stream, file_for_nodes):
        try:
            with contextlib.redirect_stdout(stream) if stream is not None else contextlib.nullcontext():
                result = run_app_dir(
                    app.path, platform, seed=args.seed, preset=args.preset or defaults.PRESET,
                    overrides=inputs, mode=mode, app_output=file_for_nodes,
                    timeout_s=args.timeout or defaults.TIMEOUT_S,
                    request_timeout_s=args.request_timeout or defaults.REQUEST_TIMEOUT_S,
                    recv_timeout_s=args.recv_timeout or defaults.RECV_TIMEOUT_S, trace=args.trace is not None,
                    log_dir=None if args.no_logs else (args.log_dir or app.path / "log"), network=network)
        except QNodeOSError as exc:
            raise CommandError(str(exc)) from None
    if args.json:
        print(dumps({"results": result.results, "errors": result.errors, "stats": result.stats}))
    else:
        _print_table(result, f"{app.path.name} on {network.source} ({mode})")
    if args.trace is not None:  # after the results: a failing write cannot lose them
        _write_network_trace(result, args.trace, app.path.name)
    if result.log_dir is not None:
        print(f"logs in {result.log_dir}", file=sys.stderr)
    return 0 if result.ok else 1


#: Options that choose how a fresh network is made: a served network is already made and running.
NOT_FOR_SERVED = {"platform": "--platform", "mode": "--mode", "seed": "--seed", "preset": "--preset",
                  "request_timeout": "--request-timeout"}


def _run_on_served_nodes(args: argparse.Namespace, app: Any, inputs: dict[str, dict[str, Any]]) -> int:
    """Each role's host runs in this process against its already running node (``[serve]`` networks)."""
    from qnodeos.apps.runner import run_app_on_nodes
    from qnodeos.serve import Deployment, connect_hosts
    from qnodeos.serve.trace import served_trace

    from .run import given

    wrong = given(args, NOT_FOR_SERVED)
    if wrong:
        raise CommandError(f"{', '.join(wrong)} {'does' if len(wrong) == 1 else 'do'} not apply to the served "
                           f"network {args.network} (its nodes already run; their [serve] table sets them up)")
    try:
        deployment = Deployment.load(args.network)
    except QNodeOSError as exc:
        raise CommandError(str(exc)) from None
    placed = {app.node_of_role[r] if app.node_of_role[r] in deployment.nodes else deployment.roles.get(r)
              for r in app.roles}
    if None in placed:
        lost = [r for r in app.roles if app.node_of_role[r] not in deployment.nodes and r not in deployment.roles]
        raise CommandError(f"role(s) {lost} of {app.path.name} run on no node of {args.network} (nodes: "
                           f"{sorted(deployment.nodes)}); place them in the app's roles.yaml or in [serve.roles]")
    if getattr(args, "log_level", None):
        _netqasm_log_level(args.log_level)
    links = connect_hosts(deployment, sorted(n for n in placed if n is not None),
                          timeout_s=args.timeout or defaults.TIMEOUT_S)
    try:
        since = {n: link.node_state()["device_ns"] for n, link in links.items()} if args.trace is not None else {}
        with _application_output(args.app_output, args.json, "threads") as (stream, _):
            with contextlib.redirect_stdout(stream) if stream is not None else contextlib.nullcontext():
                result = run_app_on_nodes(
                    app.path, links, overrides=inputs, timeout_s=args.timeout or defaults.TIMEOUT_S,
                    recv_timeout_s=args.recv_timeout or defaults.RECV_TIMEOUT_S, placement=deployment.roles,
                    log_dir=None if args.no_logs else (args.log_dir or app.path / "log"))
        trace = served_trace(links, since, app.roles, {"application": app.path.name}) \
            if args.trace is not None else None
    except QNodeOSError as exc:
        raise CommandError(str(exc)) from None
    finally:
        for link in links.values():
            link.close()
    if args.json:
        print(dumps({"results": result.results, "errors": result.errors, "stats": result.stats}))
    else:
        _print_table(result, f"{app.path.name} on the served network {deployment.path.name}")
    if trace is not None:
        try:
            args.trace.write_text(json.dumps(trace, indent=1))
        except OSError as exc:
            raise CommandError(f"--trace {args.trace}: {exc}") from None
        print(f"wrote the timeline of {len(trace['nodes'])} node(s) to {args.trace}", file=sys.stderr)
    if result.log_dir is not None:
        print(f"logs in {result.log_dir}", file=sys.stderr)
    return 0 if result.ok else 1


def _write_network_trace(result: Any, path: Path, app: str) -> None:
    from qnodeos.trace import network_trace

    try:
        path.write_text(json.dumps(network_trace(result.traces, {"application": app}), indent=1))
    except OSError as exc:
        raise CommandError(f"--trace {path}: {exc}") from None
    print(f"wrote the timeline of {len(result.traces)} node(s) to {path}", file=sys.stderr)


@contextlib.contextmanager
def _application_output(app_output: Path | None, json_mode: bool, mode: str
                        ) -> Iterator[tuple[TextIO | None, str | IO[bytes] | None]]:
    """Where the applications' prints go: (stream for this process's threads, file for node processes).

    Threads mode prints through this process's ``sys.stdout``, redirected around the run; node
    processes write to a file. Without ``--app-output`` but with ``--json``, node processes write to an
    anonymous temporary file (unlinked from the start, so that no exit, however abrupt, leaves it behind)
    whose descriptor they inherit; it is copied to stderr after the run.
    """
    if app_output is not None:
        if mode == "threads":
            with open(app_output, "a", buffering=1) as stream:
                yield stream, None
        else:
            yield None, str(app_output)
        return
    if not json_mode:
        yield None, None
        return
    if mode == "threads":
        yield sys.stderr, None
        return
    with tempfile.TemporaryFile(prefix="qnodeos-run-") as relay:
        fcntl.fcntl(relay.fileno(), fcntl.F_SETFL, fcntl.fcntl(relay.fileno(), fcntl.F_GETFL) | os.O_APPEND)
        try:
            yield None, relay
        finally:
            relay.seek(0)
            sys.stderr.write(relay.read().decode("utf-8", errors="replace"))
            sys.stderr.flush()


def _netqasm_log_level(level: str) -> None:
    """netqasm's logger has its own stderr handler and does not propagate: give it ``--log-level``."""
    from netqasm.logging.glob import set_log_level

    set_log_level(level.upper())


def _print_table(result: Any, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in ("role", "result", "error"):
        table.add_column(col)
    for role in sorted(set(result.results) | set(result.errors)):
        table.add_row(role, repr(result.results.get(role)), result.errors.get(role, ""))
    Console().print(table)

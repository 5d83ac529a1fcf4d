"""Run an application directory with every node in its own OS process, talking over TCP on loopback.

Layout: one *world* process holds the mock devices, their heralding stations and the network's
timeline (so entangled states stay physically consistent and every node's events fall on one causal
timeline; :mod:`qnodeos.apps.world_process`); one process per node runs that node's OS and the
application roles placed on it; nodes reach each other through their ZeroMQ mailboxes and the world
through sockets that admit only their own per-run key. Processes are forked from this one (so start-up
costs no imports), die with it, leave Ctrl-C to it, and are always reaped on the way out.

The run has one deadline (``timeout_s`` from the start): roles still running then get an error, each
node reports what it has, and a node that does not answer within :data:`REPORT_GRACE_S` more is
killed. Each node's results are collected as soon as it answers; a node that dies or hangs fails only
its own roles (its peers' roles may of course be waiting for it: the nodes share one timeline).
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import time
from pathlib import Path
from typing import IO, Any, Callable

from qnodeos.hal.timeline import LinkSchedule, NetworkSchedule

from ..errors import QNodeOSError
from ..network.keys import network_keys
from ..network.spec import NetworkSpec
from ..network.timing import NetworkTiming
from . import defaults
from .local_network import PLATFORM_FLAVOUR, node_seeds
from .node_process import node_main
from .runner import AppError, AppRun, load_app_dir
from .world_process import WorldProcess

_CTX = multiprocessing.get_context("fork")
#: After the run's deadline, how long nodes get to send what they have (results, stats, traces).
REPORT_GRACE_S = 10.0


def _recv(channel: Any, what: str, deadline: float) -> Any:
    left = deadline - time.monotonic()
    if left <= 0 or not channel.poll(left):
        raise QNodeOSError(f"{what}: no answer before the deadline")
    try:
        return channel.recv()
    except EOFError:
        raise QNodeOSError(f"{what}: the process died without answering (killed or crashed)") from None


def _schedule(data: dict[str, list[int]]) -> NetworkSchedule:
    return NetworkSchedule({tuple(key.split("|")): LinkSchedule(*values) for key, values in data.items()})  # type: ignore[misc]


def run_app_dir_processes(path: str | Path, platform: str = defaults.PLATFORM, *, seed: int | None = None,
                          preset: str = defaults.PRESET, overrides: dict[str, dict[str, Any]] | None = None,
                          timeout_s: float = defaults.TIMEOUT_S,
                          request_timeout_s: float | None = defaults.REQUEST_TIMEOUT_S,
                          recv_timeout_s: float = defaults.RECV_TIMEOUT_S, app_output: str | IO[Any] | None = None,
                          device_config: dict[str, Any] | None = None, timing: NetworkTiming | None = None,
                          trace: bool = False, run_dir: Path | None = None,
                          scratch_dir: str | None = None, network: NetworkSpec | None = None,
                          runs: int | None = None, on_run: Callable[[Any], None] | None = None) -> AppRun:
    """Like :func:`qnodeos.apps.runner.run_app_dir`, with a world process and one process per node
    (``run_dir``: the run's log directory, shared by the nodes; ``scratch_dir``: where netqasm's own logs
    go without one — the caller's, which the world process removes should the caller be killed;
    ``app_output``: a file path, or an open file whose descriptor the node processes inherit;
    ``network``: the nodes' drivers and the links' physics; default: every node on ``platform``).

    ``runs``: a series of that many runs on the same processes (:mod:`qnodeos.apps.repeat`), each
    reported to ``on_run`` as a :class:`~qnodeos.apps.repeat.RunRecord` as it ends (``timeout_s``
    bounds each run); the returned run then holds the nodes' final statistics, and under the error
    ``"*"`` why the series stopped early, if it did."""
    app = load_app_dir(path)
    if platform not in PLATFORM_FLAVOUR:
        raise QNodeOSError(f"unknown platform {platform!r} (nv or trapped_ion)")
    nodes = app.nodes
    deadline = time.monotonic() + timeout_s
    world = WorldProcess(platform, nodes, seed=seed, preset=preset, device_config=device_config, timing=timing,
                         scratch_dir=scratch_dir, network=network)
    timing = world.timing
    procs: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    answered: set[str] = set()
    try:
        world.start(deadline)
        node_ids = {n: i for i, n in enumerate(nodes)}
        keys = network_keys(nodes)  # each node process gets its own secret and its peers' public keys
        seeds = node_seeds(seed, nodes)
        for name in nodes:
            parent_end, child_end = _CTX.Pipe()
            spec = {"node": name, "world": world.addresses[name], "world_keys": world.client_keys[name], "runs": runs,
                    "device_access": world.access[name],
                    # applications may inspect states only if every node can show them (one answer for
                    # the whole network, so that peers take the same branch)
                    "shows_states": all(access is None for access in world.access.values()),
                    "schedule": world.schedule, "node_ids": node_ids, "node_of_role": app.node_of_role,
                    "app_dir": str(app.path), "overrides": overrides or {},
                    "timeout_s": timeout_s, "deadline": deadline, "request_timeout_s": request_timeout_s,
                    "recv_timeout_s": recv_timeout_s, "seed": seeds[name], "app_output": _output_spec(app_output),
                    "keys": keys[name], "timing": timing, "trace": trace, "parent_pid": os.getpid(),
                    "run_dir": None if run_dir is None else str(run_dir), "scratch_dir": scratch_dir}
            inherited = [world.pipe, *channels.values(), parent_end]  # the parent's ends: closed in the child
            proc = _CTX.Process(target=node_main, args=(spec, child_end, inherited),
                                name=f"qnodeos-node-{name}", daemon=True)
            proc.start()
            child_end.close()
            procs[name], channels[name] = proc, parent_end
        mailboxes = {n: _recv(c, f"node {n}", deadline)["mailbox"] for n, c in channels.items()}
        # before any node reaches its device (a started process has a pid)
        world.admit({n: p.pid for n, p in procs.items() if p.pid is not None}, deadline)
        for channel in channels.values():
            channel.send({"peers": mailboxes})
        if runs is not None:
            return _series(app, channels, runs, timeout_s, on_run or (lambda record: None), world, answered)
        run, app_errors = _collect(app, channels, deadline, timeout_s, world.node_gone, answered)
        if app_errors and len(app_errors) == len(answered):  # every node: the application does not import
            raise AppError(app_errors[0])
        return run
    finally:
        # the nodes first, while the world still answers their leaving; a node that never answered
        # (or, in a series that stopped early, still waits for the next run) is killed at once
        for name, proc in procs.items():
            if name not in answered and proc.is_alive():
                proc.kill()
        for proc in procs.values():
            proc.join(timeout=2)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=2)
        world.stop()
        for end in channels.values():
            end.close()


def _output_spec(app_output: str | IO[Any] | None) -> str | int | None:
    """What a node process needs to write application output: a path, or an inherited descriptor."""
    if app_output is None or isinstance(app_output, (str, os.PathLike)):
        return None if app_output is None else os.fspath(app_output)
    return app_output.fileno()


def _series(app: Any, channels: dict[str, Any], runs: int, timeout_s: float, on_run: Callable[[Any], None],
            world: WorldProcess, answered: set[str]) -> AppRun:
    """The parent's side of a series (see :mod:`.node_process`): per run, once the network is at rest
    (:meth:`WorldProcess.wait_quiet`), every node registers its hosts, then all go; each run has its own
    deadline (``timeout_s``). A node that dies, hangs or cannot start a run ends the series (recorded).
    ``answered`` gets the nodes only once they have sent their final statistics."""
    from .repeat import RunRecord

    stopped = None
    for index in range(runs):
        begun = time.monotonic()
        deadline = begun + timeout_s
        try:
            at_rest = index == 0 or world.wait_quiet(timeout_s)
        except QNodeOSError as exc:
            at_rest, why = False, str(exc)
        else:
            why = f"the network did not come to rest within {timeout_s:g} s after run {index - 1}"
        if not at_rest:
            on_run(RunRecord(index, {}, {"*": why}, time.monotonic() - begun))
            stopped = f"run {index} could not start; {runs - index - 1} run(s) not made"
            break
        for channel in channels.values():
            channel.send(("register", index))
        problems = []
        for name, channel in channels.items():
            try:
                answer = _recv(channel, f"node {name}", deadline)
            except QNodeOSError as exc:
                answer = {"error": str(exc)}
            if answer != "registered":
                problems.append(answer.get("error", repr(answer)) if isinstance(answer, dict) else repr(answer))
        if problems:
            on_run(RunRecord(index, {}, {"*": "; ".join(problems)}, time.monotonic() - begun))
            stopped = f"run {index} could not start; {runs - index - 1} run(s) not made"
            break
        for channel in channels.values():
            channel.send(("go", index))
        lost: set[str] = set()
        stuck: list[str] = []
        run, _ = _collect(app, channels, deadline, timeout_s, world.node_gone, set(), lost, stuck)
        on_run(RunRecord(index, run.results, run.errors, time.monotonic() - begun))
        stuck.sort()
        if lost or stuck:  # a dead node, or a host still running that the next run's would be taken for
            why = (f"node(s) {', '.join(sorted(lost))} died or did not answer" if lost else
                   f"role(s) {', '.join(stuck)} did not finish within the run time-out of {timeout_s:g} s")
            stopped = f"run {index}: {why}; {runs - index - 1} run(s) not made"
            break
    final = AppRun(results={}, errors={}, stats={})
    if stopped is not None:
        final.errors["*"] = stopped
        return final  # the caller ends every process
    for channel in channels.values():
        channel.send(("end",))
    last, _ = _collect(app, channels, time.monotonic() + 20, timeout_s, world.node_gone, answered)
    final.stats = last.stats
    return final


def _collect(app: Any, channels: dict[str, Any], deadline: float, timeout_s: float, gone: Any,
             answered: set[str], lost: set[str] | None = None,
             stuck: list[str] | None = None) -> tuple[AppRun, list[str]]:
    """Each node's payload as soon as it arrives (until the deadline plus :data:`REPORT_GRACE_S`);
    roles of nodes that never answer get an error (the nodes are added to ``lost``; roles a node
    reports still running, to ``stuck``), and ``gone(node)`` tells the world that a node died (so that
    its peers stop waiting for it). ``answered`` collects the nodes that did answer; also returns the
    nodes' errors importing the application (:class:`~qnodeos.apps.runner.AppError`)."""
    run = AppRun(results={}, errors={}, stats={})
    app_errors: list[str] = []
    waiting = {channel: name for name, channel in channels.items()}
    until = deadline + REPORT_GRACE_S
    while waiting:
        left = until - time.monotonic()
        ready = multiprocessing.connection.wait(list(waiting), timeout=left) if left > 0 else []
        if not ready:
            break
        for channel in ready:
            name = waiting.pop(channel)
            try:
                payload = channels[name].recv()
            except (EOFError, OSError):
                if lost is not None:
                    lost.add(name)
                _fail_roles(app, run, name, f"node {name} died without answering (killed or crashed)")
                gone(name)
                continue
            answered.add(name)
            if payload.get("app_error"):
                app_errors.append(payload["app_error"])
            run.results.update(payload["results"])
            run.errors.update(payload["errors"])
            run.stats[name] = payload["stats"]
            if stuck is not None:
                stuck.extend(payload.get("stuck", ()))
            if payload.get("trace") is not None:
                run.traces[name] = payload["trace"]
    for name in waiting.values():
        if lost is not None:
            lost.add(name)
        _fail_roles(app, run, name, f"node {name} gave no answer within the run's deadline ({timeout_s:g} s)")
    return run, app_errors


def _fail_roles(app: Any, run: AppRun, node: str, why: str) -> None:
    for role in app.roles:
        if app.node_of_role[role] == node:
            run.results.setdefault(role, None)
            run.errors[role] = why

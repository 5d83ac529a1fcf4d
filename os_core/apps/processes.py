"""Run an application directory with every node in its own OS process, talking over TCP on loopback.

Layout: one *world* process holds the mock devices, their heralding stations and the network's
timeline (so entangled states stay physically consistent and every node's events fall on one causal
timeline); one process per node runs that node's OS and the application roles placed on it; nodes
reach each other through their ZeroMQ mailboxes and the world through sockets that admit only their
own per-run key. Processes are forked from this one (so start-up costs no imports), die with it, and
are always reaped on the way out. Each node's results are collected as soon as it answers; a node that
dies or hangs fails only its own roles.
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import time
from pathlib import Path
from typing import Any, Callable

from qnodeos.hal.timeline import LinkSchedule, NetworkSchedule

from ..errors import QNodeOSError
from ..network.keys import network_keys
from ..network.spec import NetworkSpec
from ..network.timing import NetworkTiming
from . import defaults
from .local_network import APP_DEVICE_SIZE, PLATFORM_FLAVOUR, node_seeds
from .node_process import node_main
from .runner import AppRun, load_app_dir
from .supervision import close_inherited, die_with_parent

_CTX = multiprocessing.get_context("fork")


def _world_main(spec: NetworkSpec, seed: int | None, preset: str, timing: NetworkTiming, server_keys: Any,
                channel: Any, parent_ends: list[Any], parent_pid: int) -> None:
    import sys

    from qnodeos.drivers.device_server import DeviceServer

    from ..network.world import SimulatedWorld

    die_with_parent(parent_pid)
    close_inherited(parent_ends)
    sys.setswitchinterval(1e-4)  # its threads mostly wait on sockets: hand over quickly when one wakes
    world = server = None
    try:
        world = SimulatedWorld(spec, seed=seed, preset=preset, timing=timing, admit_this_process=False)
        server = DeviceServer(world.mock, keys=server_keys, device_nodes=world.mock_nodes).start()
        schedule = {f"{a}|{b}": [s.period_ns, s.bin_ns, s.offset_ns, s.attempt_ns, s.overhead_ns]
                    for (a, b), s in world.mock.schedule.links.items()}
        channel.send({"addresses": server.addresses, "schedule": schedule,
                      "access": {n: world.access(n) for n in spec.nodes}})
    except BaseException as exc:
        channel.send({"error": f"{type(exc).__name__}: {exc}"})
        if world is not None:
            world.close()
        return
    try:
        while True:  # serve until the parent says stop or goes away (EOF)
            command = channel.recv()
            if isinstance(command, tuple) and len(command) == 2 and command[0] == "gone":
                world.mock.timeline.leave(command[1])  # a node process died: its peers must not wait for it
            elif isinstance(command, tuple) and len(command) == 2 and command[0] == "quiet":
                channel.send(world.mock.timeline.wait_quiet(command[1]))  # before a series' next run
            elif isinstance(command, tuple) and len(command) == 2 and command[0] == "admit":
                for node, pid in command[1].items():  # each emulated controller: only its node's process
                    world.admit(node, pid)
                channel.send("admitted")
            else:
                break
    except (EOFError, OSError, KeyboardInterrupt):
        pass
    server.close()
    world.close()


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
                          recv_timeout_s: float = defaults.RECV_TIMEOUT_S, app_output: str | None = None,
                          device_config: dict[str, Any] | None = None, timing: NetworkTiming | None = None,
                          trace: bool = False, run_dir: Path | None = None,
                          network: NetworkSpec | None = None, runs: int | None = None,
                          on_run: Callable[[Any], None] | None = None) -> AppRun:
    """Like :func:`qnodeos.apps.runner.run_app_dir`, with a world process and one process per node
    (``run_dir``: the run's log directory, shared by the nodes; ``network``: the nodes' drivers and
    the links' physics; default: every node on ``platform``).

    ``runs``: a series of that many runs on the same processes (:mod:`qnodeos.apps.repeat`), each
    reported to ``on_run`` as a :class:`~qnodeos.apps.repeat.RunRecord` as it ends (``timeout_s``
    bounds each run); the returned run then holds the nodes' final statistics, and under the error
    ``"*"`` why the series stopped early, if it did."""
    from qnodeos.drivers.world_auth import run_keys

    app = load_app_dir(path)
    if platform not in PLATFORM_FLAVOUR:
        raise QNodeOSError(f"unknown platform {platform!r} (nv or trapped_ion)")
    nodes = app.nodes
    if network is None:
        network = NetworkSpec.uniform(platform, nodes, {**APP_DEVICE_SIZE[platform], **(device_config or {})})
    network = network.for_nodes(nodes)
    timing = timing or network.timing or NetworkTiming()
    deadline = time.monotonic() + timeout_s + 30
    procs: list[Any] = []
    parent_ends: list[Any] = []
    server_end, server_child = _CTX.Pipe()
    parent_ends.append(server_end)
    server_keys, client_keys = run_keys(nodes)
    try:
        server = _CTX.Process(target=_world_main, name="qnodeos-world", daemon=True,
                              args=(network, seed, preset, timing, server_keys, server_child, list(parent_ends),
                                    os.getpid()))
        server.start()
        server_child.close()  # only the child keeps it: its death then reads as EOF here
        procs.append(server)
        world = _recv(server_end, "world process", deadline)
        if "error" in world:
            raise QNodeOSError(f"world process: {world['error']}")
        node_ids = {n: i for i, n in enumerate(nodes)}
        keys = network_keys(nodes)  # each node process gets its own secret and its peers' public keys
        seeds = node_seeds(seed, nodes)
        channels = {}
        node_pids: dict[str, int] = {}
        for name in nodes:
            parent_end, child_end = _CTX.Pipe()
            spec = {"node": name, "world": world["addresses"][name], "world_keys": client_keys[name], "runs": runs,
                    "device_access": world["access"][name],
                    # applications may inspect states only if every node can show them (one answer for
                    # the whole network, so that peers take the same branch)
                    "shows_states": all(access is None for access in world["access"].values()),
                    "schedule": world["schedule"], "node_ids": node_ids, "node_of_role": app.node_of_role,
                    "app_dir": str(app.path), "overrides": overrides or {},
                    "timeout_s": timeout_s, "request_timeout_s": request_timeout_s, "recv_timeout_s": recv_timeout_s,
                    "seed": seeds[name], "app_output": app_output, "keys": keys[name], "timing": timing,
                    "trace": trace, "parent_pid": os.getpid(),
                    "run_dir": None if run_dir is None else str(run_dir)}
            proc = _CTX.Process(target=node_main, args=(spec, child_end, list(parent_ends) + [parent_end]),
                                name=f"qnodeos-node-{name}", daemon=True)
            proc.start()
            child_end.close()
            procs.append(proc)
            assert proc.pid is not None  # a started process has one
            node_pids[name] = proc.pid
            channels[name] = parent_end
            parent_ends.append(parent_end)
        mailboxes = {n: _recv(c, f"node {n}", deadline)["mailbox"] for n, c in channels.items()}
        server_end.send(("admit", node_pids))  # before any node reaches its device
        if _recv(server_end, "world process", deadline) != "admitted":
            raise QNodeOSError("world process: unexpected answer to the list of node processes")
        for channel in channels.values():
            channel.send({"peers": mailboxes})
        gone = lambda node: server_end.send(("gone", node))  # noqa: E731
        if runs is None:
            return _collect(app, channels, deadline, gone)

        def quiet(index: int) -> bool:  # the world's timeline at rest: run ``index`` may register
            server_end.send(("quiet", timeout_s))
            return bool(_recv(server_end, "world process", time.monotonic() + timeout_s + 10))

        return _series(app, channels, runs, timeout_s, on_run or (lambda record: None), gone, quiet)
    finally:
        # the nodes first, while the world still answers their leaving (stopped first, it left each
        # node's `leave` to time out: 2 s lost at the end of about every other run)
        for proc in [*procs[1:], *procs[:1]]:
            if proc is procs[0]:
                try:
                    server_end.send("stop")
                except (OSError, ValueError):
                    pass
            proc.join(timeout=2)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=2)
        for end in parent_ends:
            end.close()


def _series(app: Any, channels: dict[str, Any], runs: int, timeout_s: float, on_run: Callable[[Any], None],
            gone: Any, quiet: Callable[[int], bool]) -> AppRun:
    """The parent's side of a series (see :mod:`.node_process`): per run, once the network is at rest
    (``quiet``), every node registers its hosts, then all go; a node that dies, hangs or cannot start a
    run ends the series (recorded)."""
    from .repeat import RunRecord

    stopped = None
    for index in range(runs):
        begun = time.monotonic()
        deadline = begun + timeout_s + 30
        try:
            at_rest = index == 0 or quiet(index)
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
        run = _collect(app, channels, deadline, gone, lost, stuck)
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
    last = _collect(app, channels, time.monotonic() + 30, gone)
    final.stats = last.stats
    return final


def _collect(app: Any, channels: dict[str, Any], deadline: float, gone: Any, lost: set[str] | None = None,
             stuck: list[str] | None = None) -> AppRun:
    """Each node's payload as soon as it arrives; roles of nodes that never answer get an error (the
    nodes are added to ``lost``; roles a node reports still running, to ``stuck``), and ``gone(node)``
    tells the world that a node died (so that its peers stop waiting for it)."""
    run = AppRun(results={}, errors={}, stats={})
    waiting = {channel: name for name, channel in channels.items()}
    while waiting:
        left = deadline - time.monotonic()
        ready = multiprocessing.connection.wait(list(waiting), timeout=max(0.0, left)) if left > 0 else []
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
                try:
                    gone(name)
                except (OSError, ValueError):
                    pass
                continue
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
        _fail_roles(app, run, name, f"node {name} gave no answer within the run's deadline")
    return run


def _fail_roles(app: Any, run: AppRun, node: str, why: str) -> None:
    for role in app.roles:
        if app.node_of_role[role] == node:
            run.results.setdefault(role, None)
            run.errors[role] = why

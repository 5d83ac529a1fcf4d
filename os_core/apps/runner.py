"""Run a NetQASM application directory (``app_<role>.py`` files) unchanged on a qnodeos network.

The SDK picks its backend classes in ``netqasm.sdk.external`` when that module is first imported; the
runner selects netqasm's inert "debug" backend, then rebinds ``NetQASMConnection``, ``Socket``,
``BroadcastChannel`` and ``get_qubit_state`` to qnodeos before it imports the application modules, so
the applications bind to qnodeos without a line changed. Each role runs in its own thread with the
inputs of ``<role>.yaml`` (if the directory has one) over ``main()``'s defaults.
"""
from __future__ import annotations

import importlib
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable

from ..errors import QNodeOSError
from ..network.spec import NetworkSpec
from ..network.timing import NetworkTiming
from . import defaults
from .app_files import AppDirError, check_network_file, check_source, role_inputs, role_placement
from .connection import HostDirectory
from .run_logs import new_run_dir, routed_output, write_run
from .simulation import report_simulator
from .sockets import socket_classes
from .thread_stop import RoleStopped, interrupt, join_all

_log = logging.getLogger(__name__)
#: Name prefix of the scratch directory of a run without a log directory (netqasm's own logs).
SCRATCH_PREFIX = "qnodeos-app-"
#: How long the threads of roles stopped at the deadline get to end.
STOP_GRACE_S = 2.0
#: What a role's error adds when its thread could not be stopped, in threads mode.
STUCK_IN_THREADS = ("its thread could not be stopped (blocked outside Python code) and runs on: "
                    "run such roles in processes mode")
_RUN_LOCK = threading.Lock()  # netqasm's SDK keeps process-wide state: one application run at a time


class AppError(QNodeOSError):
    """An application role raised; the message names the role and the cause."""


@dataclass
class AppDir:
    """An application directory as netqasm lays it out (see :func:`load_app_dir`).

    Attributes:
        path: the directory (absolute).
        roles: the roles, one per ``app_<role>.py``, sorted.
        inputs: role -> the arguments of its ``main`` from ``<role>.yaml`` (empty without one).
        node_of_role: role -> the node it runs on (itself, unless ``roles.yaml`` places it).
    """

    path: Path
    roles: list[str]
    inputs: dict[str, dict[str, Any]]
    node_of_role: dict[str, str]

    @property
    def nodes(self) -> list[str]:
        """The nodes the roles run on, each once, in the order of the roles."""
        return list(dict.fromkeys(self.node_of_role[r] for r in self.roles))


@dataclass
class AppRun:
    """What one run of an application directory gave.

    Attributes:
        results: role -> what its ``main`` returned (roles that raised are missing).
        errors: role -> why it failed (the exception, named); empty when every role succeeded.
        stats: node -> its counters (:meth:`qnodeos.Node.stats`).
        traces: node -> its timeline, when a trace was asked for.
        log_dir: the run's log directory, when logs were asked for.
    """

    results: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    traces: dict[str, Any] = field(default_factory=dict)  # node -> timeline (when asked for)
    log_dir: Path | None = None  # the run's log directory (when asked for)

    @property
    def ok(self) -> bool:
        """Whether every role returned."""
        return not self.errors


def load_app_dir(path: str | Path) -> AppDir:
    """Read the application directory ``path``: roles from ``app_<role>.py``, inputs from
    ``<role>.yaml``, placement from ``roles.yaml``; a missing directory or one without roles is refused.

    Every file is checked here, before anything runs (see :mod:`qnodeos.apps.app_files`): a malformed
    one is an :class:`~qnodeos.apps.app_files.AppDirError` naming the file and the field."""
    path = Path(path).resolve()
    if not path.is_dir():
        raise AppDirError(f"application directory {path} does not exist")
    sources = sorted(path.glob("app_*.py"))
    roles = [p.stem[len("app_"):] for p in sources]
    if not roles:
        raise AppDirError(f"{path} has no app_<role>.py files")
    for source in sources:
        check_source(source)
    inputs = {}
    for role in roles:
        f = path / f"{role}.yaml"
        inputs[role] = role_inputs(f) if f.exists() else {}
    node_of_role = {r: r for r in roles}
    if (path / "roles.yaml").exists():
        node_of_role.update(role_placement(path / "roles.yaml", roles))
    if (path / "network.yaml").exists():
        check_network_file(path / "network.yaml")
    return AppDir(path, roles, inputs, node_of_role)


def bind_netqasm(directory: Any, socket_cls: Any = None, broadcast_cls: Any = None, *,
                 simulated: bool = False) -> Any:
    """Make ``netqasm.sdk.external`` hand out qnodeos classes; returns the module. ``directory``: where
    each node's service is (its connections are made through it); ``socket_cls`` and ``broadcast_cls``:
    the classical socket and broadcast channel classes (default: netqasm's in-process ones).
    ``simulated``: the nodes are mock devices, so applications may take their simulation branch
    (see :mod:`qnodeos.apps.simulation`)."""
    os.environ["NETQASM_SIMULATOR"] = "debug"
    from netqasm.sdk import external
    from netqasm.sdk.classical_communication.thread_socket.socket import ThreadSocket
    from netqasm.sdk.classical_communication.thread_socket.socket_hub import reset_socket_hub
    from netqasm.sdk.classical_communication.thread_socket.broadcast_channel import ThreadBroadcastChannel
    from netqasm.sdk.shared_memory import SharedMemoryManager

    from .connection import connection_class
    from .qubit_state import get_qubit_state

    from netqasm.sdk.connection import BaseNetQASMConnection

    reset_socket_hub()
    ThreadSocket._COMM_LOGGERS = {}
    BaseNetQASMConnection._app_ids.clear()  # ids of a previous run's (possibly crashed) apps
    SharedMemoryManager.reset_memories()
    external.NetQASMConnection = connection_class(directory)
    external.Socket = socket_cls or ThreadSocket
    external.BroadcastChannel = broadcast_cls or ThreadBroadcastChannel
    external.get_qubit_state = get_qubit_state
    report_simulator(simulated)
    return external


def import_mains(app: AppDir) -> dict[str, Callable[..., Any]]:
    """Each role's ``main``, from the ``app_<role>.py`` files of ``app``, imported afresh (apps of
    different directories share module names).

    Only the application's own modules are forgotten first — the ``app_*`` modules and whatever was
    imported from the directory itself — never a library that merely lives under it (a virtualenv
    inside the application directory keeps its numpy). A module that fails to import, exits, or has no
    ``main`` is an :class:`AppError` naming the file (the original exception is its cause)."""
    for name in [n for n, m in list(sys.modules.items()) if n.startswith("app_") or _from_app_dir(n, m, app.path)]:
        del sys.modules[name]
    root = str(app.path)
    sys.path.insert(0, root)
    try:
        return {role: _import_main(role) for role in app.roles}
    finally:
        sys.path.remove(root)


def _from_app_dir(name: str, module: Any, root: Path) -> bool:
    """Whether ``module`` was found because ``root`` was on ``sys.path``: a module file directly in it,
    or a package directory directly in it (and its submodules)."""
    top = name.partition(".")[0]
    file = getattr(module, "__file__", None)
    places = [Path(file)] if file else []
    places += [Path(p) / "__init__.py" for p in getattr(module, "__path__", None) or []]  # namespace packages
    return any((p.parent == root and name == top) or (root / top) in p.parents for p in places)


def _import_main(role: str) -> Callable[..., Any]:
    file = f"app_{role}.py"
    try:
        module = importlib.import_module(f"app_{role}")
    except KeyboardInterrupt:
        raise
    except SystemExit as exc:
        raise AppError(f"{file}: importing it called sys.exit({exc.code!r})") from exc
    except SyntaxError as exc:  # in a module it imports (its own syntax was checked before)
        where = Path(exc.filename or "?").name
        raise AppError(f"{file}: importing it failed: syntax error in {where} on line {exc.lineno}: {exc.msg}") from exc
    except BaseException as exc:
        raise AppError(f"{file}: importing it failed: {type(exc).__name__}: {exc}") from exc
    main = getattr(module, "main", None)
    if not callable(main):
        raise AppError(f"{file} has no main() function (each app_<role>.py defines main(app_config=None, ...))")
    return main


@dataclass(frozen=True)
class _Limit:
    """When a run's roles must have ended, and what to do about those that have not."""

    deadline: float
    timeout_s: float
    on_deadline: Callable[[], None] | None
    stop_late: bool
    stuck: str


def run_roles(app: AppDir, mains: dict[str, Callable[..., Any]], roles: list[str] | None = None,
              overrides: dict[str, dict[str, Any]] | None = None, timeout_s: float = 300.0,
              on_end: Callable[[str], None] | None = None, log_dir: str | Path | None = None, *,
              scratch_dir: str | Path | None = None,
              deadline: float | None = None, on_deadline: Callable[[], None] | None = None,
              stop_late: bool = True, stuck: str = STUCK_IN_THREADS) -> AppRun:
    """Call each role's ``main`` (``mains``: role -> main) of ``app`` in its own thread; collect return
    values and errors by role. ``roles``: the roles to run (default: all); ``overrides``: role ->
    arguments of its ``main`` on top of its ``<role>.yaml``; ``timeout_s``: wall-clock deadline for
    all of them (unless ``deadline`` is given).

    ``on_end(role)`` runs when a role's ``main`` has returned or raised (its host is done).
    ``log_dir``: the run's log directory (netqasm's subroutine logs, and each role's prints and
    traceback in ``<role>.log``); without one, netqasm's own logs (which applications may ask for, e.g.
    ``get_new_app_logger``) go to ``scratch_dir``, owned and removed by the caller, or else to a
    temporary directory removed on return.
    ``deadline`` (``time.monotonic()`` value; default ``timeout_s`` from now) ends the wait for every
    role at once. A role still running then gets an error; with ``stop_late`` its thread is stopped
    (:mod:`qnodeos.apps.thread_stop`: ``on_deadline()`` is called first, e.g. to shut the network down
    so that roles waiting on it wake up), and a thread that cannot be stopped has ``stuck`` added to its
    error.
    """
    roles = roles or app.roles
    deadline = time.monotonic() + timeout_s if deadline is None else deadline
    limit = _Limit(deadline, timeout_s, on_deadline, stop_late, stuck)
    if log_dir is not None:
        with routed_output(Path(log_dir), roles) as role_logs:
            return _run_threads(app, mains, roles, overrides, limit, str(log_dir), on_end, role_logs)
    if scratch_dir is not None:
        return _run_threads(app, mains, roles, overrides, limit, str(scratch_dir), on_end)
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, ignore_cleanup_errors=True) as scratch:
        return _run_threads(app, mains, roles, overrides, limit, scratch, on_end)


def _run_threads(app: AppDir, mains: dict[str, Callable[..., Any]], roles: list[str],
                 overrides: dict[str, dict[str, Any]] | None, limit: _Limit, logdir: str,
                 on_end: Callable[[str], None] | None = None, role_logs: dict[str, Any] | None = None) -> AppRun:
    from netqasm.runtime.app_config import AppConfig
    from netqasm.sdk.config import LogConfig

    results: dict[str, Any] = {}
    errors: dict[str, str] = {}

    def call(role: str) -> None:
        try:
            inputs = dict(app.inputs.get(role, {}))
            inputs.update((overrides or {}).get(role, {}))
            log_config = LogConfig(log_subroutines_dir=logdir, comm_log_dir=logdir, app_dir=str(app.path))
            config = AppConfig(app_name=role, node_name=app.node_of_role[role], main_func=mains[role],
                               log_config=log_config, inputs=inputs)
            results[role] = mains[role](app_config=config, **inputs)
        except BaseException as exc:  # reported per role; the others keep their results
            results[role] = None
            if isinstance(exc, SystemExit):
                errors[role] = f"main() called sys.exit({exc.code!r})"
            elif not isinstance(exc, RoleStopped):  # a stopped role already has its error
                errors[role] = f"{type(exc).__name__}: {exc}"
            _log.debug("role %s raised", role, exc_info=True)  # shown by `qnodeos --debug`
            if role_logs and role in role_logs:
                role_logs[role].write("".join(traceback.format_exception(exc)))
        finally:
            if on_end is not None:
                on_end(role)

    threads = {role: threading.Thread(target=call, args=(role,), name=f"app-{role}", daemon=True) for role in roles}
    for t in threads.values():
        t.start()
    try:
        late = join_all(threads.values(), limit.deadline)
    except BaseException:  # interrupted (Ctrl-C): the roles must not run on behind the caller's back
        for t in threads.values():
            interrupt(t)
        raise
    for t in late:
        errors[t.name[len("app-"):]] = f"did not finish within the run's deadline ({limit.timeout_s:g} s)"
    if late and limit.stop_late:
        for t in late:
            interrupt(t)
        if limit.on_deadline is not None:
            limit.on_deadline()
        for t in join_all(late, time.monotonic() + STOP_GRACE_S):
            errors[t.name[len("app-"):]] += f"; {limit.stuck}"
    return AppRun(dict(results), dict(errors))


def run_app_dir(path: str | Path, platform: str = defaults.PLATFORM, *, seed: int | None = None,
                preset: str = defaults.PRESET, overrides: dict[str, dict[str, Any]] | None = None,
                timeout_s: float = defaults.TIMEOUT_S, request_timeout_s: float | None = defaults.REQUEST_TIMEOUT_S,
                recv_timeout_s: float = defaults.RECV_TIMEOUT_S, mode: str = defaults.MODE,
                app_output: str | IO[Any] | None = None, device_config: dict[str, Any] | None = None,
                timing: NetworkTiming | None = None, trace: bool = False,
                log_dir: str | Path | None = None, network: NetworkSpec | str | Path | None = None) -> AppRun:
    """Run every role of the application directory ``path`` on a mock network of ``platform``, or on
    ``network``.

    ``seed`` seeds the whole network (a seeded run repeats exactly: outcomes and timelines);
    ``overrides`` (role -> {argument: value}) come on top of each role's ``<role>.yaml`` inputs, as
    ``--input ROLE.NAME=VALUE`` does; ``timeout_s`` is the wall-clock deadline of the whole run.

    Defaults (``preset="realistic"``, ``mode="processes"``, the time-outs) are those of
    :mod:`qnodeos.apps.defaults`, shared with ``qnodeos run APP_DIR``.

    ``mode="threads"``: all nodes in this process (fast); ``mode="processes"``: a device server and
    one OS process per node, talking over TCP. ``app_output``: a file (path, or open file whose
    descriptor the node processes inherit) that receives what the applications print (processes
    mode), instead of this process's standard output.
    ``device_config``: mock-device settings for every node (e.g. ``{"alpha": 0.05}`` on NV).
    ``timing``: latencies, network schedule and entanglement cut-off
    (:class:`qnodeos.network.timing.NetworkTiming`; default: its documented lab-like figures).
    ``request_timeout_s``: simulated seconds an EPR request may wait to be accepted;
    ``recv_timeout_s``: wall-clock seconds a socket receive waits for a peer that may have died.
    ``timeout_s``: the deadline of the whole run (wall-clock seconds, start-up included). A role still
    running then fails with an error and is stopped: in processes mode its node process is killed; in
    threads mode its thread is interrupted (:mod:`qnodeos.apps.thread_stop`), and one blocked outside
    Python code, which cannot be, is named in its error.
    ``trace``: keep each node's timeline in ``run.traces`` (node name -> trace dict).
    ``log_dir``: write the run's logs to ``<log_dir>/<YYYYmmdd-HHMMSS>/`` with a ``LAST`` link, as
    netqasm does (see :mod:`qnodeos.apps.run_logs`; the timelines are kept); ``run.log_dir`` names it.
    ``network``: the nodes' drivers, the links' physics and the timing — a
    :class:`qnodeos.network.spec.NetworkSpec`, or the path of a qnodeos network TOML or a netqasm
    ``network.yaml``; default: the directory's own ``network.yaml`` if it has one (see
    :mod:`qnodeos.apps.app_network`); its Generic nodes take ``platform``.
    """
    from .app_network import app_network

    if mode not in ("threads", "processes"):
        raise QNodeOSError(f"unknown mode {mode!r} (threads or processes)")
    # every file checked (load_app_dir) and the network read before anything is created or started
    spec = app_network(load_app_dir(path), network, platform=platform, preset=preset, device_config=device_config)
    run_dir = new_run_dir(log_dir) if log_dir is not None else None
    keep = trace or run_dir is not None
    # Without a log directory, netqasm's own logs go to one scratch directory of this process (never
    # one per node process: a node that is killed cannot clean up); removed on every way out of here,
    # and by the world process if this process is killed.
    scratch = tempfile.mkdtemp(prefix=SCRATCH_PREFIX) if run_dir is None else None
    try:
        if mode == "processes":
            from .processes import run_app_dir_processes

            run = run_app_dir_processes(path, platform, seed=seed, preset=preset, overrides=overrides,
                                        timeout_s=timeout_s, request_timeout_s=request_timeout_s,
                                        recv_timeout_s=recv_timeout_s, app_output=app_output,
                                        timing=timing, trace=keep, run_dir=run_dir, network=spec,
                                        scratch_dir=scratch)
        else:
            run = _run_threads_mode(path, platform, seed, preset, overrides, timeout_s, request_timeout_s,
                                    recv_timeout_s, spec, timing, keep, run_dir, scratch)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if run_dir is not None:
        write_run(run_dir, run)
        run.log_dir = run_dir
        if not trace:
            run.traces = {}
    return run


def run_app_on_nodes(path: str | Path, services: dict[str, Any], *,
                     overrides: dict[str, dict[str, Any]] | None = None, timeout_s: float = defaults.TIMEOUT_S,
                     recv_timeout_s: float = defaults.RECV_TIMEOUT_S, log_dir: str | Path | None = None,
                     placement: dict[str, str] | None = None) -> AppRun:
    """Run the hosts of the application directory ``path`` in this process against nodes that already
    run as services (``services``: node name -> :class:`qnodeos.network.host_link.RemoteNodeService`, or any
    object with the node service's host API). Each role's host introduces itself to its node, then runs
    unchanged; the nodes keep running afterwards. ``placement`` (role -> node) places roles that the
    directory does not place on a served node (a network's ``[serve.roles]``). ``overrides``,
    ``timeout_s``: as for :func:`run_app_dir`; ``recv_timeout_s``: wall-clock seconds a socket receive
    waits for a peer; ``log_dir``: as for :func:`run_app_dir`."""
    app = load_app_dir(path)
    for role in app.roles:
        if app.node_of_role[role] not in services and role in (placement or {}):
            app.node_of_role[role] = placement[role]  # type: ignore[index]
    missing = sorted({app.node_of_role[r] for r in app.roles} - set(services))
    if missing:
        raise QNodeOSError(f"{app.path}: roles placed on node(s) {missing} that are not among the served nodes "
                           f"{sorted(services)}")
    run_dir = new_run_dir(log_dir) if log_dir is not None else None
    with _RUN_LOCK:
        info = {role: _introduce(services[app.node_of_role[role]], role, app.node_of_role) for role in app.roles}
        first = next(iter(info.values()))
        directory = HostDirectory(app.node_of_role, dict(first["node_ids"]), services,
                                  {i["node"]: i["flavour"] for i in info.values()})
        try:
            bind_netqasm(directory, *socket_classes(directory, recv_timeout_s), simulated=True)
            mains = import_mains(app)
            run = run_roles(app, mains, overrides=overrides, timeout_s=timeout_s, log_dir=run_dir,
                            on_end=lambda role: services[app.node_of_role[role]].host_done(role))
        finally:
            report_simulator(False)
    if run_dir is not None:
        write_run(run_dir, run)
        run.log_dir = run_dir
    return run


def _introduce(service: Any, role: str, node_of_role: dict[str, str]) -> dict[str, Any]:
    """Register ``role``'s host with its (served) node, telling it where the application's roles run."""
    return service.register_host(role, dict(node_of_role))


def _run_threads_mode(path: str | Path, platform: str, seed: int | None, preset: str,
                      overrides: dict[str, dict[str, Any]] | None, timeout_s: float,
                      request_timeout_s: float | None, recv_timeout_s: float, spec: NetworkSpec,
                      timing: NetworkTiming | None, trace: bool, run_dir: Path | None,
                      scratch: str | None) -> AppRun:
    """Every node in this process (see :func:`run_app_dir`)."""
    from .local_network import LocalNetwork

    deadline = time.monotonic() + timeout_s
    app = load_app_dir(path)
    with _RUN_LOCK:
        network = LocalNetwork(platform, app.nodes, seed=seed, preset=preset, request_timeout_s=request_timeout_s,
                               node_of_role=app.node_of_role, timing=timing, spec=spec)
        try:
            bind_netqasm(network.directory, *socket_classes(network.directory, recv_timeout_s),
                         simulated=network.shows_states)
            mains = import_mains(app)
            network.register_hosts(app.roles)
            network.start()
            run = run_roles(app, mains, overrides=overrides, timeout_s=timeout_s, log_dir=run_dir, scratch_dir=scratch,
                            on_end=lambda role: network.directory.service_of_app(role).host_done(role),
                            deadline=deadline, on_deadline=network.stop)
            run.stats = {name: service.stats() for name, service in network.services.items()}
            if trace:
                run.traces = {name: service.snapshot(service.node.trace.to_dict)
                              for name, service in network.services.items()}
        finally:
            network.stop()
            report_simulator(False)  # leave this process as netqasm expects it
        return run


def __getattr__(name: str) -> Any:
    """``repeat_app_dir`` (N runs on warm nodes) lives in :mod:`qnodeos.apps.repeat`; reachable here too."""
    if name == "repeat_app_dir":
        from .repeat import repeat_app_dir

        return repeat_app_dir
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

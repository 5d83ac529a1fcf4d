"""One network node as its own OS process (started by :mod:`qnodeos.apps.processes`).

The parent and the node exchange a few messages over a ``multiprocessing`` pipe: the node's spec in,
its mailbox address out, every node's address in, then one result (return values, errors, stats and,
if asked, the node's timeline). The node runs its own OS loop, drives its device and takes part in the
network's timeline through the world process, and runs the application roles placed on it.

A series of runs (``spec["runs"]``, see :mod:`qnodeos.apps.repeat`) keeps the node up between runs:
for each run the parent says ``("register", i)`` (the node registers its hosts and answers
``"registered"``), then, once every node has, ``("go", i)`` (the roles run; their results come back);
``("end",)`` ends the series and the node sends its final statistics.
"""
from __future__ import annotations

from typing import Any

#: What a role's error adds when its thread could not be stopped at the deadline (processes mode).
STUCK_IN_NODE = "its thread was blocked outside Python code and ends with its node process"


def node_main(spec: dict[str, Any], channel: Any, inherited: list[Any] = ()) -> None:  # type: ignore[assignment]
    """Entry point of a node process; never raises (failures are reported through ``channel``)."""
    import sys

    from .supervision import close_inherited, die_with_parent, leave_interrupts_to_parent

    die_with_parent(spec["parent_pid"])
    leave_interrupts_to_parent()
    close_inherited(inherited)

    from qnodeos.drivers.remote_device import RemoteQDevice
    from qnodeos.drivers.remote_timeline import RemoteTimeline
    from qnodeos.network.mailbox import Mailbox
    from qnodeos.network.service import NodeService
    from qnodeos.node import Node

    from qnodeos.network.world import open_device

    from .connection import HostDirectory
    from .local_network import flavour_of
    from .processes import _schedule
    from .runner import AppError, bind_netqasm, import_mains, load_app_dir, run_roles
    from .sockets import socket_classes

    sys.setswitchinterval(1e-4)  # node loop, mailbox and application threads hand over quickly
    name = spec["node"]
    output = spec.get("app_output")
    if output is not None:  # keep application prints out of the caller's terminal
        import os

        log = open(output, "a", buffering=1) if isinstance(output, str) else open(output, "w", buffering=1,
                                                                                   closefd=False)
        os.dup2(log.fileno(), 1)
        sys.stdout = log
    service = device = None
    mine = [r for r, n in spec["node_of_role"].items() if n == name]
    payload: dict[str, Any] = {"results": {}, "errors": {}, "stats": {}}
    try:
        mailbox = Mailbox(name, keys=spec.get("keys"))
        channel.send({"mailbox": mailbox.address})
        peers: dict[str, str] = channel.recv()["peers"]
        for peer, address in peers.items():
            if peer != name:
                mailbox.connect(peer, address)
        world = spec["world"]
        if spec.get("device_access"):  # a shim node: its driver, to the controller the world emulates
            device = open_device(name, spec["device_access"])
        else:  # a mock node: its device in the world process
            device = RemoteQDevice(world["device"], timeout_s=spec.get("device_timeout_s", 30.0),
                                   keys=spec["world_keys"])
        timeline = RemoteTimeline(name, world["sync"], world["control"], keys=spec["world_keys"])
        node_of_role = spec["node_of_role"]
        service = NodeService(Node(device, name=name), mailbox, spec["node_ids"], coordinator=timeline,
                              schedule=_schedule(spec["schedule"]), timing=spec["timing"], node_of_app=node_of_role,
                              request_timeout_s=spec["request_timeout_s"], seed=spec.get("seed"))
        directory = HostDirectory(node_of_role, spec["node_ids"], {name: service}, {name: flavour_of(device)})
        # applications inspect states only where every node's device shows them (mocks, not controller
        # shims), so that all roles take the same branch
        simulated = bool(spec.get("shows_states", True)) and hasattr(device, "density_matrix")
        app = load_app_dir(spec["app_dir"])
        roles = [r for r in app.roles if node_of_role[r] == name]
        if spec.get("runs") is not None:
            _series(spec, channel, service, directory, app, roles, simulated)
            payload["stats"] = service.stats()
        else:
            bind_netqasm(directory, *socket_classes(directory, spec["recv_timeout_s"]), simulated=simulated)
            mains = import_mains(app)
            for role in roles:
                service.register_host(role)
            service.start()
            run = run_roles(app, mains, roles=roles, overrides=spec.get("overrides"), timeout_s=spec["timeout_s"],
                            on_end=service.host_done, log_dir=spec.get("run_dir"),
                            scratch_dir=spec.get("scratch_dir"), deadline=spec.get("deadline"),
                            on_deadline=service.stop, stuck=STUCK_IN_NODE)
            payload = {"results": run.results, "errors": run.errors, "stats": service.stats()}
        if spec.get("trace"):
            payload["trace"] = service.snapshot(service.node.trace.to_dict)
    except BaseException as exc:  # report instead of dying silently, as the error of each role here
        why = str(exc) if isinstance(exc, AppError) else f"node {name} failed: {type(exc).__name__}: {exc}"
        if isinstance(exc, AppError):  # the application cannot even be imported: no role ran
            payload["app_error"] = why
        payload["results"] = {role: payload["results"].get(role) for role in mine}
        payload["errors"] = {role: payload["errors"].get(role, why) for role in mine}
    _send_payload(channel, name, payload)
    if service is not None:
        service.stop()
    if device is not None:
        device.close()


def _send_payload(channel: Any, name: str, payload: dict[str, Any]) -> None:
    try:
        channel.send(payload)
    except Exception as exc:  # an unpicklable return value: keep its text
        payload["results"] = {k: repr(v) for k, v in payload["results"].items()}
        payload["errors"][f"{name}/result"] = f"return value not transferable: {exc}"
        channel.send(payload)


def _series(spec: dict[str, Any], channel: Any, service: Any, directory: Any, app: Any, roles: list[str],
            simulated: bool) -> None:
    """The node's side of a series of runs (see the module docstring); returns when told ``("end",)``
    or when the parent goes away."""
    from .repeat import series_logs

    # without a log directory, the runner's scratch directory (a killed node could not remove its own)
    with series_logs(spec.get("run_dir") or spec.get("scratch_dir")) as logs:
        _series_runs(spec, channel, service, directory, app, roles, simulated, logs)


def _series_runs(spec: dict[str, Any], channel: Any, service: Any, directory: Any, app: Any, roles: list[str],
                 simulated: bool, logs: Any) -> None:
    from .repeat import mark_role_logs, still_running
    from .runner import bind_netqasm, import_mains, run_roles
    from .sockets import socket_classes

    name = service.name
    mains = None
    while True:
        try:
            command = channel.recv()
        except EOFError:
            return
        if not (isinstance(command, tuple) and len(command) == 2 and command[0] == "register"):
            return
        index = command[1]
        try:
            bind_netqasm(directory, *socket_classes(directory, spec["recv_timeout_s"]), simulated=simulated)
            if mains is None:  # imported once, called once per run (as `netqasm simulate --num`)
                mains = import_mains(app)
            mark_role_logs(spec.get("run_dir"), roles, index)
            for role in roles:  # registered (running) before any host of any node starts
                service.register_host(role)
        except BaseException as exc:
            channel.send({"error": f"node {name} could not start run {index}: {type(exc).__name__}: {exc}"})
            return
        channel.send("registered")
        if channel.recv() != ("go", index):
            return
        if not service.alive:
            service.start()
        run = run_roles(app, mains, roles=roles, overrides=spec.get("overrides"), timeout_s=spec["timeout_s"],
                        on_end=service.host_done, log_dir=logs, stuck=STUCK_IN_NODE)
        _send_payload(channel, name, {"results": run.results, "errors": run.errors, "stats": {},
                                      "stuck": still_running(roles)})

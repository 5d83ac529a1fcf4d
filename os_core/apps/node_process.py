"""One network node as its own OS process (started by :mod:`qnodeos.apps.processes`).

The parent and the node exchange a few messages over a ``multiprocessing`` pipe: the node's spec in,
its mailbox address out, every node's address in, then one result (return values, errors, stats).
The node runs its own OS loop, drives its device through the device server, and runs the application
roles placed on it.
"""
from __future__ import annotations

from typing import Any


def node_main(spec: dict[str, Any], channel: Any) -> None:
    """Entry point of a node process; never raises (failures are reported through ``channel``)."""
    from qnodeos.drivers.remote_device import RemoteQDevice
    from qnodeos.network.mailbox import Mailbox
    from qnodeos.network.service import NodeService
    from qnodeos.node import Node

    from .connection import HostDirectory
    from .runner import bind_netqasm, import_mains, load_app_dir, run_roles
    from .sockets import AppMessageRouter, socket_classes

    import sys

    sys.setswitchinterval(1e-4)  # node loop, mailbox and application threads hand over quickly
    name = spec["node"]
    if spec.get("app_output"):  # keep application prints out of the caller's terminal
        import os

        log = open(spec["app_output"], "a", buffering=1)
        os.dup2(log.fileno(), 1)
        sys.stdout = log
    service = None
    payload: dict[str, Any] = {"results": {}, "errors": {}, "stats": {}}
    try:
        mailbox = Mailbox(name, keys=spec.get("keys"))
        channel.send({"mailbox": mailbox.address})
        peers: dict[str, str] = channel.recv()["peers"]
        for peer, address in peers.items():
            if peer != name:
                mailbox.connect(peer, address)
        device = RemoteQDevice(spec["device"], timeout_s=spec.get("device_timeout_s", 30.0))
        service = NodeService(Node(device, name=name), mailbox, spec["node_ids"],
                              request_timeout_s=spec["request_timeout_s"], seed=spec.get("seed")).start()
        node_of_role = spec["node_of_role"]
        directory = HostDirectory(node_of_role, spec["node_ids"], {name: service}, {name: spec["flavour"]})
        router = AppMessageRouter({name: mailbox}, node_of_role, spec["recv_timeout_s"])
        bind_netqasm(directory, *socket_classes(router))
        app = load_app_dir(spec["app_dir"])
        mains = import_mains(app)
        roles = [r for r in app.roles if node_of_role[r] == name]
        run = run_roles(app, mains, roles=roles, overrides=spec.get("overrides"), timeout_s=spec["timeout_s"])
        payload = {"results": run.results, "errors": run.errors, "stats": service.call(service.node.stats)}
    except BaseException as exc:  # report instead of dying silently
        payload["errors"][name] = f"node {name} failed: {type(exc).__name__}: {exc}"
    try:
        channel.send(payload)
    except Exception as exc:  # an unpicklable return value: keep its text
        payload["results"] = {k: repr(v) for k, v in payload["results"].items()}
        payload["errors"][f"{name}/result"] = f"return value not transferable: {exc}"
        channel.send(payload)
    if service is not None:
        service.stop()

"""Run an application directory with every node in its own OS process, talking over TCP on loopback.

Layout: one device-server process holds the mock devices and their heralding stations (so entangled
states stay physically consistent in one place); one process per node runs that node's OS and the
application roles placed on it; nodes reach each other through their ZeroMQ mailboxes and their
devices through the device server. Processes are forked from this one (so start-up costs no imports)
and are always reaped on the way out.
"""
from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

from ..errors import QNodeOSError
from ..network.keys import network_keys
from . import defaults
from .local_network import APP_DEVICE_SIZE, PLATFORM_FLAVOUR
from .node_process import node_main
from .runner import AppRun, load_app_dir

_CTX = multiprocessing.get_context("fork")


def _device_server_main(platform: str, nodes: list[str], seed: int | None, preset: str,
                        device_config: dict[str, Any], channel: Any) -> None:
    import sys

    from qnodeos.drivers.device_server import DeviceServer
    from qnodeos.drivers.mock_network import build_mock_network

    # Its threads mostly wait on sockets; hand the interpreter lock over quickly when one wakes, so a
    # heralding rendezvous answers the second node without a 5 ms scheduling delay.
    sys.setswitchinterval(1e-4)
    try:
        devices = build_mock_network(platform, nodes, seed=seed, preset=preset,
                                     **{**APP_DEVICE_SIZE[platform], **device_config})
        server = DeviceServer(devices).start()
        channel.send(server.addresses)
    except BaseException as exc:
        channel.send({"error": f"{type(exc).__name__}: {exc}"})
        return
    channel.recv()  # serve until the parent says stop (or goes away)
    server.close()


def _recv(channel: Any, what: str, deadline: float) -> Any:
    left = deadline - time.monotonic()
    if left <= 0 or not channel.poll(left):
        raise QNodeOSError(f"{what}: no answer before the deadline")
    try:
        return channel.recv()
    except EOFError:
        raise QNodeOSError(f"{what}: the process died without answering (killed or crashed)") from None


def run_app_dir_processes(path: str | Path, platform: str = defaults.PLATFORM, *, seed: int | None = None,
                          preset: str = defaults.PRESET, overrides: dict[str, dict[str, Any]] | None = None,
                          timeout_s: float = defaults.TIMEOUT_S, request_timeout_s: float = defaults.REQUEST_TIMEOUT_S,
                          recv_timeout_s: float = defaults.RECV_TIMEOUT_S, app_output: str | None = None,
                          device_config: dict[str, Any] | None = None) -> AppRun:
    """Like :func:`qnodeos.apps.runner.run_app_dir`, with a device server and one process per node."""
    app = load_app_dir(path)
    if platform not in PLATFORM_FLAVOUR:
        raise QNodeOSError(f"unknown platform {platform!r} (nv or trapped_ion)")
    nodes = app.nodes
    deadline = time.monotonic() + timeout_s + 30
    procs: list[Any] = []
    server_end, server_child = _CTX.Pipe()
    try:
        server = _CTX.Process(target=_device_server_main, args=(platform, nodes, seed, preset, device_config or {}, server_child),
                              name="qnodeos-device-server", daemon=True)
        server.start()
        server_child.close()  # only the child keeps it: its death then reads as EOF here
        procs.append(server)
        addresses = _recv(server_end, "device server", deadline)
        if "error" in addresses:
            raise QNodeOSError(f"device server: {addresses['error']}")
        node_ids = {n: i for i, n in enumerate(nodes)}
        keys = network_keys(nodes)  # each node process gets its own secret and its peers' public keys
        channels = {}
        for i, name in enumerate(nodes):
            parent_end, child_end = _CTX.Pipe()
            spec = {"node": name, "device": addresses[name], "node_ids": node_ids,
                    "node_of_role": app.node_of_role, "flavour": PLATFORM_FLAVOUR[platform],
                    "app_dir": str(app.path), "overrides": overrides or {}, "timeout_s": timeout_s,
                    "request_timeout_s": request_timeout_s, "recv_timeout_s": recv_timeout_s,
                    "seed": None if seed is None else seed * 7919 + i, "app_output": app_output,
                    "keys": keys[name]}
            proc = _CTX.Process(target=node_main, args=(spec, child_end), name=f"qnodeos-node-{name}", daemon=True)
            proc.start()
            child_end.close()
            procs.append(proc)
            channels[name] = parent_end
        mailboxes = {n: _recv(c, f"node {n}", deadline)["mailbox"] for n, c in channels.items()}
        for channel in channels.values():
            channel.send({"peers": mailboxes})
        run = AppRun(results={}, errors={}, stats={})
        for name, channel in channels.items():
            try:
                payload = _recv(channel, f"node {name}", deadline)
            except QNodeOSError as exc:
                run.errors[name] = str(exc)
                continue
            run.results.update(payload["results"])
            run.errors.update(payload["errors"])
            run.stats[name] = payload["stats"]
        return run
    finally:
        try:
            server_end.send("stop")
        except (OSError, ValueError):
            pass
        for proc in procs:
            proc.join(timeout=2)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=2)

"""Serve a mock network's world over ZeroMQ, so that nodes in separate OS processes share it.

Mock devices on different nodes share the joint state of the pairs they entangle, and one timeline
orders every node's events; this process holds those devices, their heralding stations and the
timeline. Each node gets three sockets, each with its own thread: its device (driven through
:class:`~qnodeos.drivers.remote_device.RemoteQDevice`), its timeline turn (``sync``, which blocks until
the node's turn) and a control socket (``leave``). With keys (:mod:`.world_auth`) every socket admits
only its own node's key. A serving loop answers every request — a malformed one gets an error reply —
and never dies of what a client sends.

    python -m qnodeos.drivers.device_server --platform nv --nodes alice,bob --seed 1
prints one JSON line with each node's addresses, then serves until its standard input closes.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from functools import partial
from typing import Any, Callable, Iterable

import msgpack
import numpy as np
import zmq

from qnodeos.hal import QDevice
from qnodeos.hal.instructions import from_dict
from qnodeos.hal.timeline import LeftNetwork

from .mock_network import MockWorld, build_mock_world
from .remote_timeline import grant_to_wire, report_from_wire
from .wire import response_to_wire
from .world_auth import ServerKeys, WorldAuthenticator

MAX_REQUEST_BYTES = 4 << 20  # no legitimate request comes near this


class DeviceServer:
    """Per node: a device socket, a timeline socket and a control socket (msgpack maps with ``op``)."""

    def __init__(self, world: MockWorld | dict[str, QDevice], host: str = "127.0.0.1",
                 keys: ServerKeys | None = None, device_nodes: Iterable[str] | None = None,
                 endpoints: dict[str, dict[str, str]] | None = None, liveness_s: float | None = None) -> None:
        """``device_nodes``: the nodes whose device this server drives (default: all); the others reach
        their device another way (a controller shim to emulated firmware) and get only the timeline.
        ``endpoints``: fixed addresses per node and socket (``device``, ``sync``, ``control``; default:
        free ports on ``host``). ``liveness_s``: a node that has said it is alive (``alive`` on its
        control socket) and then stays silent this long has left (its process died): its peers stop
        waiting for it."""
        self.world = world if isinstance(world, MockWorld) else None
        self.devices = world.devices if isinstance(world, MockWorld) else dict(world)
        # CURVE needs its own context: its authenticator answers for every socket of the context.
        self._ctx = zmq.Context() if keys is not None else zmq.Context.instance()
        self._auth = WorldAuthenticator(self._ctx, keys) if keys is not None else None
        self._stop = threading.Event()
        self.addresses: dict[str, dict[str, str]] = {}
        self.errors = 0  # requests answered with an error (malformed, refused)
        self._threads: list[threading.Thread] = []
        self._liveness_s = liveness_s
        #: the network schedule as plain data (link "a|b" -> period, bin, offset, attempt, overhead),
        #: for nodes that ask for it (served networks)
        self.schedule: dict[str, list[int]] = {}
        self._alive: dict[str, float] = {}  # node -> when it last said it is alive
        served = set(self.devices if device_nodes is None else device_nodes)
        for name, device in self.devices.items():
            handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
            if name in served:
                handlers["device"] = partial(self._device_op, device)
            if self.world is not None:
                handlers["sync"] = partial(self._sync, name)
                handlers["control"] = partial(self._control, name)
            self.addresses[name] = {}
            for role, handler in handlers.items():
                sock = self._ctx.socket(zmq.REP)
                sock.setsockopt(zmq.LINGER, 0)
                sock.setsockopt(zmq.MAXMSGSIZE, MAX_REQUEST_BYTES)
                if self._auth is not None:
                    self._auth.serve(sock, name)
                sock.bind((endpoints or {}).get(name, {}).get(role) or f"tcp://{host}:*")
                self.addresses[name][role] = sock.getsockopt_string(zmq.LAST_ENDPOINT)
                self._threads.append(threading.Thread(target=self._serve, args=(sock, handler), daemon=True,
                                                      name=f"world-{role}-{name}"))

    @property
    def refused(self) -> int:
        """Connection attempts refused at the handshake (wrong or missing key)."""
        return self._auth.refused if self._auth is not None else 0

    def start(self) -> "DeviceServer":
        for t in self._threads:
            t.start()
        if self._liveness_s is not None and self.world is not None:
            threading.Thread(target=self._watch_liveness, name="world-liveness", daemon=True).start()
        return self

    def _watch_liveness(self) -> None:
        while not self._stop.wait(min(1.0, self._liveness_s / 4)):  # type: ignore[operator]
            now = time.monotonic()
            for node, seen in list(self._alive.items()):
                if now - seen > self._liveness_s:  # type: ignore[operator]
                    del self._alive[node]
                    self.world.timeline.leave(node)  # type: ignore[union-attr]

    def _serve(self, sock: zmq.Socket, handler: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        while not self._stop.is_set():
            try:
                if not poller.poll(100):
                    continue
                frames = sock.recv_multipart()
            except zmq.ZMQError:
                if self._stop.is_set():
                    break
                continue
            try:
                if len(frames) != 1:
                    raise ValueError(f"expected one frame, got {len(frames)}")
                request = msgpack.unpackb(frames[0], raw=False)
                if not isinstance(request, dict):
                    raise ValueError("a request is a map")
                reply = handler(request)
            except Exception as exc:  # report, never die: the node turns this into a DeviceFault
                self.errors += 1
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            try:
                sock.send(msgpack.packb(reply, use_bin_type=True))
            except (zmq.ZMQError, TypeError, ValueError) as exc:
                self.errors += 1
                try:
                    sock.send(msgpack.packb({"error": f"reply not sendable: {exc}"}, use_bin_type=True))
                except zmq.ZMQError:
                    pass
        sock.close(0)

    @staticmethod
    def _device_op(device: QDevice, request: dict[str, Any]) -> dict[str, Any]:
        op = request["op"]
        if op == "execute":
            return {"r": response_to_wire(device.execute(from_dict(request["i"])))}
        if op == "execute_many":
            return {"r": [response_to_wire(r) for r in device.execute_many([from_dict(i) for i in request["i"]])]}
        if op == "capabilities":
            return {"c": device.capabilities.to_dict(), "simulated": bool(getattr(device, "simulated", False)),
                    "node": device.node}
        if op == "now":
            return {"t": device.now_ns}
        if op == "reset":
            device.reset()
            return {}
        if op == "density_matrix":
            rho = np.asarray(device.density_matrix(request["q"]), dtype=np.complex128)  # type: ignore[attr-defined]
            return {"shape": list(rho.shape), "data": rho.tobytes()}
        if op == "joint_density_matrix":
            return _joint(device, int(request["q"]))
        raise ValueError(f"unknown device-server operation {op!r}")

    def _sync(self, node: str, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("op") != "sync" or request.get("node") != node:
            raise ValueError("this socket serves 'sync' for its own node only")
        timeout = request.get("timeout")
        try:
            grant = self.world.timeline.sync(node, report_from_wire(request["report"]),  # type: ignore[union-attr]
                                             timeout_s=None if timeout is None else float(timeout))
        except LeftNetwork:
            return {"left": True}
        return {"grant": grant_to_wire(grant)}

    def _control(self, node: str, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("node") != node or request.get("op") not in ("leave", "wake", "sent", "alive", "schedule"):
            raise ValueError("this socket serves 'leave', 'wake', 'sent', 'alive' and 'schedule' for its own node only")
        if request["op"] == "alive":
            self._alive[node] = time.monotonic()
            return {}
        if request["op"] == "schedule":
            return {"schedule": self.schedule}
        if request["op"] == "wake":
            return {"now": self.world.timeline.wake(node)}  # type: ignore[union-attr]
        if request["op"] == "sent":
            sent = report_from_wire({"qnpu": None, "host": None, "attempts": [], "sent": request["sent"]}).sent
            self.world.timeline.note_sent(node, sent)  # type: ignore[union-attr]
            return {}
        report = request.get("report")
        self.world.timeline.leave(node, None if report is None else report_from_wire(report))  # type: ignore[union-attr]
        return {}

    def close(self) -> None:
        self._stop.set()
        if self.world is not None:
            self.world.timeline.leave_all()
        for t in self._threads:
            t.join(timeout=1)
        if self._auth is not None:
            self._auth.stop()


def _joint(device: Any, qubit: int) -> dict[str, Any]:
    """The state of ``qubit`` together with every qubit it shares a register with (any node)."""
    space = device.state_space
    rho = np.asarray(space.density_matrix(list(space.register_of(device.state_handle(qubit)))), dtype=np.complex128)
    return {"shape": list(rho.shape), "data": rho.tobytes()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Serve a mock quantum network's world over ZeroMQ.")
    ap.add_argument("--platform", default="nv", choices=["nv", "trapped_ion"])
    ap.add_argument("--nodes", required=True, help="comma-separated node names")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--preset", default="realistic")
    ap.add_argument("--config", default="{}", help="JSON object of device config overrides")
    args = ap.parse_args(argv)
    world = build_mock_world(args.platform, args.nodes.split(","), args.seed, args.preset, **json.loads(args.config))
    server = DeviceServer(world).start()
    print(json.dumps(server.addresses), flush=True)
    try:
        sys.stdin.read()  # serve until our parent closes stdin or kills us
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Serve QDevices over ZeroMQ so that nodes in separate OS processes share one physical world.

Mock devices on different nodes must share the joint state of the pairs they entangle; this process
holds those devices (and their heralding stations) and lets each node drive its own device remotely
through :class:`~qnodeos.drivers.remote_device.RemoteQDevice`. Each node gets its own REP socket and
thread, so one node blocking in an entanglement rendezvous never stalls another.

    python -m qnodeos.drivers.device_server --platform nv --nodes alice,bob --seed 1
prints one JSON line with the node → address map, then serves until killed.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import Any

import msgpack
import numpy as np
import zmq

from qnodeos.hal import QDevice
from qnodeos.hal.instructions import from_dict

from .mock_network import build_mock_network
from .wire import response_to_wire


class DeviceServer:
    """One REP endpoint per device; requests are msgpack maps with an ``op``."""

    def __init__(self, devices: dict[str, QDevice], host: str = "127.0.0.1",
                 context: zmq.Context | None = None) -> None:
        self.devices = devices
        self._ctx = context or zmq.Context.instance()
        self._stop = threading.Event()
        self._sockets: dict[str, zmq.Socket] = {}
        self.addresses: dict[str, str] = {}
        for name in devices:
            sock = self._ctx.socket(zmq.REP)
            sock.setsockopt(zmq.LINGER, 0)
            sock.bind(f"tcp://{host}:*")
            self._sockets[name] = sock
            self.addresses[name] = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self._threads = [threading.Thread(target=self._serve, args=(name,), daemon=True, name=f"qdev-{name}")
                         for name in devices]

    def start(self) -> "DeviceServer":
        for t in self._threads:
            t.start()
        return self

    def _serve(self, name: str) -> None:
        sock, device = self._sockets[name], self.devices[name]
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        while not self._stop.is_set():
            if not poller.poll(100):
                continue
            try:
                request = msgpack.unpackb(sock.recv(), raw=False)
                reply = self._handle(device, request)
            except Exception as exc:  # report, never die: the node turns this into a DeviceFault
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            sock.send(msgpack.packb(reply, use_bin_type=True))
        sock.close(0)

    @staticmethod
    def _handle(device: QDevice, request: dict[str, Any]) -> dict[str, Any]:
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
        raise ValueError(f"unknown device-server operation {op!r}")

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Serve mock QDevices of a quantum network over ZeroMQ.")
    ap.add_argument("--platform", default="nv", choices=["nv", "trapped_ion"])
    ap.add_argument("--nodes", required=True, help="comma-separated node names")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--preset", default="realistic")
    ap.add_argument("--config", default="{}", help="JSON object of device config overrides")
    args = ap.parse_args(argv)
    devices = build_mock_network(args.platform, args.nodes.split(","), args.seed, args.preset,
                                 **json.loads(args.config))
    server = DeviceServer(devices).start()
    print(json.dumps(server.addresses), flush=True)
    try:
        sys.stdin.read()  # serve until our parent closes stdin or kills us
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

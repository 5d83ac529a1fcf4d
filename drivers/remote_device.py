"""A QDevice driven over ZeroMQ (the client side of :mod:`qnodeos.drivers.device_server`)."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import msgpack
import numpy as np
import zmq

from qnodeos.hal import Capabilities, DeviceFault, DeviceTimeout, PhysicalInstruction, QDevice, Response
from qnodeos.hal.instructions import to_dict

from .wire import response_from_wire
from .world_auth import ClientKeys, secure_client


class RemoteQDevice(QDevice):
    """Forwards every call to a device server; transport failures become DeviceFault/DeviceTimeout
    naming the address and the operation."""

    def __init__(self, address: str, timeout_s: float = 30.0, context: zmq.Context | None = None,
                 keys: ClientKeys | None = None) -> None:
        self.address = address
        self._timeout_ms = int(timeout_s * 1000)
        self._ctx = context or zmq.Context.instance()
        self._keys = keys
        self._sock = self._connect()
        info = self._call({"op": "capabilities"})
        self._caps = Capabilities.from_dict(info["c"])
        self.simulated = bool(info["simulated"])
        self.node = info["node"]
        # Only this client drives the device, so the clock is known from the responses: no round trip.
        self._now = int(self._call({"op": "now"})["t"])

    def _connect(self) -> zmq.Socket:
        sock = self._ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, self._timeout_ms)
        sock.setsockopt(zmq.SNDTIMEO, self._timeout_ms)
        secure_client(sock, self._keys)
        sock.connect(self.address)
        return sock

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            self._sock.send(msgpack.packb(request, use_bin_type=True))
            reply = msgpack.unpackb(self._sock.recv(), raw=False)
        except zmq.Again:
            self._sock.close(0)  # a REQ socket that missed its reply is unusable: start afresh
            self._sock = self._connect()
            raise DeviceTimeout(f"device server {self.address}: no answer to {request['op']!r} "
                                f"within {self._timeout_ms / 1000:g} s") from None
        except zmq.ZMQError as exc:
            raise DeviceFault(f"device server {self.address}: {request['op']!r} failed: {exc}") from None
        if "error" in reply:
            raise DeviceFault(f"device server {self.address}: {request['op']!r} failed: {reply['error']}")
        return reply

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    @property
    def now_ns(self) -> int:
        return self._now

    def execute(self, instruction: PhysicalInstruction) -> Response:
        resp = response_from_wire(self._call({"op": "execute", "i": to_dict(instruction)})["r"])
        self._now = max(self._now, resp.end_ns)
        return resp

    def execute_many(self, instructions: Iterable[PhysicalInstruction]) -> list[Response]:
        reply = self._call({"op": "execute_many", "i": [to_dict(i) for i in instructions]})
        out = [response_from_wire(r) for r in reply["r"]]
        if out:
            self._now = max(self._now, out[-1].end_ns)
        return out

    def reset(self) -> None:
        self._call({"op": "reset"})

    def density_matrix(self, qubits: Sequence[int]) -> np.ndarray:
        reply = self._call({"op": "density_matrix", "q": list(qubits)})
        return np.frombuffer(reply["data"], dtype=np.complex128).reshape(reply["shape"]).copy()

    def joint_density_matrix(self, qubit: int) -> np.ndarray:
        """``qubit``'s state with every qubit (on any node) it shares a register with."""
        reply = self._call({"op": "joint_density_matrix", "q": int(qubit)})
        return np.frombuffer(reply["data"], dtype=np.complex128).reshape(reply["shape"]).copy()

    def close(self) -> None:
        self._sock.close(0)

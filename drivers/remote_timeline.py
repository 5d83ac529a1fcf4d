"""The timeline of a world in another process: the client a node uses, and the wire format.

:class:`RemoteTimeline` implements :class:`~qnodeos.hal.timeline.TimeCoordinator` by forwarding to a
:class:`~qnodeos.drivers.device_server.DeviceServer` over ZeroMQ (CURVE-authenticated with the run's
keys). ``sync`` blocks on its own socket until the node's turn; ``leave`` goes over a second socket so
that it can interrupt a waiting ``sync``.
"""
from __future__ import annotations

import math
import threading
from typing import Any

import msgpack
import zmq

from qnodeos.hal import DeviceFault, DeviceTimeout
from qnodeos.hal.timeline import Delivery, Grant, Herald, LeftNetwork, SentMessage, StandingAttempt, SyncReport

from .world_auth import ClientKeys, secure_client


def report_to_wire(report: SyncReport) -> dict[str, Any]:
    return {"qnpu": report.qnpu_ns, "host": report.host_ns,
            "sent": [[m.dest, m.seq, m.deliver_ns, m.host] for m in report.sent],
            "attempts": [[a.peer, a.since_ns, a.tag, a.qubit] for a in report.attempts], "now": report.now_ns}


def report_from_wire(data: dict[str, Any]) -> SyncReport:
    def opt_int(x: Any) -> int | None:
        if x is None:
            return None
        if isinstance(x, bool) or not isinstance(x, int):
            raise ValueError("a time must be an integer")
        return x

    sent = tuple(SentMessage(str(d), int(s), int(t), bool(h)) for d, s, t, h in data["sent"])
    attempts = tuple(StandingAttempt(str(p), int(s), str(tag), int(q)) for p, s, tag, q in data["attempts"])
    return SyncReport(opt_int(data["qnpu"]), opt_int(data["host"]), sent, attempts, int(data.get("now") or 0))


def grant_to_wire(grant: Grant) -> dict[str, Any]:
    return {"now": grant.now_ns, "bound": None if math.isinf(grant.bound_ns) else int(grant.bound_ns),
            "incl": grant.inclusive, "quiet": grant.quiescent, "gone": list(grant.gone),
            "deliveries": [[d.src, d.seq, d.deliver_ns, d.host] for d in grant.deliveries],
            "heralds": [[h.peer, h.tag, h.since_ns, h.herald_ns] for h in grant.heralds]}


def grant_from_wire(data: dict[str, Any]) -> Grant:
    bound = math.inf if data["bound"] is None else float(data["bound"])
    return Grant(int(data["now"]), bound, bool(data["incl"]),
                 tuple(Delivery(str(s), int(q), int(t), bool(h)) for s, q, t, h in data["deliveries"]),
                 tuple(Herald(str(p), str(tag), int(s), int(t)) for p, tag, s, t in data["heralds"]),
                 tuple(str(g) for g in data["gone"]), bool(data["quiet"]))


class RemoteTimeline:
    """The time coordinator of a world served at ``sync_address`` / ``control_address``."""

    def __init__(self, node: str, sync_address: str, control_address: str, keys: ClientKeys | None = None,
                 context: zmq.Context | None = None) -> None:
        self.node = node
        self._ctx = context or zmq.Context.instance()
        self._keys = keys
        self._sync_address, self._control_address = sync_address, control_address
        self._sync = self._socket(sync_address)
        self._lock = threading.Lock()

    def _socket(self, address: str, timeout_ms: int | None = None) -> zmq.Socket:
        sock = self._ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        secure_client(sock, self._keys)
        if timeout_ms is not None:
            sock.setsockopt(zmq.RCVTIMEO, timeout_ms)
            sock.setsockopt(zmq.SNDTIMEO, timeout_ms)
        sock.connect(address)
        return sock

    def sync(self, node: str, report: SyncReport, timeout_s: float | None = None) -> Grant:
        with self._lock:
            wait_ms = -1 if timeout_s is None else int(timeout_s * 1000) + 5000
            self._sync.setsockopt(zmq.RCVTIMEO, wait_ms)
            try:
                self._sync.send(msgpack.packb({"op": "sync", "node": node, "report": report_to_wire(report),
                                               "timeout": timeout_s}, use_bin_type=True))
                reply = msgpack.unpackb(self._sync.recv(), raw=False)
            except zmq.Again:
                self._sync.close(0)
                self._sync = self._socket(self._sync_address)
                raise DeviceTimeout(f"world timeline at {self._sync_address}: no turn for node {node!r} "
                                    f"within {timeout_s:g} s (wall clock)") from None
            except zmq.ZMQError as exc:
                raise DeviceFault(f"world timeline at {self._sync_address}: {exc}") from None
        if reply.get("left"):
            raise LeftNetwork(f"node {node!r} has left the network")
        if "error" in reply:
            raise DeviceFault(f"world timeline at {self._sync_address}: {reply['error']}")
        return grant_from_wire(reply["grant"])

    def leave(self, node: str, report: SyncReport | None = None) -> None:
        sock = self._socket(self._control_address, timeout_ms=2000)
        try:
            sock.send(msgpack.packb({"op": "leave", "node": node,
                                     "report": None if report is None else report_to_wire(report)},
                                    use_bin_type=True))
            sock.recv()
        except zmq.ZMQError:
            pass  # the world is gone already: nothing left to leave
        finally:
            sock.close(0)

    def note_sent(self, node: str, sent: tuple[SentMessage, ...]) -> None:
        sock = self._socket(self._control_address, timeout_ms=10_000)
        try:
            sock.send(msgpack.packb({"op": "sent", "node": node,
                                     "sent": [[m.dest, m.seq, m.deliver_ns, m.host] for m in sent]}, use_bin_type=True))
            sock.recv()
        except zmq.ZMQError as exc:
            raise DeviceFault(f"world timeline at {self._control_address}: {exc}") from None
        finally:
            sock.close(0)

    def wake(self, node: str) -> int:
        sock = self._socket(self._control_address, timeout_ms=10_000)
        try:
            sock.send(msgpack.packb({"op": "wake", "node": node}, use_bin_type=True))
            reply = msgpack.unpackb(sock.recv(), raw=False)
        except zmq.ZMQError as exc:
            raise DeviceFault(f"world timeline at {self._control_address}: {exc}") from None
        finally:
            sock.close(0)
        if "error" in reply:
            raise DeviceFault(f"world timeline at {self._control_address}: {reply['error']}")
        return int(reply["now"])

    def schedule(self) -> dict[str, list[int]]:
        """The network schedule the world uses (link "a|b" -> period, bin, offset, attempt, overhead)."""
        sock = self._socket(self._control_address, timeout_ms=10_000)
        try:
            sock.send(msgpack.packb({"op": "schedule", "node": self.node}, use_bin_type=True))
            reply = msgpack.unpackb(sock.recv(), raw=False)
        except zmq.ZMQError as exc:
            raise DeviceFault(f"world at {self._control_address}: no schedule: {exc}") from None
        finally:
            sock.close(0)
        if "error" in reply:
            raise DeviceFault(f"world at {self._control_address}: {reply['error']}")
        return dict(reply["schedule"])

    def keep_alive(self, node: str, every_s: float = 1.0) -> threading.Event:
        """Tell the world every ``every_s`` that ``node`` is alive (a served node: the world takes a
        node that falls silent as gone); set the returned event to stop."""
        stop = threading.Event()

        def beat() -> None:
            sock = self._socket(self._control_address, timeout_ms=int(every_s * 3000))
            try:
                while not stop.is_set():
                    try:
                        sock.send(msgpack.packb({"op": "alive", "node": node}, use_bin_type=True))
                        sock.recv()
                    except zmq.ZMQError:
                        sock.close(0)
                        sock = self._socket(self._control_address, timeout_ms=int(every_s * 3000))
                    stop.wait(every_s)
            finally:
                sock.close(0)

        threading.Thread(target=beat, name=f"alive-{node}", daemon=True).start()
        return stop

    def close(self) -> None:
        self._sync.close(0)

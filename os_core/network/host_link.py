"""The host ↔ QNPU link: application hosts talking to a node that runs as a service.

In QNodeOS the application host (CNPU) and the QNPU are separate machines: the host registers an
application, opens EPR sockets, sends subroutines and gets their results (netqasm's host messages).
Here a :class:`HostLinkServer` in the node's process exposes the node service's host API on a ZeroMQ
ROUTER socket (CURVE-authenticated: only listed host keys get in), and :class:`RemoteNodeService` is
what a host uses instead of an in-process :class:`~qnodeos.network.service.NodeService` — the same
methods, so the NetQASM SDK backend (:mod:`qnodeos.apps.connection`) and the application sockets work
unchanged whether the node is in-process or served.

Wire format: msgpack maps. A request ``{"id", "op", "args"}``; a reply ``{"id", "ok"}`` or
``{"id", "error", "type"}``. Subroutines travel in netqasm's binary encoding. A host sends a ``ping``
every second while connected; a host silent for :attr:`HostLinkServer.SILENCE_S` is taken as gone:
its applications end and whatever it waited for is answered with an error.
"""
from __future__ import annotations

import itertools
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import msgpack
import numpy as np
import zmq
from zmq.auth.thread import ThreadAuthenticator

from ..errors import ExecutionError, QNodeOSError
from ..process import SubroutineResult
from .keys import NodeKeys

MAX_MESSAGE_BYTES = 8 << 20


class HostLinkError(QNodeOSError):
    """The node could not be reached, or answered with an error of its own."""


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True, default=_encode)


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"__ndarray__": [list(value.shape), str(value.dtype), value.tobytes()]}
    if isinstance(value, complex):
        return {"__complex__": [value.real, value.imag]}
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot send a {type(value).__name__} over the host link")


def _decode(obj: dict) -> Any:
    if "__ndarray__" in obj:
        shape, dtype, data = obj["__ndarray__"]
        return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape).copy()
    if "__complex__" in obj:
        return complex(*obj["__complex__"])
    return obj


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, object_hook=_decode, strict_map_key=False)


def _result_to_wire(result: SubroutineResult) -> dict[str, Any]:
    return {"index": result.index, "registers": result.registers,
            "arrays": {str(k): v for k, v in result.arrays.items()}, "start": result.start_ns, "end": result.end_ns}


def _result_from_wire(data: dict[str, Any]) -> SubroutineResult:
    return SubroutineResult(data["index"], dict(data["registers"]), {int(k): v for k, v in data["arrays"].items()},
                            data["start"], data["end"])


# ===================================================================================== node side
@dataclass
class _Session:
    identity: bytes
    hosts: set[str]
    seen: float


class HostLinkServer:
    """Serves a node service's host API to remote hosts (see the module docstring)."""

    SILENCE_S = 5.0
    MAX_WORKERS = 64

    def __init__(self, service: Any, bind: str = "tcp://127.0.0.1:*", keys: NodeKeys | None = None,
                 host_keys: dict[str, str] | None = None) -> None:
        self.service = service
        self._ctx = zmq.Context()
        self._auth: ThreadAuthenticator | None = None
        self._router = self._ctx.socket(zmq.ROUTER)
        self._router.setsockopt(zmq.LINGER, 0)
        self._router.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        if keys is not None:
            allowed = set((host_keys or {}).values())
            self._auth = ThreadAuthenticator(self._ctx)
            self._auth.start()
            self._auth.configure_curve_callback(domain="*", credentials_provider=_Allowed(allowed))
            self._router.curve_server = True
            self._router.curve_publickey = keys.public.encode()
            self._router.curve_secretkey = keys.secret.encode()
        self._router.bind(bind)
        self.address: str = self._router.getsockopt_string(zmq.LAST_ENDPOINT)
        self._replies: queue.SimpleQueue[tuple[bytes, bytes]] = queue.SimpleQueue()
        self._wake_addr = f"inproc://host-link-{id(self)}"
        self._wake_in = self._ctx.socket(zmq.PAIR)
        self._wake_in.bind(self._wake_addr)
        self._wake_out = self._ctx.socket(zmq.PAIR)
        self._wake_out.connect(self._wake_addr)
        self._wake_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(self.MAX_WORKERS, thread_name_prefix="host-link")
        self._sessions: dict[bytes, _Session] = {}
        self._pending: dict[str, list[Any]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="host-link", daemon=True)
        self.refused_requests = 0

    def start(self) -> "HostLinkServer":
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._pool.shutdown(wait=False, cancel_futures=True)
        for sock in (self._router, self._wake_in, self._wake_out):
            sock.close(0)
        if self._auth is not None:
            self._auth.stop()
        self._ctx.term()

    # ---- the loop --------------------------------------------------------------------------------
    def _serve(self) -> None:
        poller = zmq.Poller()
        poller.register(self._router, zmq.POLLIN)
        poller.register(self._wake_in, zmq.POLLIN)
        while not self._stop.is_set():
            events = dict(poller.poll(200))
            if self._wake_in in events:
                while self._wake_in.poll(0):
                    self._wake_in.recv()
            while True:
                try:
                    identity, data = self._replies.get_nowait()
                except queue.Empty:
                    break
                try:
                    self._router.send_multipart([identity, data])
                except zmq.ZMQError:
                    pass
            if self._router in events:
                # everything that has arrived, before judging who fell silent: a loop that was held up
                # (a loaded machine) must not take a host whose pings wait unread for a vanished one
                for _ in range(10_000):
                    try:
                        frames = self._router.recv_multipart(zmq.NOBLOCK)
                    except zmq.ZMQError:
                        break
                    self._accept(frames)
            self._reap_silent()

    def _accept(self, frames: list[bytes]) -> None:
        if len(frames) != 2:
            self.refused_requests += 1
            return
        identity, data = frames
        try:
            request = _unpack(data)
            rid, op, args = request["id"], request["op"], request.get("args", {})
            if not isinstance(op, str) or not isinstance(args, dict):
                raise ValueError("malformed request")
        except Exception:
            self.refused_requests += 1
            return
        with self._lock:
            session = self._sessions.setdefault(identity, _Session(identity, set(), time.monotonic()))
            session.seen = time.monotonic()
        if op == "ping":  # answered here, not by the pool: a busy node still shows it is alive
            self._reply(identity, {"id": 0, "ok": "pong"})
            return
        self._pool.submit(self._run, identity, rid, op, args)

    def _reply(self, identity: bytes, message: dict[str, Any]) -> None:
        try:
            data = _pack(message)
        except TypeError as exc:
            data = _pack({"id": message.get("id"), "error": str(exc), "type": "TypeError"})
        if len(data) > MAX_MESSAGE_BYTES:  # the host's socket would drop it: say so instead
            data = _pack({"id": message.get("id"), "type": "HostLinkError",
                          "error": f"reply of {len(data)} bytes exceeds the host link's {MAX_MESSAGE_BYTES}"})
        self._replies.put((identity, data))
        with self._wake_lock:
            self._wake_out.send(b"")

    def _run(self, identity: bytes, rid: Any, op: str, args: dict[str, Any]) -> None:
        try:
            handler = self._ops().get(op)
            if handler is None:
                raise HostLinkError(f"unknown host-link operation {op!r}")
            value = handler(identity, **args)
            self._reply(identity, {"id": rid, "ok": value})
        except TypeError as exc:
            self._reply(identity, {"id": rid, "error": f"bad arguments to {op!r}: {exc}", "type": "HostLinkError"})
        except BaseException as exc:  # answered, never fatal to the link
            self._reply(identity, {"id": rid, "error": str(exc), "type": type(exc).__name__})

    def _ops(self) -> dict[str, Callable[..., Any]]:
        s = self.service
        return {
            "hello": self._hello, "bye": self._bye,
            "open_app": lambda _i, host, name, max_qubits=None: s.open_app(host, name, max_qubits),
            "open_epr_socket": lambda _i, host, **a: s.open_epr_socket(host, **a),
            "close_app": lambda _i, host, pid: s.close_app(host, pid),
            "run_subroutine": lambda _i, host, pid, data, flavour=None: _result_to_wire(
                s.run_subroutine(host, pid, bytes(data), flavour)),
            "qubit_state": lambda _i, host, pid, virtual_id, reduced=True: s.qubit_state(host, pid, virtual_id, reduced),
            "send_app_message": lambda _i, app, remote, socket_id, item: s.send_app_message(
                app, remote, socket_id, tuple(item)),
            "recv_app_message": lambda _i, app, keys, block=True, timeout_s=None, wall_timeout_s=None: list(
                s.recv_app_message(app, tuple(tuple(k) for k in keys), block, timeout_s, wall_timeout_s)),
            "node_state": lambda _i: s.dashboard_state(),
            "timeline": lambda _i, since_ns=0, processes=None: s.timeline(since_ns, processes),
        }

    def _hello(self, identity: bytes, host: str, node_of_app: dict[str, str] | None = None) -> dict[str, Any]:
        with self._lock:
            for session in self._sessions.values():  # the name now belongs to this connection: an
                session.hosts.discard(host)           # earlier one going silent later must not end it
            self._sessions[identity].hosts.add(host)
        if node_of_app:  # where the host's application places each of its roles (for its messages)
            unknown = sorted(set(node_of_app.values()) - set(self.service.node_ids))
            if unknown:
                raise HostLinkError(f"application placed on node(s) {unknown} this network does not have "
                                    f"(nodes: {sorted(self.service.node_ids)})")
            self.service.node_of_app.update(node_of_app)
        self.service.register_host(host)
        platform = self.service.node.capabilities.platform.value
        return {"node": self.service.name, "node_ids": self.service.node_ids,
                "flavour": "nv" if platform == "nv" else "vanilla", "node_of_app": self.service.node_of_app}

    def _bye(self, identity: bytes, host: str) -> None:
        with self._lock:
            self._sessions.get(identity, _Session(identity, set(), 0)).hosts.discard(host)
        self.service.host_done(host)

    def _reap_silent(self) -> None:
        now = time.monotonic()
        with self._lock:
            silent = [s for s in self._sessions.values() if now - s.seen > self.SILENCE_S]
            for s in silent:
                del self._sessions[s.identity]
        for session in silent:
            for host in session.hosts:
                self.service.host_gone(host, f"host {host!r} stopped answering (no ping for {self.SILENCE_S:g} s)")


class _Allowed:
    def __init__(self, keys: set[str]) -> None:
        self.keys = keys

    def callback(self, domain: str, key: bytes) -> bool:
        import zmq.utils.z85

        text = key.decode(errors="replace") if len(key) == 40 else zmq.utils.z85.encode(key).decode()
        return text in self.keys


# ===================================================================================== host side
class RemoteReply:
    """A subroutine sent with ``block=False``: its result arrives later (see :meth:`RemoteNodeService.wait_subroutine`)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class RemoteNodeService:
    """The host API of a node served elsewhere (same methods as :class:`~qnodeos.network.service.NodeService`).

    One I/O thread owns the socket (ZeroMQ sockets are not thread-safe): callers queue requests and
    wait for their replies; the thread also pings the node every :attr:`PING_S`."""

    PING_S = 1.0
    #: a node that has not answered anything (pings included) this long is taken as gone: waiting
    #: calls fail with ``ConnectionError`` instead of waiting out their time-out
    SILENCE_S = 5.0

    def __init__(self, address: str, *, server_key: str | None = None, keys: tuple[str, str] | None = None,
                 timeout_s: float = 600.0) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        if server_key is not None:
            public, secret = keys if keys is not None else tuple(k.decode() for k in zmq.curve_keypair())
            self._sock.curve_serverkey = server_key.encode()
            self._sock.curve_publickey = public.encode()
            self._sock.curve_secretkey = secret.encode()
        self._sock.connect(address)
        self._wake_addr = f"inproc://host-link-client-{id(self)}"
        self._wake_in = self._ctx.socket(zmq.PAIR)
        self._wake_in.bind(self._wake_addr)
        self._wake_out = self._ctx.socket(zmq.PAIR)
        self._wake_out.connect(self._wake_addr)
        self._wake_lock = threading.Lock()
        self._out: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._ids = itertools.count(1)
        self._waiting: dict[int, RemoteReply] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._io, name="host-link-client", daemon=True)
        self._thread.start()
        self.name = ""
        self.node_ids: dict[str, int] = {}

    # ---- plumbing --------------------------------------------------------------------------------
    def _send(self, op: str, args: dict[str, Any]) -> RemoteReply:
        if self._closed.is_set():
            raise HostLinkError(f"the link to the node at {self.address} is closed")
        reply = RemoteReply()
        rid = next(self._ids)
        with self._lock:
            self._waiting[rid] = reply
        self._out.put(_pack({"id": rid, "op": op, "args": args}))
        with self._wake_lock:
            self._wake_out.send(b"")
        return reply

    def _wait(self, reply: RemoteReply, what: str) -> Any:
        if not reply.done.wait(self.timeout_s):
            raise HostLinkError(f"node at {self.address}: no answer to {what} within {self.timeout_s:g} s")
        if reply.error is not None:
            raise reply.error
        return reply.value

    def _call(self, op: str, **args: Any) -> Any:
        return self._wait(self._send(op, args), op)

    def _io(self) -> None:
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._wake_in, zmq.POLLIN)
        next_ping = self._heard = time.monotonic()
        unsent: bytes | None = None
        while not self._closed.is_set():
            events = dict(poller.poll(100))
            if time.monotonic() - self._heard > self.SILENCE_S:
                self._fail_waiting(ConnectionError(
                    f"node at {self.address} stopped answering (nothing for {self.SILENCE_S:g} s): "
                    "it has stopped, or does not accept this host's key"))
            if self._wake_in in events:
                while self._wake_in.poll(0):
                    self._wake_in.recv()
            try:  # never block: with no node connected (yet, or any more) requests stay queued here
                while True:
                    if unsent is None:
                        unsent = self._out.get_nowait()
                    self._sock.send(unsent, zmq.NOBLOCK)
                    unsent = None
            except (queue.Empty, zmq.ZMQError):
                pass
            if time.monotonic() >= next_ping:
                next_ping = time.monotonic() + self.PING_S
                try:
                    self._sock.send(_pack({"id": 0, "op": "ping"}), zmq.NOBLOCK)
                except zmq.ZMQError:
                    pass
            if self._sock in events:
                try:
                    while True:
                        self._deliver(self._sock.recv(zmq.NOBLOCK))
                except zmq.Again:
                    pass
                except zmq.ZMQError:
                    pass

    def _fail_waiting(self, error: BaseException) -> None:
        with self._lock:
            waiting, self._waiting = self._waiting, {}
        for reply in waiting.values():
            reply.error = error
            reply.done.set()

    def _deliver(self, data: bytes) -> None:
        self._heard = time.monotonic()
        try:
            message = _unpack(data)
            rid = message["id"]
        except (KeyError, TypeError, ValueError):
            return
        with self._lock:
            reply = self._waiting.pop(rid, None)
        if reply is None:
            return
        if "error" in message:
            reply.error = _remote_error(message.get("type", ""), message["error"])
        else:
            reply.value = message.get("ok")
        reply.done.set()

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=2)
        for sock in (self._sock, self._wake_in, self._wake_out):
            sock.close(0)
        self._ctx.term()
        self._fail_waiting(HostLinkError(f"the link to the node at {self.address} was closed"))

    # ---- the host API ----------------------------------------------------------------------------
    def register_host(self, name: str, node_of_app: dict[str, str] | None = None) -> dict[str, Any]:
        """Introduce application host ``name`` to the node (with where its application places each
        role); returns what the node says about itself (its name, the network's node ids, its NetQASM
        flavour)."""
        info = self._call("hello", host=name, node_of_app=node_of_app)
        self.name, self.node_ids = info["node"], dict(info["node_ids"])
        return info

    def host_done(self, name: str) -> None:
        try:
            self._call("bye", host=name)
        except HostLinkError:
            pass

    def open_app(self, host: str, name: str, max_qubits: int | None = None) -> int:
        return int(self._call("open_app", host=host, name=name, max_qubits=max_qubits))

    def open_epr_socket(self, host: str, pid: int, socket_id: int, remote_node_id: int, remote_socket_id: int,
                        min_fidelity_percent: int = 100) -> None:
        self._call("open_epr_socket", host=host, pid=pid, socket_id=socket_id, remote_node_id=remote_node_id,
                   remote_socket_id=remote_socket_id, min_fidelity_percent=min_fidelity_percent)

    def close_app(self, host: str, pid: int) -> None:
        self._call("close_app", host=host, pid=pid)

    def send_subroutine(self, host: str, pid: int, source: Any, flavour: str | None = None) -> RemoteReply:
        data = source if isinstance(source, (bytes, bytearray)) else bytes(source)
        pending = self._send("run_subroutine", {"host": host, "pid": pid, "data": data, "flavour": flavour})
        return pending

    def wait_subroutine(self, host: str, reply: RemoteReply) -> SubroutineResult:
        return _result_from_wire(self._wait(reply, "a subroutine"))

    def run_subroutine(self, host: str, pid: int, source: Any, flavour: str | None = None) -> SubroutineResult:
        return self.wait_subroutine(host, self.send_subroutine(host, pid, source, flavour))

    def qubit_state(self, host: str, pid: int, virtual_id: int, reduced: bool = True) -> Any:
        return self._call("qubit_state", host=host, pid=pid, virtual_id=virtual_id, reduced=reduced)

    def send_app_message(self, app: str, remote: str, socket_id: int, item: tuple[bool, Any, Any]) -> None:
        self._call("send_app_message", app=app, remote=remote, socket_id=socket_id, item=list(item))

    def recv_app_message(self, app: str, keys: tuple, block: bool = True, timeout_s: float | None = None,
                         wall_timeout_s: float | None = None) -> tuple[tuple, tuple]:
        key, item = self._call("recv_app_message", app=app, keys=[list(k) for k in keys], block=block,
                               timeout_s=timeout_s, wall_timeout_s=wall_timeout_s)
        return tuple(key), tuple(item)

    def node_state(self) -> dict[str, Any]:
        return self._call("node_state")

    def timeline(self, since_ns: int = 0, processes: list[str] | None = None) -> dict[str, Any]:
        return self._call("timeline", since_ns=since_ns, processes=processes)


_ERRORS: dict[str, type[BaseException]] = {"TimeoutError": TimeoutError, "ConnectionError": ConnectionError,
                                           "RuntimeError": RuntimeError, "ValueError": ValueError,
                                           "ExecutionError": ExecutionError}


def _remote_error(kind: str, message: str) -> BaseException:
    cls = _ERRORS.get(kind)
    if cls is not None:
        return cls(message)
    return QNodeOSError(f"{kind}: {message}" if kind else message)

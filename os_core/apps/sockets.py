"""NetQASM SDK ``Socket`` and ``BroadcastChannel`` classes backed by the node services' app sockets.

``Socket(app_name, remote_app_name, socket_id)`` sends strings (and structured messages) to the peer
application, wherever its node runs — another thread or another OS process — stamped with the sending
host's simulated clock; the peer's node delivers them after the link's classical latency. ``recv``
blocks until a message arrives; a ``timeout`` is simulated time. Where nothing can ever arrive (every
node idle) it raises ``TimeoutError`` at once; a wall-clock limit (``recv_timeout_s``) still guards
against a peer whose process died.
"""
from __future__ import annotations

from typing import Any, ClassVar, Optional

from netqasm.sdk.classical_communication.broadcast_channel import BroadcastChannelBySockets
from netqasm.sdk.classical_communication.message import StructuredMessage
from netqasm.sdk.classical_communication.socket import Socket

from .connection import HostDirectory


def socket_classes(directory: HostDirectory, recv_timeout_s: float = 60.0) -> tuple[type[Socket], type[BroadcastChannelBySockets]]:
    """(Socket, BroadcastChannel) classes bound to the services in ``directory``."""
    sock = type("Socket", (ServiceSocket,), {"directory": directory, "recv_timeout_s": recv_timeout_s})
    channel = type("BroadcastChannel", (ServiceBroadcastChannel,), {"_socket_class": sock})
    return sock, channel


class ServiceSocket(Socket):
    directory: ClassVar[HostDirectory]
    recv_timeout_s: ClassVar[float] = 60.0

    def __init__(self, app_name: str, remote_app_name: str, socket_id: int = 0, timeout: Optional[float] = None,
                 use_callbacks: bool = False, log_config: Any = None) -> None:
        self.app_name, self.remote_app_name, self.socket_id = app_name, remote_app_name, socket_id
        self._timeout = timeout
        self.use_callbacks = use_callbacks
        self._service = self.directory.service_of_app(app_name)
        self.key = (app_name, remote_app_name, socket_id)

    def _send(self, payload: Any, header: str | None, structured: bool) -> None:
        self._service.send_app_message(self.app_name, self.remote_app_name, self.socket_id,
                                       (structured, header, payload))

    def _recv(self, block: bool, timeout: Optional[float]) -> tuple[bool, Any, Any]:
        wait = timeout if timeout is not None else self._timeout
        _, item = self._service.recv_app_message(self.app_name, (self.key,), block, wait, self.recv_timeout_s)
        return item

    def send(self, msg: str) -> None:
        self._send(msg, None, False)

    def recv(self, block: bool = True, timeout: Optional[float] = None, maxsize: Optional[int] = None) -> str:
        structured, header, payload = self._recv(block, timeout)
        return payload if not structured else StructuredMessage(header, payload)

    def send_structured(self, msg: StructuredMessage) -> None:
        self._send(msg.payload, msg.header, True)

    def recv_structured(self, block: bool = True, timeout: Optional[float] = None,
                        maxsize: Optional[int] = None) -> StructuredMessage:
        structured, header, payload = self._recv(block, timeout)
        return StructuredMessage(header, payload) if structured else StructuredMessage("", payload)

    def send_silent(self, msg: str) -> None:
        self.send(msg)

    def recv_silent(self, block: bool = True, timeout: Optional[float] = None,
                    maxsize: Optional[int] = None) -> str:
        return self.recv(block, timeout, maxsize)


class ServiceBroadcastChannel(BroadcastChannelBySockets):
    """netqasm's socket-per-peer broadcast channel; ``recv`` takes the earliest message of any peer."""

    def recv(self, block: bool = True, timeout: Optional[float] = None) -> tuple[str, str]:
        sockets = list(self._sockets.values())
        if not sockets:
            raise RuntimeError("a broadcast channel without peers receives nothing")
        first: ServiceSocket = sockets[0]
        keys = tuple(s.key for s in sockets)
        key, (structured, header, payload) = first._service.recv_app_message(
            first.app_name, keys, block, timeout, first.recv_timeout_s)
        return key[1], payload

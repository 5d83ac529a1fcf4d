"""A NetQASM SDK connection backend that runs an application's subroutines on a qnodeos node.

The SDK compiles each ``flush()`` into a subroutine and hands it, with the other host messages
(init-new-app, open-EPR-socket, stop-app), to :meth:`_commit_serialized_message`. Here those become
calls on the node's service, made as the application's host (its simulated clock and latencies): a
persistent process per application, EPR sockets in the EGP, one subroutine at a time. Returned
registers and arrays are written to the SDK's shared memory before the commit returns, so futures
resolve right after ``flush()``; a non-blocking commit sends the subroutine at once and collects its
result in :meth:`QnodeosConnection.block`.
"""
from __future__ import annotations

import itertools
import threading
from typing import Any, Callable, ClassVar, Optional

from netqasm.backend.messages import (
    InitNewAppMessage,
    OpenEPRSocketMessage,
    SignalMessage,
    StopAppMessage,
    SubroutineMessage,
    deserialize_host_msg,
)
from netqasm.sdk.connection import BaseNetQASMConnection
from netqasm.sdk.network import NetworkInfo
from netqasm.sdk.shared_memory import SharedMemoryManager
from netqasm.lang.parsing.text import assemble_subroutine
from netqasm.lang.subroutine import Subroutine
from netqasm.sdk.transpile import NVSubroutineTranspiler

from ..process import SubroutineResult
from .hosts import Reply
from .subroutine_cache import COMPILED


class HostDirectory:
    """What an application host needs to know about the network: role → node, node ids, services."""

    def __init__(self, node_of_role: dict[str, str], node_ids: dict[str, int], services: dict[str, Any],
                 flavours: dict[str, str]) -> None:
        self.node_of_role = node_of_role
        self.node_ids = node_ids
        self.services = services  # node name -> NodeService (or a proxy with the same host API)
        self.node_of_role = dict(node_of_role)
        self.flavours = flavours  # node name -> NetQASM flavour its subroutines are compiled to
        self._app_ids = itertools.count(1)
        self._lock = threading.Lock()
        node_names = {i: n for n, i in node_ids.items()}
        roles = dict(node_of_role)

        def node_of(app_name: str) -> str:
            try:
                return roles[app_name]
            except KeyError:
                raise ValueError(f"no application {app_name!r} in this network "
                                 f"(applications: {sorted(roles)})") from None

        class _Info(NetworkInfo):
            @classmethod
            def _get_node_id(cls, node_name: str) -> int:
                return node_ids[node_name]

            @classmethod
            def _get_node_name(cls, node_id: int) -> str:
                return node_names[node_id]

            @classmethod
            def get_node_id_for_app(cls, app_name: str) -> int:
                return node_ids[node_of(app_name)]

            @classmethod
            def get_node_name_for_app(cls, app_name: str) -> str:
                return node_of(app_name)

        self.network_info = _Info

    def new_app_id(self) -> int:
        with self._lock:
            return next(self._app_ids)

    def service_of_app(self, app_name: str) -> Any:
        """The service of the node ``app_name`` runs on (this process must run that node)."""
        try:
            return self.services[self.node_of_role[app_name]]
        except KeyError:
            raise ValueError(f"application {app_name!r} does not run on a node of this process "
                             f"(applications: {sorted(self.node_of_role)})") from None


def connection_class(directory: HostDirectory) -> type["QnodeosConnection"]:
    """A connection class bound to one network (what ``netqasm.sdk.external.NetQASMConnection`` becomes)."""
    return type("NetQASMConnection", (QnodeosConnection,), {"directory": directory})


class QnodeosConnection(BaseNetQASMConnection):
    directory: ClassVar[HostDirectory]

    def __init__(self, app_name: str, node_name: Optional[str] = None, app_id: Optional[int] = None,
                 max_qubits: int = 5, compiler: Any = None, **kwargs: Any) -> None:
        directory = self.directory
        if node_name is None:
            try:
                node_name = directory.node_of_role[app_name]
            except KeyError:
                raise ValueError(f"application {app_name!r} is not placed on any node "
                                 f"(roles: {sorted(directory.node_of_role)})") from None
        self._service = directory.services[node_name]
        self._flavour = directory.flavours.get(node_name, "vanilla")
        if compiler is None and self._flavour == "nv":
            compiler = NVSubroutineTranspiler
        self._pid: int | None = None
        self._host = app_name
        self._pending: list[tuple[Reply, Optional[Callable]]] = []
        try:
            super().__init__(app_name=app_name, node_name=node_name, app_id=app_id or directory.new_app_id(),
                             max_qubits=max_qubits, compiler=compiler, **kwargs)
        except BaseException:
            if self._pid is not None:  # set-up failed after the process was opened: do not leave it behind
                self._service.close_app(self._host, self._pid)
            raise

    def _get_network_info(self) -> type[NetworkInfo]:
        return self.directory.network_info

    def _commit_serialized_message(self, raw_msg: bytes, block: bool = True,
                                   callback: Optional[Callable] = None) -> None:
        msg = deserialize_host_msg(raw_msg)
        if isinstance(msg, SubroutineMessage):
            self.commit_subroutine(msg.subroutine, block, callback)
        elif isinstance(msg, InitNewAppMessage):
            # The SDK's NV compiler addresses the electron as one more virtual qubit than max_qubits.
            extra = 1 if self._flavour == "nv" else 0
            self._pid = self._service.open_app(self._host, self.app_name, max_qubits=msg.max_qubits + extra)
            if SharedMemoryManager.get_shared_memory(self.node_name, key=msg.app_id) is None:
                SharedMemoryManager.create_shared_memory(self.node_name, key=msg.app_id)
        elif isinstance(msg, OpenEPRSocketMessage):
            self._service.open_epr_socket(self._host, self._pid, msg.epr_socket_id, msg.remote_node_id,
                                          msg.remote_epr_socket_id, msg.min_fidelity)
        elif isinstance(msg, StopAppMessage):
            self.block()
            if self._pid is not None:
                self._service.close_app(self._host, self._pid)
        elif isinstance(msg, SignalMessage):
            pass  # every app sends STOP on exit; it does not stop the node

    def commit_protosubroutine(self, protosubroutine: Any, block: bool = True,
                               callback: Optional[Callable] = None) -> None:
        """netqasm's flush path, minus formatting the whole subroutine for debug logs nobody reads
        (that formatting costs more than running the subroutine), and compiling each distinct
        subroutine once (:mod:`qnodeos.apps.subroutine_cache`)."""
        builder = self._builder
        subroutine = COMPILED.get(protosubroutine, self.app_id, builder._compiler, self._compile)
        if builder._track_lines:  # what netqasm's own compile step records for its logs
            builder._log_subroutine(subroutine=subroutine)
        self.commit_subroutine(subroutine, block, callback)
        builder._reset()

    def _compile(self, protosubroutine: Any) -> Subroutine:
        """netqasm's compile step: assemble, then the node's transpiler (NV) if it has one."""
        subroutine = assemble_subroutine(protosubroutine)
        compiler = self._builder._compiler
        return subroutine if compiler is None else compiler(subroutine=subroutine).transpile()

    def commit_subroutine(self, subroutine: Subroutine, block: bool = True,
                          callback: Optional[Callable] = None) -> None:
        """Host and node share this process: hand over the Subroutine object itself, skipping the
        encode/decode round trip (other host messages still go through the binary encoding)."""
        if block:
            self.block()
            self._store(self._service.run_subroutine(self._host, self._pid, subroutine, self._flavour))
            if callback is not None:
                callback()
        else:
            self._pending.append((self._service.send_subroutine(self._host, self._pid, subroutine, self._flavour),
                                  callback))

    def _store(self, result: SubroutineResult) -> None:
        memory = self.shared_memory
        for label, value in result.registers.items():
            memory.set_register(label, value)
        for address, values in result.arrays.items():
            memory.init_new_array(address, new_array=list(values))

    def block(self) -> None:
        """Wait for subroutines committed with ``block=False`` (in order), then run their callbacks."""
        while self._pending:
            reply, callback = self._pending.pop(0)
            self._store(self._service.wait_subroutine(self._host, reply))
            if callback is not None:
                callback()

    @property
    def pid(self) -> int | None:
        """The qnodeos process id of this application on its node."""
        return self._pid

"""A node running as a service: its OS loop in a thread, fed by application hosts and peer messages.

Everything that touches the node (scheduler, memory, device, EGP) runs on the service thread; other
threads (application hosts, the mailbox receiver) hand it work through :meth:`NodeService.call`, a
thread-safe queue. The loop runs ready processes, then entanglement generation, then timers, and
sleeps until new work arrives.
"""
from __future__ import annotations

import functools
import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable

from ..errors import QNodeOSError
from ..node import Node
from ..process import Process, SubroutineResult
from .egp import EntanglementService
from .mailbox import Mailbox


class NodeService:
    """Owns a :class:`Node`, its mailbox and its EGP; runs them on one thread."""

    TRACE_ROWS = 200_000

    def __init__(self, node: Node, mailbox: Mailbox | None, node_ids: dict[str, int], *,
                 request_timeout_s: float = 30.0, seed: int | None = None) -> None:
        self.node = node
        node.trace.bound(self.TRACE_ROWS)  # a service runs for long: keep a bounded timeline
        self.mailbox = mailbox
        self.node_ids = node_ids
        self.egp = EntanglementService(node, mailbox, node_ids, request_timeout_s=request_timeout_s, seed=seed)
        node.executor.network = self.egp
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._subroutine_futures: dict[int, Future] = {}
        self._thread = threading.Thread(target=self._loop, name=f"qnodeos-{node.name}", daemon=True)
        if mailbox is not None:
            mailbox.on("egp", lambda sender, msg: self.call_soon(self.egp.on_message, sender, msg))

    # ---- thread plumbing ----------------------------------------------------------------------
    def start(self) -> "NodeService":
        if self.mailbox is not None:
            self.mailbox.start()
        self._thread.start()
        return self

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run ``fn(*args)`` on the node thread; the future holds its result or exception."""
        fut: Future = Future()
        self._inbox.put((fn, args, fut))
        self._wake.set()
        return fut

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None = 60.0) -> Any:
        return self.call_soon(fn, *args).result(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._turn()
            except Exception as exc:  # never let the node die: fail what was waiting, keep serving
                self.node.fail_waiting(exc)

    def _turn(self) -> None:
        node, egp = self.node, self.egp
        self._drain()
        if node.step() or egp.step():
            return
        egp.check_timeouts()
        t = node.next_timer_ns()
        if t is not None and not egp.busy():
            node.timebase.advance_to(t)
            return
        self._wake.wait(0.005 if egp.busy() else 0.05)
        self._wake.clear()

    @property
    def alive(self) -> bool:
        """Whether the node's loop is running."""
        return self._thread.is_alive()

    def _drain(self) -> None:
        while True:
            try:
                fn, args, fut = self._inbox.get_nowait()
            except queue.Empty:
                return
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:  # delivered to the caller, never kills the loop
                fut.set_exception(exc)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self.mailbox is not None:
            self.mailbox.close()

    # ---- the application-host API (called from host threads) -------------------------------------
    def open_app(self, name: str, max_qubits: int | None = None) -> int:
        return self.call(functools.partial(self.node.open_process, name, max_qubits=max_qubits,
                                           on_subroutine_done=self._on_done))

    def open_epr_socket(self, pid: int, socket_id: int, remote_node_id: int, remote_socket_id: int,
                        min_fidelity_percent: int = 100) -> None:
        self.call(self.egp.open_socket, pid, socket_id, remote_node_id, remote_socket_id, min_fidelity_percent)

    def run_subroutine(self, pid: int, source: Any, flavour: str | None = None,
                       timeout: float | None = None) -> SubroutineResult:
        """Queue one subroutine for ``pid`` and wait for its result (raises the process's error)."""
        fut: Future = Future()

        def push() -> None:
            self.node.push_subroutine(pid, source, flavour)  # compiles and checks first: may raise
            self._subroutine_futures[pid] = fut

        self.call(push)
        return fut.result(timeout)

    def close_app(self, pid: int) -> None:
        self.call(self.node.close_process, pid)

    def _on_done(self, proc: Process, outcome: Any) -> None:
        fut = self._subroutine_futures.pop(proc.pid, None)
        if fut is None:
            return
        if isinstance(outcome, BaseException):
            fut.set_exception(outcome if isinstance(outcome, QNodeOSError) else QNodeOSError(str(outcome)))
        else:
            fut.set_result(outcome)

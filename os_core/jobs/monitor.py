"""The dashboard's view of the nodes: one thread reads every node's state over its host link at a
fixed interval and keeps the latest, trimmed to what a page shows; readers wait for the next version.

A node that does not answer within the time-out is shown as unreachable (with the error) and asked
again at the next interval, so a node that comes back reappears by itself.
"""
from __future__ import annotations

import threading
import time
from typing import Any

from .network import NetworkConfig, ServedNetwork


class NodeMonitor:
    def __init__(self, config: NetworkConfig, interval_s: float = 0.5, timeout_s: float = 3.0,
                 rows: int = 40) -> None:
        self.config = config
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.rows = rows
        self._network: ServedNetwork | None = None
        self._cond = threading.Condition()
        self._states: dict[str, dict[str, Any]] = {n: {"node": n, "reachable": False, "error": "not read yet"}
                                                   for n in config.nodes}
        self.version = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="node-monitor", daemon=True)

    def start(self) -> "NodeMonitor":
        self._network = ServedNetwork(self.config, timeout_s=self.timeout_s)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout_s + 2)
        if self._network is not None:
            self._network.close()

    def snapshot(self) -> tuple[int, dict[str, dict[str, Any]]]:
        with self._cond:
            return self.version, dict(self._states)

    def wait_for(self, seen: int, timeout_s: float) -> tuple[int, dict[str, dict[str, Any]]]:
        """The states once their version differs from ``seen`` (or after ``timeout_s``)."""
        with self._cond:
            self._cond.wait_for(lambda: self.version != seen or self._stop.is_set(), timeout_s)
            return self.version, dict(self._states)

    def _loop(self) -> None:
        assert self._network is not None
        while not self._stop.is_set():
            began = time.monotonic()
            states = {}
            for node in self.config.nodes:
                states[node] = self._read(node)
            with self._cond:
                self._states = states
                self.version += 1
                self._cond.notify_all()
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - began)))

    def _read(self, node: str) -> dict[str, Any]:
        assert self._network is not None
        try:
            state = dict(self._network.node_state(node))
        except Exception as exc:
            return {"node": node, "reachable": False, "error": f"{type(exc).__name__}: {exc}"}
        state["reachable"] = True
        state["timeline"] = list(state.get("timeline", []))[-self.rows:]
        state["address"] = self.config.nodes[node].address
        return state

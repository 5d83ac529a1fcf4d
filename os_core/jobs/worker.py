"""One job's worker: its own OS process, started by the job service, that runs the application's hosts
against the served nodes (``python -m qnodeos.jobs.worker``).

Application code never runs in the service's process. The worker limits itself before it loads any
(``resource.setrlimit``: CPU seconds, address space, size of files written, no core files), dies with
the service (``PR_SET_PDEATHSIG``), and the service kills its process group when the job's wall time
is up. What the application prints goes to ``worker.log`` and the runs' role logs; the worker's
original standard output carries only its reports to the service, one JSON object a line:

``{"event": "run", "index": i, "ok": .., "results": .., "errors": .., "nodes": .., "wall_s": .., "log_dir": ..}``
after each run, then ``{"event": "done"}`` or ``{"event": "failed", "reason": ..}``.

The job's specification comes on standard input (it holds the hosts' secret key: never on the
command line or in the environment).
"""
from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

#: Longest report line; a run whose results are larger reports an error instead of them.
MAX_EVENT_BYTES = 1 << 20
#: Largest file the application (and its logs) may write.
MAX_FILE_BYTES = 256 << 20
#: How long a node may take to answer the worker's probe.
PROBE_TIMEOUT_S = 5.0


def apply_limits(cpu_time_s: float, memory_bytes: int) -> None:
    """CPU time (SIGXCPU, then SIGKILL 5 s later), address space, file size; no core files."""
    cpu = max(1, int(cpu_time_s))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_AS, (int(memory_bytes), int(memory_bytes)))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _take_stdout(log_path: Path) -> TextIO:
    """The report channel (the original stdout); fds 1 and 2 now write to ``log_path``."""
    events = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    return events


_REPORT_LOCK = threading.Lock()


def _report(events: TextIO, message: dict[str, Any]) -> None:
    from ..commands.output import jsonable

    line = json.dumps(jsonable(message), allow_nan=False)
    if len(line) > MAX_EVENT_BYTES:
        message = {**message, "results": {}, "ok": False,
                   "errors": {"*": f"the run's results are larger than {MAX_EVENT_BYTES} bytes of JSON: not kept"}}
        line = json.dumps(jsonable(message), allow_nan=False)
    with _REPORT_LOCK:
        events.write(line + "\n")
        events.flush()


def probe(network: Any, nodes: list[str]) -> dict[str, dict[str, Any]]:
    """Each node's state; raises naming the first node that does not answer or whose loop is not running."""
    states = {}
    for node in nodes:
        try:
            state = network.node_state(node)
        except Exception as exc:
            raise RuntimeError(f"node {node} does not answer: {exc}") from None
        if state.get("alive") is False:
            raise RuntimeError(f"node {node} is not running (its service has stopped)")
        states[node] = state
    return states


class NodeWatch:
    """While a run goes on, checks every :attr:`INTERVAL_S` that its nodes still run; a node whose
    service stopped, or that has not answered :attr:`MISSES` probes in a row, ends the job at once
    (reported, then this process exits) instead of leaving the run to its time-out."""

    INTERVAL_S = 1.0
    MISSES = 3

    def __init__(self, network: Any, nodes: list[str], on_lost: Any) -> None:
        self.network, self.nodes, self.on_lost = network, nodes, on_lost
        self.run = -1
        self._stop = threading.Event()
        self._misses = {n: 0 for n in nodes}
        self._thread = threading.Thread(target=self._loop, name="node-watch", daemon=True)

    def start(self) -> "NodeWatch":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=PROBE_TIMEOUT_S + 2)

    def _loop(self) -> None:
        while not self._stop.wait(self.INTERVAL_S):
            for node in self.nodes:
                try:
                    state = self.network.node_state(node)
                except Exception as exc:
                    self._misses[node] += 1
                    if self._misses[node] >= self.MISSES:
                        self.on_lost(self.run, f"node {node} stopped answering ({self.MISSES} probes in a row "
                                               f"failed; last: {exc})")
                    continue
                self._misses[node] = 0
                if state.get("alive") is False:
                    self.on_lost(self.run, f"node {node} is not running (its service has stopped)")


def run_timeline(network: Any, nodes: list[str], before: dict[str, dict[str, Any]], roles: set[str]) -> dict[str, Any]:
    """The run's timeline: each node's rows since its device time when the run began, of this job's
    processes and the node's network process (``meta.trace.complete`` says whether the node still held
    them all: it keeps only its latest rows)."""
    from ..serve.trace import served_trace

    since = {n: int(before.get(n, {}).get("device_ns", 0)) for n in nodes}
    return served_trace({n: network.services[n] for n in nodes}, since, sorted(roles))


def node_summary(states: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {n: {"device_ns": s.get("device_ns"), "utilisation": s.get("utilisation"), "network": s.get("network")}
            for n, s in states.items()}


def run_job(spec: dict[str, Any], events: TextIO) -> int:
    from ..apps.runner import load_app_dir, run_app_on_nodes
    from .network import NetworkConfig, ServedNetwork

    config = NetworkConfig.from_dict(spec["network"])
    app_dir, job_dir = Path(spec["app_dir"]), Path(spec["job_dir"])
    app = load_app_dir(app_dir)
    placement = {r: config.node_of(r, app.node_of_role[r]) for r in app.roles}
    nodes = list(dict.fromkeys(placement.values()))
    roles = set(app.roles)
    timeout = float(spec["run_timeout_s"])
    def lost(index: int, why: str) -> None:  # (the watch's thread: the run's threads cannot be interrupted)
        _report(events, {"event": "failed", "reason": f"during run {index}: {why}"})
        os._exit(3)

    with ServedNetwork(config, timeout_s=PROBE_TIMEOUT_S) as watch, ServedNetwork(config, timeout_s=timeout) as net:
        try:
            before = probe(watch, nodes)
        except RuntimeError as exc:
            _report(events, {"event": "failed", "reason": str(exc)})
            return 3
        watcher = NodeWatch(ServedNetwork(config, timeout_s=PROBE_TIMEOUT_S), nodes, lost).start()
        for index in range(int(spec["runs"])):
            watcher.run = index
            started = time.monotonic()
            run_dir = job_dir / "runs" / f"{index:04d}"
            try:
                run = run_app_on_nodes(app_dir, {n: net.services[n] for n in nodes}, overrides=spec["inputs"],
                                       timeout_s=timeout, log_dir=run_dir, placement=placement)
                results, errors, log_dir = run.results, dict(run.errors), run.log_dir
            except Exception as exc:  # the run could not start (a node refused the hosts, ...)
                results, errors, log_dir = {}, {"*": f"{type(exc).__name__}: {exc}"}, None
            try:
                after = probe(watch, nodes)
            except RuntimeError as exc:
                _report(events, {"event": "run", "index": index, "ok": False, "results": results, "errors": errors,
                                 "nodes": {}, "wall_s": time.monotonic() - started,
                                 "log_dir": _relative(log_dir, job_dir)})
                _report(events, {"event": "failed", "reason": f"during run {index}: {exc}"})
                return 3
            if log_dir is not None:
                try:
                    timeline = run_timeline(watch, nodes, before, roles)
                except Exception as exc:  # the run's results are kept; only its timeline is missing
                    timeline = {"error": f"the nodes' timelines could not be read: {type(exc).__name__}: {exc}"}
                (Path(log_dir) / "timeline.json").write_text(json.dumps(timeline))
            _report(events, {"event": "run", "index": index, "ok": not errors, "results": results,
                             "errors": errors, "nodes": node_summary(after), "wall_s": time.monotonic() - started,
                             "log_dir": _relative(log_dir, job_dir)})
            stuck = sorted(t.name[4:] for t in threading.enumerate() if t.name[4:] in roles and t.name.startswith("app-"))
            if stuck:  # a host still running would be taken for the next run's host of that name
                _report(events, {"event": "failed", "reason": f"run {index}: role(s) {', '.join(stuck)} did not finish "
                                                             f"within the run time-out of {timeout:g} s"})
                os._exit(3)
            before = after
        watcher.stop()
        watcher.network.close()
    _report(events, {"event": "done"})
    return 0


def _relative(path: Any, base: Path) -> str | None:
    if path is None:
        return None
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return None


def main() -> int:
    spec = json.loads(sys.stdin.read())
    sys.stdin.close()
    from ..apps.supervision import die_with_parent

    die_with_parent(int(spec["parent_pid"]))
    events = _take_stdout(Path(spec["job_dir"]) / "worker.log")
    apply_limits(float(spec["cpu_time_s"]), int(spec["memory_bytes"]))
    try:
        return run_job(spec, events)
    except MemoryError:
        _report(events, {"event": "failed", "reason": f"the job ran out of memory (limit {spec['memory_bytes']} bytes "
                                                      "of address space)"})
        return 4
    except Exception as exc:
        import traceback

        traceback.print_exc()  # into worker.log
        _report(events, {"event": "failed", "reason": f"{type(exc).__name__}: {exc}"})
        return 1


if __name__ == "__main__":
    sys.exit(main())

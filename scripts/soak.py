#!/usr/bin/env python3
"""Soak test (not part of CI): a long-lived mock two-node network under steady concurrent load.

Two node services (``alice``, ``bob``) run for ``--minutes`` on one :class:`LocalNetwork`, the way a
deployed node stays up between applications. Two kinds of load run at the same time:

* application runs, one after another: ``--apps-per-node`` creator roles on alice and as many receiver
  roles on bob, all concurrent, each a plain NetQASM SDK program (create-and-keep pairs measured in Z
  and compared over a classical socket, a measure-directly request, the teleportation of |1>) --
  bound and run exactly as ``qnodeos run APP_DIR`` does (bind_netqasm, import_mains, run_roles);
* single-node NetQASM programs: ``--programs-per-node`` host threads per node, each opening a process
  on its node's service, running two subroutines (prepare |1> and measure, twice) and closing it, in
  a loop.

Every ``--sample-s`` seconds the script samples the resident memory of this process (``/proc/self/statm``),
threads, open file descriptors, the nodes' process tables and traces, and the latency of the runs
finished in that window, and prints a table row. At the end it stops the load, waits for the nodes to
go idle, prints a JSON summary and checks:

* no application run or program failed (``--max-errors``);
* memory is flat: the median RSS of the last quarter is within ``--tolerance`` of the first quarter's
  (after ``--warmup-s``), less the soak's own latency records (16 bytes a run, column "own MiB");
* latency is flat: the same for the median application-run latency and the median program latency;
* nothing is leaked: no qubit allocated, no process open, no entanglement record, no EGP request, no
  extra threads, on either node.

Exit status 0 when every check holds, 1 otherwise.

Diagnostics, to find where growth comes from (each reaches into a node's internals, nothing public
offers it): ``--no-trace`` (instruction traces off), ``--prune-finished`` (finished processes dropped
from the process tables), ``--clear-compile-cache`` (compiled-subroutine caches emptied). The table's
last three columns are the sizes of those three structures.

Without a log directory the runner keeps netqasm's own logs in a temporary directory of each run and
removes it; the soak points this process's temporary files at a private directory and counts what the
runs leave there (it should be nothing), then removes it.

The nodes share one simulated timeline (see docs/architecture.md): every host — each application role
and each program thread — has its own simulated clock, and a node acts only when all of its hosts wait
on it, so the latencies here are wall-clock costs of the whole runtime (coordination included).

    python scripts/soak.py --minutes 3 --platform trapped_ion --apps-per-node 3 --programs-per-node 2
"""
from __future__ import annotations

import argparse
import bisect
import glob
import json
import os
import shutil
import statistics
import sys
import tempfile
from array import array
import threading
import time
from pathlib import Path
from typing import Any

from qnodeos.apps.local_network import LocalNetwork
from qnodeos.apps.runner import bind_netqasm, import_mains, load_app_dir, run_roles
from qnodeos.apps.sockets import socket_classes

PAIR_APP = '''
import re

from netqasm.sdk import EPRSocket, Qubit
from netqasm.sdk.classical_communication.message import StructuredMessage
from netqasm.sdk.external import NetQASMConnection, Socket


def _k(app_config):
    return int(re.sub(r"\\D", "", app_config.app_name))


def creator(app_config, rounds=2, pairs=3):
    k = _k(app_config)
    peer = f"bob{k}"
    socket = Socket(app_config.app_name, peer, socket_id=k, log_config=app_config.log_config)
    epr_socket = EPRSocket(peer, epr_socket_id=k, remote_epr_socket_id=k)
    conn = NetQASMConnection(app_config.app_name, log_config=app_config.log_config, epr_sockets=[epr_socket])
    keep = []
    with conn:
        for _ in range(rounds):
            q = epr_socket.create_keep(1)[0]
            m = q.measure()
            conn.flush()
            keep.append(int(m))
        socket.send_structured(StructuredMessage("keep", keep))
        measured = epr_socket.create_measure(number=pairs)
        conn.flush()
        md = [int(p.measurement_outcome) for p in measured]
        q = Qubit(conn)
        q.X()
        epr = epr_socket.create_keep(1)[0]
        q.cnot(epr)
        q.H()
        m1, m2 = q.measure(), epr.measure()
        conn.flush()
        m1, m2 = int(m1), int(m2)
    socket.send_structured(StructuredMessage("corrections", (m1, m2)))
    socket.recv()
    return {"keep": keep, "md": md}


def receiver(app_config, rounds=2, pairs=3):
    k = _k(app_config)
    peer = f"alice{k}"
    socket = Socket(app_config.app_name, peer, socket_id=k, log_config=app_config.log_config)
    epr_socket = EPRSocket(peer, epr_socket_id=k, remote_epr_socket_id=k)
    conn = NetQASMConnection(app_config.app_name, log_config=app_config.log_config, epr_sockets=[epr_socket])
    keep = []
    with conn:
        for _ in range(rounds):
            q = epr_socket.recv_keep(1)[0]
            m = q.measure()
            conn.flush()
            keep.append(int(m))
        theirs = socket.recv_structured()
        measured = epr_socket.recv_measure(number=pairs)
        conn.flush()
        md = [int(p.measurement_outcome) for p in measured]
        epr = epr_socket.recv_keep(1)[0]
        conn.flush()
        m1, m2 = socket.recv_structured().payload
        if m2 == 1:
            epr.X()
        if m1 == 1:
            epr.Z()
        t = epr.measure()
        conn.flush()
        t = int(t)
    socket.send("ack")
    return {"keep": keep, "md": md, "teleported": t, "creator_keep": list(theirs.payload)}
'''

PROGRAM = """# NETQASM 1.0
# APPID 0
set Q0 0
qalloc Q0
init Q0
x Q0
meas Q0 M0
ret_reg M0
qfree Q0
"""


def make_app_dir(pairs: int) -> Path:
    root = Path(tempfile.mkdtemp(prefix="qnodeos-soak-apps-"))
    (root / "pair_app.py").write_text(PAIR_APP)
    roles = []
    for k in range(1, pairs + 1):
        (root / f"app_alice{k}.py").write_text(
            "from pair_app import creator\n\n\ndef main(app_config=None):\n    return creator(app_config)\n")
        (root / f"app_bob{k}.py").write_text(
            "from pair_app import receiver\n\n\ndef main(app_config=None):\n    return receiver(app_config)\n")
        roles += [f"alice{k}: alice", f"bob{k}: bob"]
    (root / "roles.yaml").write_text("\n".join(roles) + "\n")
    return root


# ---- measurements ------------------------------------------------------------------------------------
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


class Latencies:
    """Finish times and durations of one kind of run, in two flat float arrays (16 bytes a record:
    the soak must not grow by much while it measures growth; see :meth:`Stats.own_bytes`)."""

    def __init__(self) -> None:
        self.finished = array("d")
        self.seconds = array("d")

    def add(self, finished: float, seconds: float) -> None:
        self.finished.append(finished)
        self.seconds.append(seconds)

    def between(self, lo: float, hi: float) -> list[float]:
        """Durations of the runs that finished in ``(lo, hi]``; the finish times are increasing."""
        start, end = bisect.bisect_right(self.finished, lo), bisect.bisect_right(self.finished, hi)
        return list(self.seconds[start:end])

    def all(self) -> list[float]:
        return list(self.seconds)

    def nbytes(self) -> int:
        return (len(self.finished) + len(self.seconds)) * self.finished.itemsize


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.app_latency = Latencies()
        self.program_latency = Latencies()
        self.app_runs = 0
        self.programs = 0
        self.errors: list[str] = []
        self.error_count = 0
        self.wrong: list[str] = []

    def add(self, what: str, finished: float, seconds: float) -> None:
        with self.lock:
            if what == "app":
                self.app_runs += 1
                self.app_latency.add(finished, seconds)
            else:
                self.programs += 1
                self.program_latency.add(finished, seconds)

    def own_bytes(self) -> int:
        """Memory the soak's own latency records hold (subtracted from RSS for the flatness check)."""
        with self.lock:
            return self.app_latency.nbytes() + self.program_latency.nbytes()

    def error(self, text: str) -> None:
        with self.lock:
            if len(self.errors) < 50:
                self.errors.append(text)
            else:
                self.errors[-1] = f"... and more; last: {text}"
            self.error_count += 1


# ---- load -------------------------------------------------------------------------------------------------
def app_loop(network: LocalNetwork, app_dir: Path, stats: Stats, stop: threading.Event, check: bool,
             timeout_s: float, recv_timeout_s: float) -> None:
    app = load_app_dir(app_dir)
    pairs = [r[len("alice"):] for r in app.roles if r.startswith("alice")]
    directory = network.directory
    while not stop.is_set():
        t0 = time.monotonic()
        bind_netqasm(directory, *socket_classes(directory, recv_timeout_s), simulated=True)
        mains = import_mains(app)
        for role in app.roles:  # each run's hosts join the running nodes at the network's current time
            directory.service_of_app(role).register_host(role)
        run = run_roles(app, mains, timeout_s=timeout_s,
                        on_end=lambda role: directory.service_of_app(role).host_done(role))
        t1 = time.monotonic()
        if not run.ok:
            stats.error(f"app run: {run.errors}")
            continue
        stats.add("app", t1, t1 - t0)
        if check:
            for k in pairs:
                a, b = run.results[f"alice{k}"], run.results[f"bob{k}"]
                if (a["keep"], a["md"], 1, a["keep"]) != (b["keep"], b["md"], b["teleported"], b["creator_keep"]):
                    stats.wrong.append(f"pair {k}: {a} / {b}")


def program_loop(service: Any, name: str, stats: Stats, stop: threading.Event) -> None:
    """One host of ``service`` (its own simulated clock), running programs back to back."""
    service.register_host(name)
    try:
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                pid = service.open_app(name, name, max_qubits=1)
                try:
                    values = [service.run_subroutine(name, pid, PROGRAM).registers.get("M0") for _ in range(2)]
                finally:
                    service.close_app(name, pid)
            except Exception as exc:
                stats.error(f"program {name}: {type(exc).__name__}: {exc}")
                continue
            t1 = time.monotonic()
            stats.add("program", t1, t1 - t0)
            if values != [1, 1]:
                stats.wrong.append(f"program {name}: {values}")
    finally:
        service.host_done(name)  # the node no longer waits for this host


def _trace_off(node: Any) -> None:
    from qnodeos.trace import Trace

    node.trace = node.executor.trace = Trace(False)


def _prune(node: Any) -> None:
    table = getattr(node, "_processes", None)
    if isinstance(table, dict):
        for pid in [pid for pid, p in table.items() if p.finished]:
            del table[pid]
            node.trace.process_names.pop(pid, None)


def _clear_compiled(node: Any) -> None:
    cache = getattr(node, "_compiled", None)
    if isinstance(cache, dict):
        cache.clear()


def node_view(service: Any) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        node = service.node
        procs = list(node.processes())
        return {"allocated": len(node.memory.allocated()), "open": sum(1 for p in procs if not p.finished),
                "entanglement": len(node.memory.entanglement), "egp_busy": service.egp.busy(),
                "process_table": len(procs), "trace_rows": len(node.trace),
                "compile_cache": len(getattr(node, "_compiled", ()))}
    return service.call(read, timeout=30)


# ---- main ----------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--platform", default="trapped_ion", choices=["trapped_ion", "nv"])
    ap.add_argument("--apps-per-node", type=int, default=3, help="concurrent application roles per node per run")
    ap.add_argument("--programs-per-node", type=int, default=2, help="host threads per node running programs")
    ap.add_argument("--sample-s", type=float, default=10.0)
    ap.add_argument("--warmup-s", type=float, default=15.0, help="excluded from the flatness checks")
    ap.add_argument("--tolerance", type=float, default=0.20)
    ap.add_argument("--max-errors", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--request-timeout-s", type=float, default=30.0)
    ap.add_argument("--preset", default="ideal")
    ap.add_argument("--json", help="also write the summary to this file")
    ap.add_argument("--keep-logs", action="store_true",
                    help="keep the log directories the runs leave behind (in a private temporary directory)")
    ap.add_argument("--no-trace", action="store_true",
                    help="diagnostic: switch the nodes' instruction traces off (they grow without bound)")
    ap.add_argument("--prune-finished", action="store_true",
                    help="diagnostic: drop finished processes from the nodes' process tables at every sample "
                         "(reaches into Node._processes: no public API for it)")
    ap.add_argument("--clear-compile-cache", action="store_true",
                    help="diagnostic: empty the nodes' compiled-subroutine caches at every sample "
                         "(reaches into Node._compiled, which keeps every distinct subroutine ever compiled)")
    args = ap.parse_args(argv)

    check = args.platform == "trapped_ion" and args.preset == "ideal"  # perfect Phi+: outcomes must agree
    # Point this process's temporary files at a private directory, to count what the runs leave behind.
    private_tmp = tempfile.mkdtemp(prefix="qnodeos-soak-")
    tempfile.tempdir = private_tmp
    app_dir = make_app_dir(args.apps_per_node)
    app = load_app_dir(app_dir)
    network = LocalNetwork(args.platform, app.nodes, seed=args.seed, preset=args.preset,
                           request_timeout_s=args.request_timeout_s, node_of_role=app.node_of_role)
    stats, stop = Stats(), threading.Event()
    samples: list[dict[str, Any]] = []
    t_start = time.monotonic()
    duration = args.minutes * 60
    with network:
        threads_idle = threading.active_count()
        if args.no_trace:
            for service in network.services.values():
                service.call(_trace_off, service.node)
        workers = [threading.Thread(target=app_loop, args=(network, app_dir, stats, stop, check, 120.0, 60.0),
                                    name="soak-apps", daemon=True)]
        for name, service in network.services.items():
            for i in range(args.programs_per_node):
                workers.append(threading.Thread(target=program_loop, args=(service, f"{name}-prog{i}", stats, stop),
                                                name=f"soak-{name}-{i}", daemon=True))
        for w in workers:
            w.start()
        header = (f"{'t s':>6} {'apps':>5} {'progs':>6} {'err':>4} {'RSS MiB':>8} {'own MiB':>7} {'app p50':>8} {'app p95':>8} "
                  f"{'prog p50':>9} {'prog p95':>9} {'thr':>4} {'fds':>4} {'proc tbl':>9} {'trace rows':>10} "
                  f"{'compiled':>8}")
        print(f"soak: {args.platform}, {args.apps_per_node} application pairs per run, "
              f"{args.programs_per_node} program threads per node, {args.minutes:g} min", flush=True)
        print(header, flush=True)
        last = t_start
        next_sample = t_start + args.sample_s
        while True:
            now = time.monotonic()
            if now >= t_start + duration:
                break
            time.sleep(max(0.0, min(next_sample, t_start + duration) - now))
            now = time.monotonic()
            with stats.lock:
                apps = stats.app_latency.between(last, now)
                progs = stats.program_latency.between(last, now)
                n_apps, n_progs, n_err = stats.app_runs, stats.programs, stats.error_count
            if args.prune_finished:
                for service in network.services.values():
                    service.call(_prune, service.node)
            if args.clear_compile_cache:
                for service in network.services.values():
                    service.call(_clear_compiled, service.node)
            views = {n: node_view(s) for n, s in network.services.items()}
            sample = {"t": round(now - t_start, 1), "app_runs": n_apps, "programs": n_progs, "errors": n_err,
                      "rss_mib": round(rss_mib(), 1),
                      "own_mib": round(stats.own_bytes() / 2**20, 2),
                      "app_p50_ms": _ms(median(apps)), "app_p95_ms": _ms(pct(apps, 0.95)),
                      "prog_p50_ms": _ms(median(progs)), "prog_p95_ms": _ms(pct(progs, 0.95)),
                      "threads": threading.active_count(), "fds": open_fds(),
                      "process_table": sum(v["process_table"] for v in views.values()),
                      "trace_rows": sum(v["trace_rows"] for v in views.values()),
                      "compile_cache": sum(v["compile_cache"] for v in views.values())}
            samples.append(sample)
            print(f"{sample['t']:>6} {n_apps:>5} {n_progs:>6} {n_err:>4} {sample['rss_mib']:>8} {sample['own_mib']:>7} "
                  f"{_f(sample['app_p50_ms']):>8} {_f(sample['app_p95_ms']):>8} {_f(sample['prog_p50_ms']):>9} "
                  f"{_f(sample['prog_p95_ms']):>9} {sample['threads']:>4} {sample['fds']:>4} "
                  f"{sample['process_table']:>9} {sample['trace_rows']:>10} {sample['compile_cache']:>8}", flush=True)
            last = now
            next_sample += args.sample_s
        stop.set()
        for w in workers:
            w.join(timeout=180)
        stuck = [w.name for w in workers if w.is_alive()]
        end = {}
        settle_by = time.monotonic() + 30
        while True:
            end = {n: node_view(s) for n, s in network.services.items()}
            if all(not v["open"] and not v["egp_busy"] for v in end.values()) or time.monotonic() > settle_by:
                break
            time.sleep(0.1)
        threads_end = threading.active_count()
    elapsed = time.monotonic() - t_start
    logs = glob.glob(os.path.join(private_tmp, "qnodeos-app-*"))
    log_bytes = sum(os.path.getsize(os.path.join(d, f)) for d in logs for f in os.listdir(d))
    shutil.rmtree(app_dir, ignore_errors=True)
    if not args.keep_logs:
        shutil.rmtree(private_tmp, ignore_errors=True)

    summary = summarise(args, samples, stats, end, elapsed, stuck, threads_idle, threads_end, len(logs), log_bytes,
                        t_start)
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if summary["ok"] else 1


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:g}"


def summarise(args: Any, samples: list[dict[str, Any]], stats: Stats, end: dict[str, Any], elapsed: float,
              stuck: list[str], threads_idle: int, threads_end: int, log_dirs: int, log_bytes: int,
              t_start: float) -> dict[str, Any]:
    duration = args.minutes * 60
    steady = [s for s in samples if s["t"] > args.warmup_s] or samples
    q = max(1, len(steady) // 4)
    first, last = steady[:q], steady[-q:]
    span = duration - args.warmup_s
    t_first = (args.warmup_s, args.warmup_s + span / 4)
    t_last = (duration - span / 4, duration + 1)

    def window(series: Latencies, lo_hi: tuple[float, float]) -> list[float]:
        return series.between(t_start + lo_hi[0], t_start + lo_hi[1])

    app_first, app_last = window(stats.app_latency, t_first), window(stats.app_latency, t_last)
    prog_first, prog_last = window(stats.program_latency, t_first), window(stats.program_latency, t_last)
    all_app = stats.app_latency.all()
    all_prog = stats.program_latency.all()

    def lat(values: list[float]) -> dict[str, Any]:
        return {"n": len(values), "p50_ms": _ms(median(values)), "p95_ms": _ms(pct(values, 0.95)),
                "p99_ms": _ms(pct(values, 0.99)), "max_ms": _ms(max(values) if values else None)}

    # the network's memory: this process's RSS less the soak's own latency records (16 bytes a run)
    rss_first = median([s["rss_mib"] - s["own_mib"] for s in first])
    rss_last = median([s["rss_mib"] - s["own_mib"] for s in last])
    checks: dict[str, Any] = {}

    def flat(name: str, a: float | None, b: float | None) -> None:
        ok = a is not None and b is not None and b <= a * (1 + args.tolerance)
        checks[name] = {"first_quarter": a, "last_quarter": b,
                        "change": None if not a or b is None else round(b / a - 1, 3), "ok": ok}

    flat("rss_mib", rss_first, rss_last)
    flat("app_run_p50_ms", _ms(median(app_first)), _ms(median(app_last)))
    if args.programs_per_node:
        flat("program_p50_ms", _ms(median(prog_first)), _ms(median(prog_last)))
    error_count = stats.error_count
    checks["errors"] = {"count": error_count, "ok": error_count <= args.max_errors, "first": stats.errors[:5]}
    checks["results_correct"] = {"wrong": len(stats.wrong), "ok": not stats.wrong, "first": stats.wrong[:5]}
    leaked = {n: {k: v[k] for k in ("allocated", "open", "entanglement", "egp_busy")} for n, v in end.items()}
    checks["nothing_leaked"] = {"nodes": leaked, "stuck_workers": stuck, "threads_idle": threads_idle,
                                "threads_end": threads_end,
                                "ok": not stuck and threads_end <= threads_idle and all(
                                    not v["allocated"] and not v["open"] and not v["entanglement"]
                                    and not v["egp_busy"] for v in end.values())}
    return {
        "platform": args.platform, "preset": args.preset,
        "diagnostics": {"no_trace": args.no_trace, "prune_finished": args.prune_finished,
                        "clear_compile_cache": args.clear_compile_cache}, "apps_per_node": args.apps_per_node,
        "programs_per_node": args.programs_per_node, "minutes": round(elapsed / 60, 2),
        "app_runs": stats.app_runs, "app_roles_run": stats.app_runs * 2 * args.apps_per_node,
        "programs": stats.programs, "errors": error_count,
        "rss_mib": {"start": samples[0]["rss_mib"] if samples else None,
                    "end": samples[-1]["rss_mib"] if samples else None,
                    "first_quarter_median": rss_first, "last_quarter_median": rss_last},
        "app_run_latency": {"all": lat(all_app), "first_quarter": lat(app_first), "last_quarter": lat(app_last)},
        "program_latency": {"all": lat(all_prog), "first_quarter": lat(prog_first), "last_quarter": lat(prog_last)},
        "node_tables_end": {n: {"process_table": v["process_table"], "trace_rows": v["trace_rows"],
                                "compile_cache": v["compile_cache"]} for n, v in end.items()},
        "fds": {"start": samples[0]["fds"] if samples else None, "end": samples[-1]["fds"] if samples else None},
        "run_log_dirs_left_behind": {"count": log_dirs, "bytes": log_bytes, "removed_by_soak": not args.keep_logs},
        "checks": checks,
        "ok": all(c["ok"] for c in checks.values()),
    }


if __name__ == "__main__":
    sys.exit(main())

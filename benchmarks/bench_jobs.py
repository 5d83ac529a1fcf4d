"""How many jobs (and application hosts) the job service holds at once on this machine.

A served two-node network (mock trapped-ion, ideal) routes messages for N copies of the teleport demo,
each copy's roles renamed (``s<k>`` on node ``sender``, ``r<k>`` on node ``receiver``) so that the N
jobs share no role name and may all run together. N jobs of R runs each are submitted at once to a
``qnodeos jobs serve --max-jobs N`` process; printed: how many ran at the same time at most, the
hosts that implies (2 per job), the wall time to finish all, the workers' memory, and any failed run.

    python benchmarks/bench_jobs.py [--jobs 1 2 4 8] [--runs 5]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from jobs_support import TELEPORT, ServedTestNetwork, ServiceProcess, add_user, submit, zip_dir  # noqa: E402


def renamed_teleport(k: int, into: Path) -> Path:
    app = into / f"teleport{k}"
    app.mkdir()
    for role, new in (("sender", f"s{k}"), ("receiver", f"r{k}")):
        text = (TELEPORT / f"app_{role}.py").read_text()
        text = text.replace('"sender"', f'"s{k}"').replace('"receiver"', f'"r{k}"')
        (app / f"app_{new}.py").write_text(text)
    (app / "roles.yaml").write_text(f"s{k}: sender\nr{k}: receiver\n")
    return app


def rss_of_children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "rss=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def measure(n: int, runs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        base = Path(tmp)
        placement = {**{f"s{k}": "sender" for k in range(n)}, **{f"r{k}": "receiver" for k in range(n)}}
        network = ServedTestNetwork(placement=placement)
        token = add_user(base / "data", "bench")
        service = ServiceProcess(network.write_config(base / "network.toml"), base / "data",
                                 "--max-jobs", str(n)).start()
        peak_running, peak_rss = 0, 0
        stop = threading.Event()
        try:
            with service.client(token) as client:
                archives = [zip_dir(renamed_teleport(k, base)) for k in range(n)]

                def watch() -> None:
                    nonlocal peak_running, peak_rss
                    while not stop.is_set():
                        jobs = client.get("/api/jobs").json()
                        peak_running = max(peak_running, sum(j["status"] == "running" for j in jobs))
                        peak_rss = max(peak_rss, sum(rss_of_children(service.proc.pid)))
                        time.sleep(0.1)

                start = time.monotonic()
                ids = [submit(client, a, f"t{k}.zip", runs=runs).json()["id"] for k, a in enumerate(archives)]
                watcher = threading.Thread(target=watch, daemon=True)
                watcher.start()
                while True:
                    docs = [client.get(f"/api/jobs/{i}").json() for i in ids]
                    if all(d["status"] not in ("queued", "running") for d in docs):
                        break
                    if time.monotonic() - start > 600:
                        raise TimeoutError("jobs did not finish within 600 s")
                    time.sleep(0.2)
                elapsed = time.monotonic() - start
                stop.set()
                watcher.join()
                failed_runs = sum(d["statistics"]["failed_runs"] for d in docs)
                errors: dict[str, int] = {}
                for d in docs:
                    if d["statistics"]["failed_runs"]:
                        for run in client.get(f"/api/jobs/{d['id']}/runs").json():
                            for message in run["errors"].values():
                                key = message.split(":")[0] + ": " + message.split(":", 2)[-1][:90]
                                errors[key] = errors.get(key, 0) + 1
                statuses = sorted({d["status"] for d in docs})
        finally:
            stop.set()
            service.terminate()
            network.close()
        return {"jobs": n, "runs": n * runs, "peak_running": peak_running, "hosts": 2 * peak_running,
                "seconds": elapsed, "runs_per_s": n * runs / elapsed, "workers_rss_mb": peak_rss / 1024,
                "failed_runs": failed_runs, "statuses": statuses, "errors": errors}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{'jobs':>5} {'runs':>5} {'together':>8} {'hosts':>5} {'seconds':>8} {'runs/s':>7} {'workers RSS':>12} "
          f"{'failed runs':>11}  statuses")
    for n in args.jobs:
        r = measure(n, args.runs)
        print(f"{r['jobs']:>5} {r['runs']:>5} {r['peak_running']:>8} {r['hosts']:>5} {r['seconds']:>8.1f} "
              f"{r['runs_per_s']:>7.2f} {r['workers_rss_mb']:>9.0f} MB {r['failed_runs']:>11}  {','.join(r['statuses'])}",
              flush=True)
        for message, count in sorted(r["errors"].items(), key=lambda kv: -kv[1])[:5]:
            print(f"      {count} x {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

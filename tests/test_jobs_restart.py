"""The job service keeps its jobs across restarts, and never loses a job that was running: a service
killed outright (its workers die with it) marks that job failed at its next start; a service stopped
with SIGTERM marks it failed on the way out. A node that stops during a job ends that job at once,
with the reason."""
from __future__ import annotations

import signal
from pathlib import Path

import pytest
from jobs_support import HOLD, TELEPORT, ServedTestNetwork, ServiceProcess, add_user, submit, wait_for, wait_job, zip_dir

from qnodeos.jobs.manager import RESTART_REASON, STOP_REASON


@pytest.fixture
def served():
    network = ServedTestNetwork()
    yield network
    network.close()


def _children(pid: int) -> set[int]:
    kids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.add(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_results_survive_a_restart_and_the_interrupted_job_is_marked_failed(served, tmp_path):
    network, data = served.write_config(tmp_path / "network.toml"), tmp_path / "data"
    token = add_user(data, "alice")
    first = ServiceProcess(network, data).start()
    try:
        with first.client(token) as client:
            finished = submit(client, zip_dir(TELEPORT), runs=3).json()
            wait_job(client, finished["id"], ("done",))
            runs_before = client.get(f"/api/jobs/{finished['id']}/runs").json()
            interrupted = submit(client, zip_dir(HOLD), "hold.zip", runs=1,
                                 inputs={"holder": {"release": str(tmp_path / "never")}}).json()
            wait_job(client, interrupted["id"], ("running",))
            wait_for(lambda: client.get("/api/nodes").json()["nodes"]["sender"].get("entanglement"), 60,
                     "the running job's pair")
        workers = _children(first.proc.pid)
        assert workers, "the running job has a worker process"
    finally:
        first.kill()  # SIGKILL: no chance to tidy up
    wait_for(lambda: not any(_alive(w) for w in workers), 10, "the workers to die with the service")

    second = ServiceProcess(network, data).start()
    try:
        with second.client(token) as client:
            assert client.get(f"/api/jobs/{finished['id']}").json()["status"] == "done"
            assert client.get(f"/api/jobs/{finished['id']}/runs").json() == runs_before
            lost = client.get(f"/api/jobs/{interrupted['id']}").json()
            assert lost["status"] == "failed" and lost["error"] == RESTART_REASON
            # the nodes serve again once they noticed the dead worker's hosts are gone
            again = submit(client, zip_dir(HOLD), "hold.zip", runs=1, inputs={"holder": {"rounds": 3}}).json()
            done = wait_job(client, again["id"], ("done", "failed"), timeout_s=90)
            assert done["statistics"]["ok_runs"] == 1, client.get(f"/api/jobs/{again['id']}/runs").json()
            running = submit(client, zip_dir(HOLD), "hold.zip", runs=1,
                             inputs={"holder": {"release": str(tmp_path / "never")}}).json()
            wait_job(client, running["id"], ("running",))
        # SIGTERM: the service ends its jobs and says why; uvicorn then re-raises the signal it caught,
        # which the CLI turns into one line and exit code 143 (128 + SIGTERM), as for every command
        assert second.terminate() in (0, 128 + signal.SIGTERM), "".join(second.output)
    finally:
        second.kill()

    third = ServiceProcess(network, data).start()
    try:
        with third.client(token) as client:
            stopped = client.get(f"/api/jobs/{running['id']}").json()
            assert stopped["status"] == "failed" and stopped["error"] == STOP_REASON
            assert len(client.get("/api/jobs").json()) == 4
    finally:
        third.terminate()


def test_a_node_that_stops_during_a_job_ends_it_with_the_reason(served, tmp_path):
    data = tmp_path / "data"
    token = add_user(data, "alice")
    service = ServiceProcess(served.write_config(tmp_path / "network.toml"), data).start()
    try:
        with service.client(token) as client:
            job = submit(client, zip_dir(HOLD), "hold.zip", runs=3, timeout_s=30,
                         inputs={"holder": {"release": str(tmp_path / "never")}}).json()
            wait_for(lambda: client.get("/api/nodes").json()["nodes"]["receiver"].get("entanglement"), 60,
                     "the job's pair")
            served.network.services["receiver"].stop()
            done = wait_job(client, job["id"], ("done", "failed"), timeout_s=30)
            assert done["status"] == "failed"
            assert done["error"] == "during run 0: node receiver is not running (its service has stopped)"
            assert client.get("/api/nodes").json()["nodes"]["receiver"]["alive"] is False
            refused = submit(client, zip_dir(TELEPORT), runs=1).json()
            done = wait_job(client, refused["id"], ("done", "failed"), timeout_s=30)
            assert done["error"] == "node receiver is not running (its service has stopped)"
            # the dead worker's hosts are noticed gone (no pings) and their processes end, freeing their qubits
            wait_for(lambda: all(p["state"] in ("done", "failed") and not p["qubits"] for p in
                                 client.get("/api/nodes").json()["nodes"]["sender"]["processes"]), 20,
                     "the job's processes on the sender to end")
    finally:
        service.terminate()

"""The job service through HTTP (issue 14 points 3 and 5): a real `qnodeos jobs serve` process in
front of a served two-node network; submissions, runs, results, statistics, logs, timelines, users,
refused uploads, limits, cancelling, and which jobs run together."""
from __future__ import annotations

import io
import json
import math
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from jobs_support import (HOLD, JOB_APPS, TELEPORT, ServedTestNetwork, ServiceProcess, add_user, netqasm_app,
                          submit, tar_gz_dir, wait_job, zip_dir)

from qnodeos.trace import check_trace

MISBEHAVE = JOB_APPS / "misbehave"
README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture(scope="module")
def served():
    network = ServedTestNetwork()
    yield network
    network.close()


@pytest.fixture(scope="module")
def service(served, tmp_path_factory):
    base = tmp_path_factory.mktemp("jobs")
    data = base / "data"
    tokens = {name: add_user(data, name) for name in ("alice", "bob")}
    proc = ServiceProcess(served.write_config(base / "network.toml"), data).start()
    proc.tokens = tokens
    proc.base = base
    yield proc
    proc.terminate()


@pytest.fixture
def alice(service):
    with service.client(service.tokens["alice"]) as client:
        yield client


@pytest.fixture
def bob(service):
    with service.client(service.tokens["bob"]) as client:
        yield client


def _runs(client, job_id):
    return client.get(f"/api/jobs/{job_id}/runs").json()


# ---- submit, run, results -------------------------------------------------------------------------
def test_netqasm_teleport_runs_and_reports_results_statistics_logs_and_timeline(alice):
    theta, phi = 1.1, 0.4
    response = submit(alice, zip_dir(netqasm_app("teleport")), "teleport.zip", runs=6,
                      inputs={"sender": {"theta": theta, "phi": phi}})
    assert response.status_code == 201, response.text
    job = response.json()
    assert response.headers["location"] == f"/api/jobs/{job['id']}"
    assert job["status"] in ("queued", "running") and job["roles"] == ["receiver", "sender"]
    done = wait_job(alice, job["id"], ("done", "failed"))
    assert done["status"] == "done" and done["error"] is None and done["runs_done"] == 6

    runs = _runs(alice, job["id"])
    assert [r["index"] for r in runs] == list(range(6)) and all(r["ok"] for r in runs)
    for run in runs:  # ideal devices: the state arrives whole, whatever the corrections
        receiver = run["results"]["receiver"]
        assert receiver["fidelity"] == pytest.approx(1.0, abs=1e-6)
        expected = 0.5 * (1 + math.cos(theta))  # <0|rho|0> of R_z(phi) R_y(theta)|0>
        assert receiver["received_state"][0][0]["re"] == pytest.approx(expected, abs=1e-4)
        assert receiver["correction1"] == ("Z" if run["results"]["sender"]["m1"] else "None")
        assert set(run["nodes"]) == {"sender", "receiver"} and run["nodes"]["sender"]["network"]["pairs_delivered"] >= 1

    stats = alice.get(f"/api/jobs/{job['id']}/stats").json()
    assert stats == done["statistics"] and (stats["runs"], stats["ok_runs"]) == (6, 6)
    m1 = np.array([r["results"]["sender"]["m1"] for r in runs], dtype=float)
    q = stats["quantities"]
    assert q["sender.m1"]["mean"] == pytest.approx(m1.mean())
    assert q["sender.m1"]["std_error"] == pytest.approx(m1.std(ddof=1) / math.sqrt(6))
    assert q["sender.m1"]["histogram"] == {k: v for k, v in (("0", int((m1 == 0).sum())), ("1", int((m1 == 1).sum())))
                                           if v}
    assert sum(q["receiver.correction1"]["histogram"].values()) == 6
    assert q["receiver.fidelity"]["mean"] == pytest.approx(1.0, abs=1e-6)

    logs = {f["path"] for f in alice.get(f"/api/jobs/{job['id']}/logs").json()}
    assert "worker.log" in logs and not any(p.startswith("app/") for p in logs)
    sender_log = next(p for p in logs if p.startswith("runs/0000/") and p.endswith("/sender.log"))
    assert "`sender` measured the following teleportation corrections" in alice.get(
        f"/api/jobs/{job['id']}/logs/{sender_log}").text
    results_yaml = next(p for p in logs if p.startswith("runs/0005/") and p.endswith("results.yaml"))
    assert "app_receiver" in alice.get(f"/api/jobs/{job['id']}/logs/{results_yaml}").text

    timeline = alice.get(f"/api/jobs/{job['id']}/timeline").json()
    assert set(timeline["nodes"]) == {"sender", "receiver"}
    for node, trace in timeline["nodes"].items():
        check_trace(trace, node)
        # the job's own process on that node, and the node's network process (its entanglement attempts)
        assert trace["entries"] and {e["process"] for e in trace["entries"]} == {node, "network"}
        assert trace["meta"]["trace"]["complete"]
    first = alice.get(f"/api/jobs/{job['id']}/runs/0/timeline").json()
    assert first["nodes"]["sender"]["entries"][0]["start_ns"] < timeline["nodes"]["sender"]["entries"][0]["start_ns"]

    svg = alice.get(f"/api/jobs/{job['id']}/plots/sender.m1.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert re.search(r'aria-label="[^"]*sender\.m1: 0 in \d+ runs|aria-label="[^"]*1 in \d+ runs', svg.text)
    fidelity_plot = alice.get(f"/api/jobs/{job['id']}/plots/receiver.fidelity.svg").text
    assert re.search(r">mean 1(\.0*)? ± [^<]*\(n = 6\)</text>", fidelity_plot), fidelity_plot
    assert alice.get(f"/api/jobs/{job['id']}/plots/nothing.svg").status_code == 404
    assert any(j["id"] == job["id"] for j in alice.get("/api/jobs").json())


def test_a_tar_gz_with_one_top_folder_and_role_inputs_runs(alice):
    response = submit(alice, tar_gz_dir(TELEPORT, "teleport-demo"), "demo.tar.gz", runs=2,
                      inputs={"sender": {"theta": math.pi}})
    assert response.status_code == 201, response.text
    assert response.json()["app"] == "teleport-demo"
    done = wait_job(alice, response.json()["id"], ("done", "failed"))
    assert done["status"] == "done", done
    for run in _runs(alice, done["id"]):  # theta = pi: |1>, so rho[1][1] = 1
        assert run["results"]["receiver"]["state"][1][1]["re"] == pytest.approx(1.0, abs=1e-4)


# ---- users ----------------------------------------------------------------------------------------
def test_requests_without_a_valid_token_are_refused(service):
    with service.client() as anonymous:
        response = anonymous.get("/api/jobs")
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert "bearer token" in response.json()["detail"]
        assert submit(anonymous, zip_dir(TELEPORT)).status_code == 401
        assert anonymous.get("/api/whoami").json()["user"] is None
    with service.client("qnj_not-a-token") as wrong:
        assert wrong.get("/api/jobs").status_code == 401


def test_a_user_sees_only_their_own_jobs(alice, bob):
    job = submit(alice, zip_dir(TELEPORT), runs=1).json()
    wait_job(alice, job["id"], ("done", "failed"))
    base = f"/api/jobs/{job['id']}"
    for path in (base, f"{base}/runs", f"{base}/stats", f"{base}/logs", f"{base}/logs/worker.log",
                 f"{base}/timeline", f"{base}/runs/0/timeline", f"{base}/plots/sender.m1.svg"):
        response = bob.get(path)
        assert response.status_code == 404, path
        assert job["id"] in response.json()["detail"]
    assert bob.delete(base).status_code == 404
    assert all(j["id"] != job["id"] for j in bob.get("/api/jobs").json())
    assert alice.get(f"{base}/logs/worker.log").status_code == 200


def test_the_dashboard_cookie_reads_but_cannot_submit(service):
    with service.client() as browser:
        assert browser.post("/api/session", json={"token": "qnj_wrong"}).status_code == 401
        assert browser.post("/api/session", json={"token": service.tokens["bob"]}).status_code == 204
        assert browser.get("/api/whoami").json()["user"] == "bob"
        assert browser.get("/api/jobs").status_code == 200
        assert submit(browser, zip_dir(TELEPORT)).status_code == 401  # writes need the bearer header
        page = browser.get("/")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        browser.delete("/api/session")
        assert browser.get("/api/jobs").status_code == 401


def test_add_user_prints_a_token_stores_its_hash_and_refuses_a_taken_name(service):
    data = service.base / "data"
    token = add_user(data, "carol")
    assert token.startswith("qnj_") and len(token) > 40
    assert token.encode() not in (data / "jobs.sqlite").read_bytes()
    again = subprocess.run([sys.executable, "-m", "qnodeos.cli", "jobs", "add-user", "carol", "--data", str(data)],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "user 'carol' exists" in again.stderr
    with service.client(token) as carol:
        assert carol.get("/api/whoami").json()["user"] == "carol"


# ---- refused uploads --------------------------------------------------------------------------------
def _zip(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, target)
    return buffer.getvalue()


def _tar(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
    return buffer.getvalue()


TELEPORT_FILES = {p.name: p.read_bytes() for p in TELEPORT.glob("app_*.py")}
ALICE_BOB = {"app_alice.py": b"def main(app_config=None):\n    return 1\n",
             "app_bob.py": b"def main(app_config=None):\n    return 2\n"}
BOMB = _zip({**TELEPORT_FILES, "zeros.txt": bytes(40 << 20)})


@pytest.mark.parametrize("archive, fields, status, message", [
    (b"just some text, no archive", {}, 415, "not a zip or tar archive"),
    (b"", {}, 400, "empty"),
    (_zip({**TELEPORT_FILES, "../evil.py": b"x"}), {}, 422, "path traversal"),
    (_tar({**TELEPORT_FILES, "app/../../evil.py": b"x"}), {}, 422, "path traversal"),
    (_zip({**TELEPORT_FILES, "/etc/evil.py": b"x"}), {}, 422, "absolute path"),
    (_tar({**TELEPORT_FILES}, symlinks={"link.py": "/etc/passwd"}), {}, 422, "symbolic link"),
    (_zip({**TELEPORT_FILES}, symlinks={"link.py": "/etc/passwd"}), {}, 422, "symbolic link"),
    (_zip({"README.txt": b"hello"}), {}, 422, "no app_<role>.py files"),
    (_zip(ALICE_BOB), {}, 422, "role 'alice' runs on node 'alice', which is not a node of this network"),
    (_zip({**ALICE_BOB, "roles.yaml": b"alice: sender\nbob: receiver\n"}), {}, 422,
     "role 'alice' (on node 'sender') is not an application the served nodes were started with"),
    (_zip({**TELEPORT_FILES, "roles.yaml": b"sender: [oops\n"}), {}, 422, "roles.yaml: invalid YAML (line 2"),
    (BOMB, {}, 413, "unpacks to more than"),
    (_zip(TELEPORT_FILES), {"inputs": "{not json"}, 422, "inputs: not valid JSON"),
    (_zip(TELEPORT_FILES), {"inputs": '{"nobody": {"x": 1}}'}, 422, "has no role 'nobody'"),
    (_zip(TELEPORT_FILES), {"inputs": '{"sender": {"angle": 1}}'}, 422, "takes no input 'angle'"),
    (_zip(TELEPORT_FILES), {"inputs": '{"sender": {"theta": NaN}}'}, 422, "not a finite number"),
    (_zip(TELEPORT_FILES), {"runs": "0"}, 422, "runs: '0' is outside"),
    (_zip(TELEPORT_FILES), {"runs": "many"}, 422, "runs: 'many' is not an integer"),
    (_zip(TELEPORT_FILES), {"wall_time_s": "1e9"}, 422, "wall_time_s"),
    (_zip(TELEPORT_FILES), {"memory_mb": "10"}, 422, "memory_mb"),
    (_zip(TELEPORT_FILES), {"colour": "blue"}, 422, "unknown form field(s) colour"),
], ids=["not-an-archive", "empty", "zip-traversal", "tar-traversal", "absolute-path", "tar-symlink", "zip-symlink",
        "no-roles", "roles-not-nodes", "roles-not-served-apps", "bad-roles-yaml", "zip-bomb", "inputs-not-json",
        "inputs-unknown-role", "inputs-unknown-name", "inputs-nan", "runs-zero", "runs-text", "wall-time-too-long",
        "memory-too-small", "unknown-field"])
def test_bad_uploads_are_refused_naming_the_problem(alice, archive, fields, status, message):
    before = len(alice.get("/api/jobs").json())
    raw_fields = {k: v for k, v in fields.items()}
    response = alice.post("/api/jobs", files={"archive": ("app.zip", archive, "application/octet-stream")},
                          data=raw_fields)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert len(alice.get("/api/jobs").json()) == before  # nothing queued


def test_oversized_uploads_and_malformed_forms_are_refused(alice):
    big = os.urandom((4 << 20) + 100_000)
    response = submit(alice, big, "big.zip")
    assert response.status_code == 413 and "the limit is" in response.json()["detail"]
    head = (b'--zz\r\nContent-Disposition: form-data; name="archive"; filename="big.zip"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n")
    body = iter([head, *[b"x" * (1 << 20)] * 6, b"\r\n--zz--\r\n"])  # no length: sent in chunks
    chunked = alice.post("/api/jobs", content=body, headers={"content-type": "multipart/form-data; boundary=zz"})
    assert chunked.status_code == 413, chunked.text
    no_form = alice.post("/api/jobs", json={"archive": "teleport"})
    assert no_form.status_code == 415 and "multipart/form-data" in no_form.json()["detail"]
    no_archive = alice.post("/api/jobs", data={"runs": "2"}, files={"inputs": ("x", b"{}")})
    assert no_archive.status_code == 422


# ---- limits, cancelling, scheduling -----------------------------------------------------------------
def test_wall_time_limit_kills_the_worker_and_the_nodes_serve_the_next_job(alice, service, tmp_path):
    job = submit(alice, zip_dir(HOLD), "hold.zip", runs=1, wall_time_s=3,
                 inputs={"holder": {"release": str(tmp_path / "never")}}).json()
    done = wait_job(alice, job["id"], ("done", "failed"), timeout_s=60)
    assert done["status"] == "failed" and done["error"] == "exceeded its wall-time limit of 3 s: its worker was killed"
    after = submit(alice, zip_dir(TELEPORT), runs=1).json()
    assert wait_job(alice, after["id"], ("done", "failed"), timeout_s=90)["status"] == "done"
    assert _runs(alice, after["id"])[0]["ok"], _runs(alice, after["id"])


def test_cpu_time_limit_kills_a_spinning_application(alice):
    job = submit(alice, zip_dir(MISBEHAVE), "spin.zip", runs=1, cpu_time_s=4, inputs={"holder": {"mode": "spin"}}).json()
    done = wait_job(alice, job["id"], ("done", "failed"), timeout_s=60)
    assert done["status"] == "failed" and done["error"] == "exceeded its CPU-time limit of 4 s: its worker was killed"


def test_memory_limit_fails_a_large_allocation_inside_the_application(alice):
    job = submit(alice, zip_dir(MISBEHAVE), "alloc.zip", runs=1, memory_mb=2048,
                 inputs={"holder": {"mode": "allocate", "gigabytes": 3}}).json()
    done = wait_job(alice, job["id"], ("done", "failed"), timeout_s=60)
    assert done["status"] == "done"  # the worker survived; the run records the role's error
    run = _runs(alice, job["id"])[0]
    assert not run["ok"] and run["errors"]["holder"].startswith("MemoryError")
    assert run["results"]["partner"] == {"partner": "done"}
    assert done["statistics"]["failed_runs"] == 1


def test_jobs_sharing_roles_wait_for_each_other_while_others_run_alongside(alice, tmp_path):
    release = tmp_path / "release"
    first = submit(alice, zip_dir(HOLD), "hold.zip", runs=1, inputs={"holder": {"release": str(release)}}).json()
    wait_job(alice, first["id"], ("running",))
    second = submit(alice, zip_dir(HOLD), "hold.zip", runs=1, inputs={"holder": {"release": str(release)}}).json()
    other = submit(alice, zip_dir(TELEPORT), runs=2).json()  # roles sender/receiver: runs beside the first
    assert wait_job(alice, other["id"], ("done", "failed"))["statistics"]["ok_runs"] == 2
    assert alice.get(f"/api/jobs/{first['id']}").json()["status"] == "running"
    assert alice.get(f"/api/jobs/{second['id']}").json()["status"] == "queued"  # holder/partner are taken
    release.write_text("go")
    for job in (first, second):
        done = wait_job(alice, job["id"], ("done", "failed"))
        assert done["status"] == "done", done
        assert _runs(alice, job["id"])[0]["results"]["partner"]["agree"] is True


def test_cancelling_queued_and_running_jobs(alice, tmp_path):
    release = tmp_path / "release"
    running = submit(alice, zip_dir(HOLD), "hold.zip", runs=1, inputs={"holder": {"release": str(release)}}).json()
    wait_job(alice, running["id"], ("running",))
    queued = submit(alice, zip_dir(HOLD), "hold.zip", runs=1).json()
    assert alice.delete(f"/api/jobs/{queued['id']}").json()["status"] == "cancelled"
    alice.delete(f"/api/jobs/{running['id']}")
    done = wait_job(alice, running["id"], ("cancelled", "failed", "done"))
    assert done["status"] == "cancelled" and done["error"] == "cancelled by its owner"
    assert alice.delete(f"/api/jobs/{running['id']}").status_code == 409


# ---- the README's client example --------------------------------------------------------------------
def test_readme_python_client_example_runs(service, tmp_path):
    block = re.search(r"```python jobs-client\n(.*?)```", README.read_text(), flags=re.S)
    assert block, "README has a ```python jobs-client example"
    result = subprocess.run([sys.executable, "-c", block.group(1)], capture_output=True, text=True, timeout=180,
                            cwd=tmp_path,
                            env={**os.environ, "QNODEOS_JOBS_URL": service.url,
                                 "QNODEOS_JOBS_TOKEN": service.tokens["alice"]})
    assert result.returncode == 0, result.stderr
    assert re.search(r"receiver\.fidelity: 1\.0\d* ± ", result.stdout), result.stdout


def test_the_readme_curl_example_submits_a_job(service, alice, tmp_path):
    block = re.search(r"```sh jobs-curl\n(.*?)```", README.read_text(), flags=re.S)
    assert block, "README has a ```sh jobs-curl example"
    env = {**os.environ, "QNODEOS_JOBS_URL": service.url, "QNODEOS_JOBS_TOKEN": service.tokens["alice"],
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", block.group(1)], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout.splitlines()[0])
    assert job["app"] == "teleport" and job["runs"] == 10 and job["inputs"] == {"sender": {"theta": 1.2}}
    assert wait_job(alice, job["id"], ("done", "failed"))["status"] == "done"

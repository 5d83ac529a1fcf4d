"""Test support for the job service: a served network in this process (a mock network whose node
services each listen on an authenticated host link, as `qnodeos serve` nodes do), archives of
application directories, and the job service as a real uvicorn process on a free loopback port."""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import tomli_w

from qnodeos.apps.local_network import LocalNetwork
from qnodeos.network.host_link import HostLinkServer
from qnodeos.network.keys import NodeKeys, generate_keypair

ROOT = Path(__file__).resolve().parent.parent
JOB_APPS = Path(__file__).resolve().parent / "job_apps"
TELEPORT = ROOT / "os_core" / "demos" / "apps" / "teleport"
HOLD = JOB_APPS / "hold"
#: Applications the served test network routes messages for (role -> node).
PLACEMENT = {"sender": "sender", "receiver": "receiver", "holder": "sender", "partner": "receiver"}


def netqasm_app(name: str) -> Path:
    import netqasm

    return Path(netqasm.__file__).parent / "examples" / "apps" / name


class ServedTestNetwork:
    """Two served mock nodes (``sender``, ``receiver``) with CURVE-keyed host links."""

    def __init__(self, platform: str = "trapped_ion", preset: str = "ideal", seed: int = 4,
                 placement: dict[str, str] | None = None) -> None:
        self.placement = dict(placement or PLACEMENT)
        nodes = list(dict.fromkeys(self.placement.values()))
        self.network = LocalNetwork(platform, nodes, seed=seed, preset=preset, node_of_role=self.placement).start()
        self.host_public, self.host_secret = generate_keypair()
        self.node_keys = {n: NodeKeys(*generate_keypair()) for n in nodes}
        self.servers = {n: HostLinkServer(s, keys=self.node_keys[n], host_keys={"jobs": self.host_public}).start()
                        for n, s in self.network.services.items()}

    def config(self) -> dict[str, Any]:
        return {"network": {"name": "test network"},
                "hosts": {"public": self.host_public, "secret": self.host_secret},
                "nodes": {n: {"address": s.address, "public_key": self.node_keys[n].public}
                          for n, s in self.servers.items()},
                "placement": self.placement}

    def write_config(self, path: Path) -> Path:
        path.write_text(tomli_w.dumps(self.config()))
        return path

    def close(self) -> None:
        for server in self.servers.values():
            server.close()
        self.network.stop()


def zip_dir(path: Path, prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for f in sorted(path.rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts:
                zf.write(f, prefix + f.relative_to(path).as_posix())
    return buffer.getvalue()


def tar_gz_dir(path: Path, arcname: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        tf.add(path, arcname=arcname, filter=lambda info: None if "__pycache__" in info.name else info)
    return buffer.getvalue()


class ServiceProcess:
    """``qnodeos jobs serve`` in a subprocess on a free loopback port (announced on its stdout)."""

    def __init__(self, network_file: Path, data: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.cmd = [sys.executable, "-m", "qnodeos.cli", "jobs", "serve", "--network", str(network_file),
                    "--data", str(data), "--port", "0", *extra]
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.output: list[str] = []

    def start(self, timeout_s: float = 60.0) -> "ServiceProcess":
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=self.env)
        found = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line)
                if not found.is_set() and "serving network" in line:
                    self.url = line.split(" on ", 1)[1].split(" ", 1)[0]
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(timeout_s):
            self.kill()
            raise RuntimeError("the job service did not start:\n" + "".join(self.output))
        return self

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def terminate(self, timeout_s: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def add_user(data: Path, name: str) -> str:
    out = subprocess.run([sys.executable, "-m", "qnodeos.cli", "jobs", "add-user", name, "--data", str(data)],
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


def wait_for(predicate: Any, timeout_s: float, what: str, interval_s: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned), failing after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what} (last: {last!r})")


def wait_job(client: httpx.Client, job_id: str, statuses: tuple[str, ...], timeout_s: float = 120) -> dict:
    def check() -> dict | None:
        doc = client.get(f"/api/jobs/{job_id}").json()
        return doc if doc["status"] in statuses else None

    return wait_for(check, timeout_s, f"job {job_id} to be {'/'.join(statuses)}")


def submit(client: httpx.Client, archive: bytes, filename: str = "app.zip", **fields: Any) -> httpx.Response:
    data = {k: (json.dumps(v) if k == "inputs" else str(v)) for k, v in fields.items()}
    return client.post("/api/jobs", files={"archive": (filename, archive, "application/octet-stream")}, data=data)


__all__ = ["ServedTestNetwork", "ServiceProcess", "zip_dir", "tar_gz_dir", "add_user", "wait_for", "wait_job",
           "submit", "TELEPORT", "HOLD", "netqasm_app", "shutil"]

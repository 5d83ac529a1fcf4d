"""Served networks: the world and each node as long-lived services, application hosts connecting to
running nodes over authenticated host links (``qnodeos world|serve|up`` and ``qnodeos run APP_DIR
--network NET`` with a ``[serve]`` table).

In-process tests run the world and the nodes on threads of this process (the same code the commands
run); the process tests start the commands as real child processes and signal or kill them.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Iterator

import netqasm
import pytest

from qnodeos.cli import main
from qnodeos.network.keys import write_key_files
from qnodeos.serve import Deployment, DeploymentError, connect_hosts
from qnodeos.serve.processes import ServedNode, run_world

APPS = Path(netqasm.__file__).parent / "examples" / "apps"
PAIRS_APP = Path(__file__).parents[1] / "os_core" / "realism" / "apps" / "pairs"
NODES = ("alice", "bob")


def _free_block(n: int) -> int:
    """A first port of ``n`` consecutive ports that are free on loopback now."""
    for _ in range(200):
        base = random.randrange(20000, 60000 - n)
        socks = []
        try:
            for port in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free block of ports")


def write_network(folder: Path, *, platform: str = "mock-trapped-ion", preset: str = "ideal",
                  extra_serve: str = "") -> Path:
    """A two-node served network (alice, bob) on free loopback ports, with its keys."""
    base = _free_block(12)
    write_key_files([*NODES, "world", "hosts"], folder / "keys")
    size = "ions = 5" if platform == "mock-trapped-ion" else "carbons = 4"  # as `qnodeos run` sizes app nodes
    text = [f'[nodes.{n}]\ndriver = "{platform}"\nconfig = {{ preset = "{preset}", {size} }}\n' for n in NODES]
    text.append(f'[serve]\nkeys = "keys"\nworld = "tcp://127.0.0.1:{base}"\nseed = 3\n{extra_serve}\n'
                '[serve.roles]\nsender = "alice"\nreceiver = "bob"\n')
    for i, n in enumerate(NODES):
        text.append(f'[serve.nodes.{n}]\nmailbox = "tcp://127.0.0.1:{base + 6 + 2 * i}"\n'
                    f'hosts = "tcp://127.0.0.1:{base + 7 + 2 * i}"\n')
    path = folder / "network.toml"
    path.write_text("\n".join(text))
    return path


@contextlib.contextmanager
def served_in_process(path: Path) -> Iterator[dict[str, ServedNode]]:
    """The world and both nodes of ``path`` on threads of this process."""
    deployment = Deployment.load(path)
    stop, ready = threading.Event(), threading.Event()
    world = threading.Thread(target=run_world, args=(deployment, stop, ready.set), daemon=True)
    world.start()
    assert ready.wait(30), "the world did not start"
    nodes: dict[str, ServedNode] = {}
    try:
        for name in NODES:
            nodes[name] = ServedNode(deployment, name).start()
        yield nodes
    finally:
        for node in nodes.values():
            node.stop()
        stop.set()
        world.join(timeout=10)


def _wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# ---- the [serve] table ------------------------------------------------------------------------------
@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("[serve]", "[serving]").replace("[serve.", "[serving."), "no [serve] table"),
    (lambda t: t.replace('world = "tcp://127.0.0.1:', 'world = "udp://127.0.0.1:'), "serve.world"),
    (lambda t: t.replace('keys = "keys"', 'keys = "nowhere"'), "serve.keys"),
    (lambda t: t.replace('receiver = "bob"', 'receiver = "carol"'), "serve.roles places ['receiver']"),
    (lambda t: t.replace("seed = 3", "seed = -1"), "serve.seed"),
    (lambda t: t.replace("seed = 3", "seed = 3\nport = 1"), "unknown key(s) ['port']"),
    (lambda t: t.replace("[serve.nodes.bob]", "[serve.nodes.carol]"), "serve.nodes.bob is missing"),
])
def test_bad_serve_tables_are_refused_naming_the_field(tmp_path, edit, message):
    path = write_network(tmp_path)
    path.write_text(edit(path.read_text()))
    with pytest.raises(DeploymentError) as err:
        Deployment.load(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_a_key_file_that_does_not_trust_the_world_is_refused(tmp_path):
    path = write_network(tmp_path)
    write_key_files(["alice", "bob"], tmp_path / "keys", overwrite=True)  # alice's file lists no world
    with pytest.raises(DeploymentError, match="lists no public key for"):
        Deployment.load(path)


# ---- hosts against running nodes ----------------------------------------------------------------------
def test_netqasm_teleport_runs_against_served_nodes_and_again(tmp_path, capsys):
    """netqasm's teleport example, unchanged, twice against the same running nodes: the receiver's
    state is the sender's (ideal ions), and the run's timeline holds both nodes' rows."""
    path = write_network(tmp_path)
    with served_in_process(path) as nodes:
        fidelities = []
        for run in range(2):
            trace = tmp_path / f"t{run}.json"
            code = main(["run", str(APPS / "teleport"), "--network", str(path), "--json", "--no-logs",
                         "--input", "sender.phi=0.7", "--input", "sender.theta=1.1", "--trace", str(trace)])
            out = json.loads(capsys.readouterr().out)
            assert code == 0, out
            received = out["results"]["receiver"]
            fidelities.append(received["fidelity"])
            rows = json.loads(trace.read_text())["nodes"]
            assert set(rows) == set(NODES)
            assert {r["process"] for r in rows["alice"]["entries"]} >= {"sender"}
            assert {r["process"] for r in rows["bob"]["entries"]} >= {"receiver"}
        assert min(fidelities) > 0.99
        for node in nodes.values():  # nothing left behind on the nodes
            state = node.service.dashboard_state()
            assert state["entanglement"] == []
            users = [p for p in state["processes"] if p["pid"] != 0]
            assert len(users) == 2 and all(p["state"] == "done" and not p["qubits"] for p in users), users


#: netqasm's two-node example applications, and where their roles run on the served alice and bob
EXAMPLES = ("bb84", "blind_grover", "blind_rotation", "dist_cnot", "link_layer_ck", "link_layer_md",
            "magic_square", "multiple_files", "single_node", "teleport")
EXAMPLE_PLACEMENT = {"client": "alice", "server": "bob", "controller": "alice", "target": "bob",
                     "player1": "alice", "player2": "bob", "sender": "alice", "receiver": "bob"}


def test_netqasm_example_apps_run_unchanged_against_the_same_served_nodes(tmp_path):
    """Every two-node example of netqasm, one after the other, as hosts of this process against one
    pair of running nodes: each finishes without error and leaves nothing allocated behind."""
    from qnodeos.apps.runner import run_app_on_nodes

    path = write_network(tmp_path)
    with served_in_process(path) as nodes:
        links = connect_hosts(Deployment.load(path))
        try:
            for app in EXAMPLES:
                run = run_app_on_nodes(APPS / app, links, placement=EXAMPLE_PLACEMENT, timeout_s=120)
                assert not run.errors, (app, run.errors)
                assert set(run.results) == {p.name[4:-3] for p in (APPS / app).glob("app_*.py")}, app
        finally:
            for link in links.values():
                link.close()
        for node in nodes.values():
            state = node.service.dashboard_state()
            assert state["entanglement"] == []
            assert all(p["state"] == "done" and not p["qubits"] for p in state["processes"] if p["pid"]), \
                state["processes"]


def test_stopping_a_node_tells_its_peers(tmp_path):
    path = write_network(tmp_path)
    with served_in_process(path) as nodes:
        nodes["bob"].stop()
        _wait_for(lambda: nodes["alice"].service.dashboard_state()["network"]["peers_gone"] == ["bob"], 20,
                  "alice to hear that bob left")


def test_a_host_without_the_hosts_key_is_not_served(tmp_path):
    from qnodeos.network.host_link import RemoteNodeService

    path = write_network(tmp_path)
    deployment = Deployment.load(path)
    alice_public = deployment.keys("hosts").peers["alice"]
    with served_in_process(path):
        stranger = RemoteNodeService(deployment.nodes["alice"].hosts, server_key=alice_public, timeout_s=30)
        try:
            started = time.monotonic()
            with pytest.raises(ConnectionError, match="does not accept this host's key"):
                stranger.node_state()
            assert time.monotonic() - started < 10  # the link's silence limit, not the call's time-out
        finally:
            stranger.close()
        links = connect_hosts(deployment, ["alice"], timeout_s=10)
        try:
            assert links["alice"].node_state()["node"] == "alice"
        finally:
            links["alice"].close()


def test_options_that_make_a_network_are_refused_for_a_served_one(tmp_path, capsys):
    path = write_network(tmp_path)
    code = main(["run", str(APPS / "teleport"), "--network", str(path), "--seed", "1", "--mode", "threads"])
    err = capsys.readouterr().err
    assert code == 2 and "--mode, --seed do not apply to the served network" in err


def test_roles_placed_on_no_served_node_are_refused(tmp_path, capsys):
    path = write_network(tmp_path)
    code = main(["run", str(APPS / "chsh"), "--network", str(path)])  # roles alice, bob, repeater
    err = capsys.readouterr().err
    assert code == 2 and "run on no node of" in err and "repeater" in err


# ---- the commands as processes --------------------------------------------------------------------------
def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "qnodeos.cli", *args]


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _wait_line(log: Path, text: str, timeout_s: float = 60) -> None:
    _wait_for(lambda: text in log.read_text(errors="replace"), timeout_s, f"{text!r} in {log.name}: "
              f"{log.read_text(errors='replace')[-500:] if log.exists() else ''}")


def _processes_with(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmd and int(entry.name) != os.getpid():
                pids.append(int(entry.name))
    return pids


def _app_sources_zip(folder: Path) -> bytes:
    """An application directory's ``app_*.py`` files alone, as a zip (its YAML files stay out)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for source in folder.glob("app_*.py"):
            zf.write(source, source.name)
    return out.getvalue()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_up_runs_apps_from_the_cli_and_as_jobs_and_stops_every_part_on_sigterm(tmp_path):
    httpx = pytest.importorskip("httpx")
    path = write_network(tmp_path)
    log = tmp_path / "up.log"
    up = _start(_cli("up", str(path), "--jobs-port", "0"), log)
    try:
        _wait_line(log, "Ctrl-C stops it")
        assert len(_processes_with(str(path))) == 5  # up, the world, two nodes, the job service
        run = subprocess.run(_cli("run", str(APPS / "teleport"), "--network", str(path), "--json", "--no-logs"),
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["results"]["receiver"]["fidelity"] > 0.99

        # the same application submitted over HTTP to the job service `up` started, as its demo user
        url = log.read_text().split("job service and dashboard: ", 1)[1].split("/ ", 1)[0]
        token = (tmp_path / "jobs" / "demo.token").read_text().strip()
        assert (tmp_path / "jobs" / "demo.token").stat().st_mode & 0o077 == 0
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            job = client.post("/api/jobs", files={"archive": ("teleport.zip", _app_sources_zip(APPS / "teleport"))},
                              data={"runs": "3", "inputs": '{"sender": {"theta": 1.2, "phi": 0.3}}'})
            assert job.status_code == 201, job.text
            job_id = job.json()["id"]
            _wait_for(lambda: client.get(f"/api/jobs/{job_id}").json()["status"] not in ("queued", "running"),
                      120, "the job to end")
            done = client.get(f"/api/jobs/{job_id}").json()
            assert done["status"] == "done", done
            fidelity = done["statistics"]["quantities"]["receiver.fidelity"]
            assert fidelity["n"] == 3 and fidelity["mean"] > 0.99
            timeline = client.get(f"/api/jobs/{job_id}/timeline").json()
            processes = {n: {r["process"] for r in t["entries"]} for n, t in timeline["nodes"].items()}
            assert processes == {"alice": {"sender", "network"}, "bob": {"receiver", "network"}}
            assert all(t["meta"]["trace"]["complete"] for t in timeline["nodes"].values())
            picture = client.get(f"/api/jobs/{job_id}/timeline.png")
            assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
            assert sorted(client.get("/api/nodes").json()["nodes"]) == ["alice", "bob"]

        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=30) == 0
        assert "network stopped" in log.read_text()
        _wait_for(lambda: not _processes_with(str(path)), 10, "the world, the nodes and the job service to end")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(up.pid, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_node_killed_during_a_job_fails_the_job_naming_it_and_the_rest_keeps_running(tmp_path):
    httpx = pytest.importorskip("httpx")
    path = write_network(tmp_path)
    log = tmp_path / "up.log"
    up = _start(_cli("up", str(path), "--jobs-port", "0"), log)
    try:
        _wait_line(log, "Ctrl-C stops it")
        url = log.read_text().split("job service and dashboard: ", 1)[1].split("/ ", 1)[0]
        token = (tmp_path / "jobs" / "demo.token").read_text().strip()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            job = client.post("/api/jobs", files={"archive": ("pairs.zip", _app_sources_zip(PAIRS_APP))},
                              data={"runs": "2", "inputs": '{"alice": {"n": 1000000}, "bob": {"n": 1000000}}'}).json()
            _wait_for(lambda: client.get(f"/api/jobs/{job['id']}").json()["status"] == "running"
                      and client.get("/api/nodes").json()["nodes"]["bob"].get("entanglement") is not None, 60,
                      "the job to run")
            bob = [p for p in _processes_with(str(path)) if "--node bob" in
                   Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode()]
            os.kill(bob[0], signal.SIGKILL)
            _wait_for(lambda: client.get(f"/api/jobs/{job['id']}").json()["status"] != "running", 60,
                      "the job to end")
            failed = client.get(f"/api/jobs/{job['id']}").json()
            assert failed["status"] == "failed" and "bob" in failed["error"], failed
            _wait_line(log, "node bob ended on its own (exit code -9)")
            assert up.poll() is None  # the world, alice and the job service still run
            assert len(_processes_with(str(path))) == 4
            assert client.get("/api/health").status_code == 200
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=30) == 1  # a part had ended on its own
        assert "network stopped (node bob had ended on its own)" in log.read_text()
        _wait_for(lambda: not _processes_with(str(path)), 10, "the rest to end")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(up.pid, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_up_stops_the_rest_when_a_part_dies_and_its_children_die_with_it(tmp_path):
    path = write_network(tmp_path)
    log = tmp_path / "up.log"
    up = _start(_cli("up", str(path), "--no-jobs"), log)
    try:
        _wait_line(log, "network up")
        world = [p for p in _processes_with(str(path)) if "world" in Path(f"/proc/{p}/cmdline").read_text()]
        os.kill(world[0], signal.SIGKILL)
        assert up.wait(timeout=30) == 1
        assert "world ended on its own" in log.read_text()
        _wait_for(lambda: not _processes_with(str(path)), 10, "the nodes to end")
        # and a launcher killed outright takes its children with it
        up = _start(_cli("up", str(path), "--no-jobs"), tmp_path / "up2.log")
        _wait_line(tmp_path / "up2.log", "network up")
        up.kill()
        _wait_for(lambda: not _processes_with(str(path)), 20, "the orphaned parts to end")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(up.pid, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_node_killed_during_a_run_fails_the_run_and_leaves_its_peer_clean(tmp_path):
    """kill -9 of bob's node while alice's host waits for pairs: the world takes bob's silence as
    leaving, alice's request fails naming bob, and alice's node holds no process or qubit after."""
    path = write_network(tmp_path, platform="mock-nv", preset="realistic")
    world = _start(_cli("world", str(path)), tmp_path / "world.log")
    parts = [world]
    try:
        _wait_line(tmp_path / "world.log", "ready")
        for name in NODES:
            parts.append(_start(_cli("serve", str(path), "--node", name), tmp_path / f"{name}.log"))
            _wait_line(tmp_path / f"{name}.log", "ready")
        run = subprocess.Popen(_cli("run", str(PAIRS_APP), "--network", str(path), "--json", "--no-logs",
                                    "--input", "alice.n=100000", "--input", "bob.n=100000"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deployment = Deployment.load(path)
        links = connect_hosts(deployment, ["alice"], timeout_s=10)
        try:
            _wait_for(lambda: links["alice"].node_state()["network"]["pairs_delivered"] > 0, 60, "pairs")
            parts[2].kill()  # bob
            out, err = run.communicate(timeout=60)
            assert run.returncode == 1, err
            errors = json.loads(out)["errors"]
            assert "bob" in errors["alice"] and "left the network" in errors["alice"]
            state = links["alice"].node_state()
            assert state["network"]["peers_gone"] == ["bob"]
            assert state["entanglement"] == []
            assert all(p["state"] in ("done", "failed") and not p["qubits"] for p in state["processes"] if p["pid"])
        finally:
            links["alice"].close()
    finally:
        for part in parts:
            with contextlib.suppress(ProcessLookupError):
                part.send_signal(signal.SIGTERM)
        for part in parts:
            try:
                part.wait(timeout=15)
            except subprocess.TimeoutExpired:
                part.kill()


def test_a_host_killed_during_a_run_has_its_processes_ended_and_qubits_freed(tmp_path):
    """kill -9 of the process running both hosts while they hold pairs: each node notices the host
    link's silence, ends the host's processes and frees their qubits; the nodes serve the next run."""
    path = write_network(tmp_path)
    with served_in_process(path) as nodes:
        run = subprocess.Popen(_cli("run", str(PAIRS_APP), "--network", str(path), "--json", "--no-logs",
                                    "--input", "alice.n=100000", "--input", "bob.n=100000"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for(lambda: nodes["alice"].service.dashboard_state()["network"]["pairs_delivered"] > 0, 60, "pairs")
            assert run.poll() is None, "the run ended before it could be killed"
            run.kill()
            run.wait(timeout=10)

            def clean() -> bool:
                states = [n.service.dashboard_state() for n in nodes.values()]
                users = [p for s in states for p in s["processes"] if p["pid"]]
                return bool(users) and all(p["state"] == "failed" and not p["qubits"] for p in users)
            _wait_for(clean, 30, "the hosts' processes to be ended")
            errors = [p["error"] for n in nodes.values() for p in n.service.dashboard_state()["processes"] if p["pid"]]
            # a node's process ends as its host falls silent, or earlier, when its peer's process ended
            # first and took the pair requests with it: each says why, and at least one the silence
            assert all(errors) and any("stopped answering" in e for e in errors), errors
        finally:
            run.kill()
        again = subprocess.run(_cli("run", str(PAIRS_APP), "--network", str(path), "--json", "--no-logs",
                                    "--input", "alice.n=3", "--input", "bob.n=3"),
                               capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["results"] == {"alice": {"pairs": 3}, "bob": {"pairs": 3}}

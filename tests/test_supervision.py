"""Supervision of application runs (issue 10 items 3, 4, 11 and 12).

* A ``qnodeos run APP_DIR`` killed by SIGKILL or SIGTERM leaves no world or node process behind,
  frees their ports and leaves nothing in the temporary directory.
* Ctrl-C (SIGINT to the whole process group) ends the run with one line and no traceback from any
  child: the children leave SIGINT to the runner.
* A frozen node (SIGSTOP) costs only its own roles: the other nodes' results are reported.
* A hung role costs the run's deadline, no more: the run ends at ``timeout_s`` and the role is stopped
  (its thread in threads mode, its node process in processes mode).

Every wait here is a bounded poll or an event; nothing sleeps a fixed time.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import qnodeos.apps.processes
from qnodeos.apps.runner import STOP_GRACE_S, run_app_dir

APPS = Path(__file__).parent / "network_apps"
HUNG = APPS / "hung_role"


# ---- the process table, from /proc ------------------------------------------------------------------
def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields after "pid (comm)": state, ppid, ...


def alive(pid: int) -> bool:
    """Running or stopped, not gone and not a zombie."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def listening_ports(pid: int) -> set[int]:
    """TCP ports ``pid`` listens on (its socket inodes matched against /proc/net/tcp)."""
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return set()
    return {port for port, inode in _listeners() if inode in inodes}


def _listeners() -> list[tuple[int, str]]:
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                out.append((int(fields[1].rsplit(":", 1)[1], 16), fields[9]))
    return out


def port_free(port: int) -> bool:
    if any(p == port for p, _ in _listeners()):
        return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until(predicate, timeout: float, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def sigint_ignored(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


def start_cli_run(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, Path]:
    """``qnodeos run hung_role`` in its own session, with a private TMPDIR; returns once the stuck
    role has started (its marker file exists)."""
    marker = tmp_path / "started"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "qnodeos.cli", "run", str(HUNG), "--no-logs", "--json",
                             "--input", f"stuck.marker={marker}", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "TMPDIR": str(tmp)})
    if not wait_until(marker.exists, timeout=60):
        proc.kill()
        pytest.fail(f"the run did not start: {proc.communicate()}")
    return proc, tmp


# ---- item 3: the runner killed ------------------------------------------------------------------------
@pytest.mark.parametrize("sig, mode", [(signal.SIGKILL, "processes"), (signal.SIGTERM, "processes"),
                                       (signal.SIGTERM, "threads")], ids=["SIGKILL", "SIGTERM", "SIGTERM-threads"])
def test_killing_the_runner_leaves_no_process_port_or_temporary_file(tmp_path, sig, mode):
    """(SIGKILL in threads mode is not here: nothing at all runs after it, so the run's scratch
    directory stays; in processes mode the world process removes it.)"""
    proc, tmp = start_cli_run(tmp_path, "--mode", mode)
    kids = children(proc.pid)
    assert len(kids) >= (2 if mode == "processes" else 0), kids  # the world, and at least the stuck role's node
    assert len(list(tmp.iterdir())) == 1  # the run's scratch directory (netqasm's logs)
    ports = set().union(*(listening_ports(p) for p in [proc.pid, *kids]))
    assert len(ports) >= (7 if mode == "processes" else 2), ports  # 3 world sockets a node, the mailboxes
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    if sig == signal.SIGTERM:
        assert proc.returncode == 143 and err.strip() == "qnodeos run: terminated", (proc.returncode, err)
    assert wait_until(lambda: not any(alive(k) for k in kids), timeout=10), [k for k in kids if alive(k)]
    assert wait_until(lambda: all(port_free(p) for p in ports), timeout=10), [p for p in ports if not port_free(p)]
    assert wait_until(lambda: list(tmp.iterdir()) == [], timeout=10), list(tmp.iterdir())


# ---- item 11: Ctrl-C -------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["processes", "threads"])
def test_ctrl_c_ends_the_run_with_one_line_and_no_traceback(tmp_path, mode):
    proc, tmp = start_cli_run(tmp_path, "--mode", mode)
    kids = children(proc.pid)
    if mode == "processes":
        assert kids and all(sigint_ignored(k) for k in kids), "the children do not leave Ctrl-C to the runner"
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert err.strip() == "qnodeos run: interrupted", err
    assert wait_until(lambda: not any(alive(k) for k in kids), timeout=10)
    assert list(tmp.iterdir()) == []


# ---- item 4: a frozen node -------------------------------------------------------------------------
def test_a_frozen_node_fails_only_its_own_roles(tmp_path, monkeypatch):
    """Node ``alone`` (first in the runner's order) is frozen with SIGSTOP; ``sender`` and ``receiver``
    still share an entangled pair and report it.

    The nodes share one simulated timeline, so a node that is frozen *while it holds the turn* stops
    every node; one frozen while it waits with nothing scheduled (here: a receive nobody will answer)
    stops nobody. The sender's first round trip proves that ``alone`` has joined the timeline and waits
    in a receive; the sender then holds its turn until the test, having frozen ``alone``, says go."""
    monkeypatch.setattr(qnodeos.apps.processes, "REPORT_GRACE_S", 1.0)  # the frozen node is killed sooner
    marker, go = tmp_path / "ready", tmp_path / "go"
    frozen: list[int] = []

    def freeze_alone() -> None:
        if wait_until(marker.exists, timeout=60):
            for proc in multiprocessing.active_children():  # the runner forks from this process
                if proc.name == "qnodeos-node-alone":
                    os.kill(proc.pid, signal.SIGSTOP)
                    frozen.append(proc.pid)
        go.write_text("go")

    helper = threading.Thread(target=freeze_alone, daemon=True)
    helper.start()
    start = time.monotonic()
    run = run_app_dir(APPS / "frozen_node", "trapped_ion", seed=3, preset="ideal", mode="processes", timeout_s=10,
                      overrides={"sender": {"marker": str(marker), "go": str(go)}})
    elapsed = time.monotonic() - start
    helper.join(timeout=5)
    assert frozen, "the node process of 'alone' was not found"
    assert "no answer within the run's deadline" in run.errors.get("alone", ""), run.errors
    assert set(run.errors) == {"alone"}, run.errors
    sender, receiver = run.results["sender"], run.results["receiver"]
    assert sender["local"] == 1 and sender["epr"] == receiver["epr"] == receiver["sender_says"]
    assert elapsed < 10 + 1.0 + 8, elapsed
    assert wait_until(lambda: not any(alive(p) for p in frozen), timeout=10)


# ---- item 12: a hung role ----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_a_hung_role_costs_the_deadline_and_is_stopped(mode):
    start = time.monotonic()
    run = run_app_dir(HUNG, "nv", seed=1, mode=mode, timeout_s=3)
    elapsed = time.monotonic() - start
    assert run.results["quick"] == {"answer": 42} and "quick" not in run.errors
    assert run.errors["stuck"] == "did not finish within the run's deadline (3 s)", run.errors
    assert elapsed < 3 + STOP_GRACE_S + 3, elapsed
    # nothing runs on: no role thread here, no node or world process
    assert wait_until(lambda: not [t for t in threading.enumerate() if t.name == "app-stuck"], timeout=5)
    assert wait_until(lambda: not multiprocessing.active_children(), timeout=5)


def test_a_role_blocked_outside_python_is_named_when_it_cannot_be_stopped():
    run = run_app_dir(HUNG, "nv", seed=1, mode="threads", timeout_s=2, overrides={"stuck": {"how": "sleep"}})
    assert run.results["quick"] == {"answer": 42}
    assert run.errors["stuck"].startswith("did not finish within the run's deadline (2 s); its thread could not "
                                          "be stopped"), run.errors
    assert "processes mode" in run.errors["stuck"]

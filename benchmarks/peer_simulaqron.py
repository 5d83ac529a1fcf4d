"""Set up and drive the peer stack of bench_network.py: netqasm 2.3.0 on its SimulaQron backend.

The peer lives in its own virtual environment (``benchmarks/.peer-venv`` by default) because
simulaqron pins numpy<2. Versions: netqasm 2.3.0, simulaqron 4.1.2, qutip<5, projectq 0.8.0 (built
with old setuptools and no build isolation; the current setuptools cannot build it).

Each app run is ``netqasm simulate --app-dir APP --simulator=simulaqron`` started in a new session
(its own process group) with HOME pointed at a scratch directory, a ``simulaqron_network.json`` that
lists every role at 127.0.0.1 in the working directory, and a hard timeout after which the whole
group is killed. Every started group is also killed on exit of the benchmark.

    python benchmarks/peer_simulaqron.py setup      # create / check the peer venv
    python benchmarks/peer_simulaqron.py run APP_DIR
"""
from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_VENV = HERE / ".peer-venv"
PINS = ["netqasm==2.3.0", "simulaqron==4.1.2", "qutip<5", "numpy<2"]
BUILD_PINS = ["setuptools<70", "setuptools_scm<8", "wheel", "pybind11"]
PROJECTQ = "projectq==0.8.0"
READY_MARK = "qnodeos-peer-ready.json"

_LIVE_GROUPS: set[int] = set()


def _kill_group(pgid: int, grace_s: float = 2.0) -> None:
    """SIGTERM the process group ``pgid``, then SIGKILL what is left after ``grace_s``."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        _LIVE_GROUPS.discard(pgid)
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _LIVE_GROUPS.discard(pgid)


def kill_all_started() -> None:
    for pgid in list(_LIVE_GROUPS):
        _kill_group(pgid, grace_s=0.5)


atexit.register(kill_all_started)


def run_in_group(cmd: list[str], *, timeout_s: float, cwd: Path | None = None, env: dict | None = None,
                 ) -> tuple[int | None, str, float]:
    """Run ``cmd`` in its own session; kill the whole group afterwards (always) or on timeout.

    Returns (exit code or None on timeout, combined output, wall seconds).
    """
    t0 = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+b") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        _LIVE_GROUPS.add(proc.pid)  # session leader: pgid == pid
        try:
            rc: int | None = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            rc = None
        except BaseException:  # KeyboardInterrupt: do not leave the group behind
            _kill_group(proc.pid, grace_s=0.5)
            proc.wait()
            raise
        wall = time.perf_counter() - t0
        _kill_group(proc.pid)  # SimulaQron's node processes outlive a finished (or killed) parent
        proc.wait()
        out.seek(0)
        text = out.read().decode(errors="replace")
    return rc, text, wall


# ---------------------------------------------------------------------------------------------- setup

@dataclass
class PeerEnv:
    venv: Path
    versions: dict = field(default_factory=dict)

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def netqasm(self) -> Path:
        return self.venv / "bin" / "netqasm"


def _base_python() -> str:
    """A Python interpreter outside any venv (so the peer venv is not layered over the caller's)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return base if Path(base).exists() else sys.executable


def setup_peer(venv: Path = DEFAULT_VENV, *, log=print, timeout_s: float = 1800.0) -> PeerEnv:
    """Create the peer venv if it is not ready; return it. Raises RuntimeError with the pip output on failure."""
    venv = Path(venv)
    mark = venv / READY_MARK
    if mark.exists() and (venv / "bin" / "netqasm").exists():
        return PeerEnv(venv, json.loads(mark.read_text()))
    if venv.exists():
        shutil.rmtree(venv)
    log(f"[peer] creating {venv} (netqasm 2.3.0 + SimulaQron 4.1.2; the projectq build takes a minute or two)")
    steps = [
        [_base_python(), "-m", "venv", str(venv)],
        [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--upgrade", "pip"],
        [str(venv / "bin/python"), "-m", "pip", "install", "-q", *BUILD_PINS],
        [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-build-isolation", PROJECTQ],
        [str(venv / "bin/python"), "-m", "pip", "install", "-q", *PINS],
    ]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    deadline = time.monotonic() + timeout_s
    for cmd in steps:
        left = deadline - time.monotonic()
        rc, text, wall = run_in_group(cmd, timeout_s=max(left, 1.0), env=env)
        if rc != 0:
            raise RuntimeError(f"peer setup step failed ({'timeout' if rc is None else f'exit {rc}'}): "
                               f"{' '.join(cmd)}\n{text[-3000:]}")
        log(f"[peer]   {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))}  ({wall:.0f} s)")
    rc, text, _ = run_in_group(
        [str(venv / "bin/python"), "-c",
         "import json, importlib.metadata as m; print(json.dumps({p: m.version(p) for p in "
         "('netqasm', 'simulaqron', 'projectq', 'qutip', 'numpy')}))"], timeout_s=120, env=env)
    if rc != 0:
        raise RuntimeError(f"peer venv does not import its packages:\n{text[-3000:]}")
    versions = json.loads(text.strip().splitlines()[-1])
    mark.write_text(json.dumps(versions))
    return PeerEnv(venv, versions)


# ------------------------------------------------------------------------------------------------ run

def roles_of(app_dir: Path) -> list[str]:
    return sorted(p.stem[len("app_"):] for p in Path(app_dir).glob("app_*.py"))


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def network_json(roles: list[str]) -> list:
    """SimulaQron network file: every role a node at the literal 127.0.0.1, on free ports."""
    ports = iter(_free_ports(3 * len(roles)))
    nodes = [{r: {"app_socket": ["127.0.0.1", next(ports)], "qnodeos_socket": ["127.0.0.1", next(ports)],
                  "vnode_socket": ["127.0.0.1", next(ports)]}} for r in roles]
    return [{"name": "default", "nodes": nodes, "topology": None}]


@dataclass
class PeerRun:
    ok: bool
    wall_s: float
    rc: int | None
    output: str
    results: dict | None = None

    @property
    def status(self) -> str:
        if self.ok:
            return "ok"
        return "timeout" if self.rc is None else f"failed (exit {self.rc})"

    @property
    def error_line(self) -> str | None:
        """The first exception line of the output (the root cause of a failed run), if any."""
        if self.ok:
            return None
        lines = [ln.strip() for ln in self.output.splitlines() if ln.strip()]
        noise = ("I/O operation on closed file", "KeyboardInterrupt")  # side effects of the teardown
        for ln in lines:
            if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit): ", ln) and not any(x in ln for x in noise):
                return ln[:300]
        return lines[-1][:300] if lines else None


def run_app(peer: PeerEnv, app_dir: Path, *, inputs: dict[str, dict] | None = None, timeout_s: float = 120.0,
            scratch: Path | None = None, extra_args: list[str] | None = None) -> PeerRun:
    """Run one app directory on SimulaQron; ``wall_s`` covers the whole ``netqasm simulate`` process
    (``extra_args``: more options of ``netqasm simulate``, e.g. ``["--num", "5"]``).

    The app directory is copied into a scratch directory (with ``<role>.yaml`` inputs, the network file
    and a fresh HOME), so the original stays untouched and stale state of earlier runs cannot leak in.
    """
    app_dir = Path(app_dir).resolve()
    own_scratch = scratch is None
    work = Path(scratch or tempfile.mkdtemp(prefix="qnodeos-peer-"))
    try:
        app = work / "app"
        shutil.copytree(app_dir, app, ignore=shutil.ignore_patterns("__pycache__", "log", "*.pyc"))
        roles = roles_of(app)
        for role, values in (inputs or {}).items():
            (app / f"{role}.yaml").write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in values.items()))
        (app / "simulaqron_network.json").write_text(json.dumps(network_json(roles), indent=1))
        home = work / "home"
        home.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NETQASM", "PYTHON", "VIRTUAL_ENV"))}
        env.update(HOME=str(home), TMPDIR=str(work), PATH=f"{peer.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
                   VIRTUAL_ENV=str(peer.venv), PYTHONUNBUFFERED="1")
        cmd = [str(peer.netqasm), "simulate", "--app-dir", str(app), "--simulator=simulaqron", *(extra_args or [])]
        rc, text, wall = run_in_group(cmd, timeout_s=timeout_s, cwd=app, env=env)
        results = _read_results(app)
        ok = rc == 0 and not _looks_failed(text)
        return PeerRun(ok, wall, rc, text, results)
    finally:
        if own_scratch:
            shutil.rmtree(work, ignore_errors=True)


def _looks_failed(text: str) -> bool:
    return "Traceback (most recent call last)" in text


def _read_results(app: Path) -> dict | None:
    """netqasm writes ``log/LAST/results.yaml`` (``log/<timestamp>/...``) in the app directory."""
    logs = app / "log"
    if not logs.is_dir():
        return None
    for f in sorted(logs.rglob("results.yaml"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            import yaml
            return yaml.safe_load(f.read_text())
        except Exception:  # noqa: BLE001 - results are informative only
            return None
    return None


def main(argv: list[str] | None = None) -> int:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    r = sub.add_parser("run")
    r.add_argument("app_dir", type=Path)
    r.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    r.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args(argv)
    peer = setup_peer(args.venv)
    print(f"peer venv {peer.venv}: {peer.versions}")
    if args.cmd == "run":
        run = run_app(peer, args.app_dir, timeout_s=args.timeout)
        print(run.output[-4000:])
        print(f"{run.status} in {run.wall_s:.2f} s; results: {run.results}")
        return 0 if run.ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

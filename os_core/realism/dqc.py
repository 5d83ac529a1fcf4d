"""QNodeOS's delegated computation on two mock nodes, and its timing read from the server's trace.

The application (``apps/dqc``: ``app_client.py``, ``app_server.py``) is QNodeOS's DQC (Delle Donne et
al., Nature 639, 321 (2025), Fig. 4a) written with the NetQASM SDK: per repetition the server runs two
subroutines, S1 (make the pair, keep its half) and, once the client's angle has come in, S2 (rotate,
measure); the client runs one, C1 (make the pair, measure its half), and sends the angle.

Each repetition is read back from the server node's timeline (:meth:`qnodeos.trace.Trace.to_dict`):

* **herald**: the server's ``wait_all`` on its pair runs (the pair has been delivered to S1);
* **S1 end**: the last instruction of S1 ends; **S2 start**, **S2 end**: the first and last
  instructions of S2 (the trace's row for the wait on the host, line -1, is not an instruction).

The *waiting time* is S2 start − S1 end (the server's qubit between its two subroutines); the
*end-to-end latency* is S2 end − herald (the server's qubit from the moment it is entangled until it
is measured: the time it must stay coherent). See docs/realism.md for why these two definitions.
"""
from __future__ import annotations

import contextlib
import functools
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from qnodeos.errors import QNodeOSError

if TYPE_CHECKING:
    from qnodeos.network.timing import NetworkTiming

DQC_APP = Path(__file__).parent / "apps" / "dqc"
#: Repetitions of one run are bounded (each keeps ~300 rows of the server's bounded trace).
MAX_REPETITIONS = 500


@dataclass(frozen=True)
class DqcRound:
    """One repetition as the server's trace shows it (device time, ns)."""

    herald_ns: int
    s1_end_ns: int
    s2_start_ns: int
    s2_end_ns: int

    @property
    def waiting_ns(self) -> int:
        """The server's qubit between its two subroutines: S2 start − S1 end."""
        return self.s2_start_ns - self.s1_end_ns

    @property
    def latency_ns(self) -> int:
        """End-to-end: from the herald (pair delivered to S1) to the end of S2 (the server's measurement)."""
        return self.s2_end_ns - self.herald_ns


def server_rounds(trace: Mapping[str, Any]) -> list[DqcRound]:
    """The repetitions of the DQC server in ``trace`` (the server node's trace as a dict), in order.

    S1 is a subroutine of a user process with a ``recv_epr`` instruction; S2 is that process's next
    subroutine. ``ValueError`` when the trace holds no S1, an S1 without its ``wait_all`` or one
    without an S2 after it (a run cut short, or a trace that let rows go)."""
    dropped = trace.get("meta", {}).get("trace", {}).get("dropped", 0)
    if dropped:
        raise ValueError(f"the server's trace let {dropped} rows go: run fewer repetitions")
    subroutines: dict[tuple[int, int], list[Mapping[str, Any]]] = {}
    for entry in trace["entries"]:
        subroutines.setdefault((entry["pid"], entry["subroutine"]), []).append(entry)
    rounds = []
    for (pid, index), rows in sorted(subroutines.items()):
        if not any(r["instruction"].startswith("recv_epr") for r in rows):
            continue
        waits = [r for r in rows if r["instruction"].startswith("wait_all")]
        s2 = [r for r in subroutines.get((pid, index + 1), []) if r["line"] >= 0]
        if not waits or not s2:
            raise ValueError(f"process {pid}, subroutine {index}: an S1 without "
                             f"{'its wait_all' if not waits else 'an S2 after it'} in the server's trace")
        rounds.append(DqcRound(herald_ns=waits[-1]["start_ns"], s1_end_ns=max(r["end_ns"] for r in rows),
                               s2_start_ns=min(r["start_ns"] for r in s2), s2_end_ns=max(r["end_ns"] for r in s2)))
    if not rounds:
        raise ValueError("no DQC server subroutine (one with recv_epr) in the trace")
    return rounds


def run_dqc(platform: str, preset: str, k: int, seed: int, *, alpha_n: int = 0, theta_n: int = 1,
            timing: "NetworkTiming | None" = None) -> tuple[dict[str, Any], list[DqcRound], dict[str, Any]]:
    """Run the DQC application (``k`` repetitions, angles ``alpha_n`` pi/4 and ``theta_n`` pi/4) on two
    mock nodes through the OS and network stack; returns what both roles returned, the server's
    repetitions and both nodes' traces. ``timing``: default the documented lab-like latencies."""
    from qnodeos.apps.runner import run_app_dir

    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_REPETITIONS:
        raise QNodeOSError(f"DQC repetitions must be an integer from 1 to {MAX_REPETITIONS}, not {k!r}")
    with contextlib.redirect_stdout(io.StringIO()):
        run = run_app_dir(DQC_APP, platform, seed=seed, preset=preset, mode="threads", trace=True, timing=timing,
                          overrides={"client": {"k": k, "alpha_n": alpha_n, "theta_n": theta_n}, "server": {"k": k}})
    if run.errors:
        raise QNodeOSError(f"the delegated-computation application failed on {platform}/{preset}: {run.errors}")
    rounds = server_rounds(run.traces["server"])
    if len(rounds) != k:
        raise QNodeOSError(f"the server's trace shows {len(rounds)} repetitions, not {k}")
    return run.results, rounds, run.traces


@functools.lru_cache(maxsize=4)
def timed_rounds(platform: str, preset: str, k: int, seed: int) -> tuple[DqcRound, ...]:
    """:func:`run_dqc`'s repetitions, kept for the next row that asks for the same run (the waiting
    time and the latency are read from one run)."""
    return tuple(run_dqc(platform, preset, k, seed)[1])

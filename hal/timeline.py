"""The contract of networked time: the network schedule and a simulated world's time coordinator.

Two things every node of a network must agree on, whatever drives its device:

* **the network schedule** — entanglement generation happens in time bins assigned to links
  (:class:`LinkSchedule`: bins of ``bin_ns`` every ``period_ns`` from ``offset_ns``), with attempt
  slots inside each bin at the hardware rate. A node's bins on different links never overlap, so its
  communication qubit is shared among its links by construction; both ends of a link attempt in the
  same bins because they read the same schedule.
* **simulated time**, when the nodes are simulated (mock devices, or controllers emulated by firmware
  stubs): a :class:`TimeCoordinator` orders every node's events on one causal timeline. A node
  reports what it will do next (:class:`SyncReport`) and waits for its :class:`Grant`; messages carry
  their delivery time; entanglement attempts are declared as *standing* while a node idles, and the
  coordinator tells both ends when a herald happened. Real devices run on the wall clock and need no
  coordinator.

The coordinator is conservative (no node is ever told about an event from its future) and
sequential: one node acts at a time, the one with the earliest next event; ties go by node order.
See docs/architecture.md ("Time across the network").
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

from .errors import ConfigError

NEVER = math.inf  # "no event scheduled"


@dataclass(frozen=True)
class LinkSchedule:
    """When one link may attempt entanglement: bins ``[offset + k*period, offset + k*period + bin)``.

    Inside a bin the first ``overhead_ns`` go to per-batch preparation (charge-resonance check,
    phase stabilisation), then attempts follow back to back, one per ``attempt_ns``; an attempt that
    would not end inside the bin is not started.
    """

    period_ns: int
    bin_ns: int
    offset_ns: int = 0
    attempt_ns: int = 10_000
    overhead_ns: int = 0

    def __post_init__(self) -> None:
        for name in ("period_ns", "bin_ns", "attempt_ns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"link schedule: {name}={value!r} must be a positive integer (ns)")
        for name in ("offset_ns", "overhead_ns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"link schedule: {name}={value!r} must be a non-negative integer (ns)")
        if self.bin_ns > self.period_ns:
            raise ConfigError(f"link schedule: bin_ns={self.bin_ns} is longer than period_ns={self.period_ns}")
        if self.offset_ns >= self.period_ns:
            raise ConfigError(f"link schedule: offset_ns={self.offset_ns} must be below period_ns={self.period_ns}")
        if self.slots_per_bin < 1:
            raise ConfigError(f"link schedule: a bin of {self.bin_ns} ns holds no attempt of {self.attempt_ns} ns "
                              f"after {self.overhead_ns} ns of overhead")

    @property
    def slots_per_bin(self) -> int:
        return (self.bin_ns - self.overhead_ns) // self.attempt_ns

    def bin_index(self, t_ns: float) -> int:
        """Index of the last bin starting at or before ``t_ns`` (may be -1)."""
        return math.floor((t_ns - self.offset_ns) / self.period_ns)

    def bin_start(self, k: int) -> int:
        return self.offset_ns + k * self.period_ns

    def in_bin(self, t_ns: float) -> bool:
        """Whether ``t_ns`` lies strictly inside a bin (after its start, before its end)."""
        k = self.bin_index(t_ns)
        start = self.bin_start(k)
        return start < t_ns < start + self.bin_ns

    def bin_end_after(self, t_ns: float) -> float:
        """End of the bin that contains ``t_ns`` (``t_ns`` itself when it is not inside a bin)."""
        if not math.isfinite(t_ns):
            return t_ns
        k = self.bin_index(t_ns)
        start = self.bin_start(k)
        return start + self.bin_ns if start < t_ns < start + self.bin_ns else t_ns

    def next_bin_start(self, t_ns: float) -> int:
        """Start of the first bin beginning at or after ``t_ns``."""
        k = self.bin_index(t_ns)
        start = self.bin_start(k)
        return start if start >= t_ns else start + self.period_ns

    def _slots_before(self, t_ns: float) -> int:
        """Attempt slots (counted from bin 0) that end at or before ``t_ns``."""
        if t_ns <= self.offset_ns:
            return 0
        k = self.bin_index(t_ns)
        into = t_ns - self.bin_start(k) - self.overhead_ns
        partial = 0 if into <= 0 else min(self.slots_per_bin, int(into // self.attempt_ns))
        return k * self.slots_per_bin + partial

    def _first_slot_from(self, t_ns: float) -> int:
        """Index of the first slot that starts at or after ``t_ns``."""
        if t_ns <= self.offset_ns:
            return 0
        k = self.bin_index(t_ns)
        into = t_ns - self.bin_start(k) - self.overhead_ns
        if into <= 0:
            return k * self.slots_per_bin
        i = math.ceil(into / self.attempt_ns)
        return k * self.slots_per_bin + i if i < self.slots_per_bin else (k + 1) * self.slots_per_bin

    def slot_start(self, index: int) -> int:
        k, i = divmod(index, self.slots_per_bin)
        return self.bin_start(k) + self.overhead_ns + i * self.attempt_ns

    def slot_end(self, index: int) -> int:
        return self.slot_start(index) + self.attempt_ns

    def slots(self, start_ns: float, end_ns: float) -> tuple[int, int]:
        """Slots that start at or after ``start_ns`` and end at or before ``end_ns``:
        ``(first index, count)``."""
        first = self._first_slot_from(start_ns)
        if not math.isfinite(end_ns):
            return first, 1 << 62
        return first, max(0, self._slots_before(end_ns) - first)

    def bins_between(self, start_ns: int, end_ns: int, limit: int = 1 << 20) -> list[tuple[int, int]]:
        """The parts of bins between ``start_ns`` and ``end_ns``: (from, to) per bin, at most ``limit``."""
        out: list[tuple[int, int]] = []
        k = self.bin_index(start_ns)
        while len(out) < limit:
            b0 = self.bin_start(k)
            if b0 >= end_ns:
                break
            lo, hi = max(b0, start_ns), min(b0 + self.bin_ns, end_ns)
            if hi > lo:
                out.append((lo, hi))
            k += 1
        return out

    def in_bins_ns(self, start_ns: int, end_ns: int) -> int:
        """Total time inside bins between ``start_ns`` and ``end_ns`` (closed form)."""
        if end_ns <= start_ns:
            return 0

        def upto(t: int) -> int:  # bin time in [offset, t)
            if t <= self.offset_ns:
                return 0
            k, into = divmod(t - self.offset_ns, self.period_ns)
            return k * self.bin_ns + min(into, self.bin_ns)

        return upto(end_ns) - upto(start_ns)


def disjoint_per_node(schedules: dict[tuple[str, str], LinkSchedule], horizon_periods: int = 4) -> str | None:
    """Why the bins of two links of one node overlap (a node has one attempt loop), or None."""
    by_node: dict[str, list[tuple[tuple[str, str], LinkSchedule]]] = {}
    for link, sched in schedules.items():
        for node in link:
            by_node.setdefault(node, []).append((link, sched))
    for node, links in by_node.items():
        for i, (la, a) in enumerate(links):
            for lb, b in links[i + 1:]:
                horizon = horizon_periods * math.lcm(a.period_ns, b.period_ns)
                for ka in range(horizon // a.period_ns):
                    sa = a.bin_start(ka)
                    for sb, eb in b.bins_between(max(0, sa - b.period_ns), sa + a.bin_ns):
                        if sb < sa + a.bin_ns and sa < eb:
                            return (f"node {node!r}: bins of links {la} and {lb} overlap near {sa} ns; a node's "
                                    "bins on different links must not overlap")
    return None


# ------------------------------------------------------------------------------- coordinator protocol
@dataclass(frozen=True)
class SentMessage:
    """A message a node handed to the network, to be delivered at ``deliver_ns``."""

    dest: str
    seq: int  # per (sender, dest) transport sequence number
    deliver_ns: int
    host: bool = False  # for an application host (not the QNPU): not delayed by the device being busy


@dataclass(frozen=True)
class StandingAttempt:
    """While idle, a node attempts entanglement with ``peer`` in the link's bins from ``since_ns`` on,
    for the request named ``tag``; the coordinator stops it at a herald or at the node's next event."""

    peer: str
    since_ns: int
    tag: str
    qubit: int = 0  # the communication qubit attempting (device index)


@dataclass(frozen=True)
class SyncReport:
    """What a node tells the coordinator when it stops acting.

    ``qnpu_ns``: time of the node's next QNPU event (a timer, a queued subroutine, a process ready now),
    ``host_ns``: time of its next application-host event (a host timeout) — ``None`` for none.
    ``sent``: messages sent since the last report. ``attempts``: standing attempts (empty when the node
    is not attempting). ``now_ns``: how far the node has got.
    """

    qnpu_ns: int | None
    host_ns: int | None = None
    sent: tuple[SentMessage, ...] = ()
    attempts: tuple[StandingAttempt, ...] = ()
    now_ns: int = 0  # the latest time the node has acted at (its device clock, or a host event)


@dataclass(frozen=True)
class Delivery:
    """A message the node now owns: it must be received before the node acts at ``deliver_ns``."""

    src: str
    seq: int
    deliver_ns: int
    host: bool = False


@dataclass(frozen=True)
class Herald:
    """A standing attempt resolved with a herald at ``herald_ns`` (pair in both communication qubits)."""

    peer: str
    tag: str
    since_ns: int
    herald_ns: int


@dataclass(frozen=True)
class Grant:
    """The node's turn: it may act at ``now_ns`` and go on without reporting until ``bound_ns``
    (events at ``bound_ns`` itself only if ``inclusive``).

    ``deliveries``: messages handed over (wait for them, then deliver each at its time).
    ``heralds``: standing attempts that ended in a herald at ``now_ns``.
    ``gone``: peers that left the network (their requests will never be answered).
    ``quiescent``: nothing anywhere in the network is scheduled: whatever this node still waits for
    will never come.
    """

    now_ns: int
    bound_ns: float
    inclusive: bool = False
    deliveries: tuple[Delivery, ...] = ()
    heralds: tuple[Herald, ...] = ()
    gone: tuple[str, ...] = ()
    quiescent: bool = False

    def allows(self, t_ns: float) -> bool:
        """Whether the node may process an event at ``t_ns`` under this grant."""
        return t_ns < self.bound_ns or (self.inclusive and t_ns == self.bound_ns)


class LeftNetwork(Exception):
    """The node has left the simulated network (it stopped, or the network shut down)."""


class TimeCoordinator(Protocol):
    """Orders the events of a simulated network's nodes (implemented by simulated worlds)."""

    def sync(self, node: str, report: SyncReport, timeout_s: float | None = None) -> Grant:
        """Report and wait for the node's next turn (the first call joins the network)."""
        ...

    def leave(self, node: str, report: "SyncReport | None" = None) -> None:
        """The node stops taking part (after ``report``'s messages): its future events vanish, its
        peers are told. ``report`` may repeat the report of a ``sync`` of the node's that is still on
        its way (a node stopped while it waits for its turn leaves from another thread, and the leave
        may overtake that sync): its messages are taken once, whichever arrives first."""
        ...

    def note_sent(self, node: str, sent: tuple[SentMessage, ...]) -> None:
        """Messages ``node`` sent while it waited for its turn (outside a grant)."""
        ...

    def wake(self, node: str) -> int:
        """Something new starts on ``node`` (an application host connects): give it a turn, and return
        the time it starts at — no node of the network has acted later."""
        ...


@dataclass(frozen=True)
class NetworkSchedule:
    """The schedule of every link, keyed by the sorted node pair."""

    links: dict[tuple[str, str], LinkSchedule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        why = disjoint_per_node(self.links)
        if why is not None:
            raise ConfigError(f"network schedule: {why}")

    def of(self, a: str, b: str) -> LinkSchedule:
        key = (a, b) if a < b else (b, a)
        try:
            return self.links[key]
        except KeyError:
            raise ConfigError(f"network schedule: no bins for the link {key}") from None

    @classmethod
    def fair(cls, links: list[tuple[str, str]], *, bin_ns: int, duty: float = 0.5,
             attempt_ns: dict[tuple[str, str], int] | int = 10_000,
             overhead_ns: dict[tuple[str, str], int] | int = 0) -> "NetworkSchedule":
        """Bins of ``bin_ns`` for every link: links sharing a node get different colours of a proper
        edge colouring (greedy), one bin per colour per period, so every node gives each of its links
        the same share of its communication qubit; ``duty`` is the fraction of a period spent in bins
        (the rest serves local processes)."""
        if not 0 < duty <= 1:
            raise ConfigError(f"network schedule: duty={duty!r} must be in (0, 1]")
        keys = [(a, b) if a < b else (b, a) for a, b in links]
        colour: dict[tuple[str, str], int] = {}
        for link in keys:
            used = {c for other, c in colour.items() if set(other) & set(link)}
            colour[link] = next(c for c in range(len(keys) + 1) if c not in used)
        colours = max(colour.values(), default=-1) + 1
        period = max(bin_ns, math.ceil(colours * bin_ns / duty)) if colours else bin_ns
        slot = period // max(colours, 1)

        def pick(table: dict[tuple[str, str], int] | int, link: tuple[str, str]) -> int:
            return table if isinstance(table, int) else table[link]

        return cls({link: LinkSchedule(period, bin_ns, colour[link] * slot, pick(attempt_ns, link),
                                       pick(overhead_ns, link)) for link in keys})

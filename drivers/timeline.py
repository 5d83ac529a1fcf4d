"""The simulated world's clock: one causal timeline for all nodes of a mock network.

:class:`Timeline` implements :class:`qnodeos.hal.timeline.TimeCoordinator` with conservative,
sequential discrete-event synchronisation. Each node reports the time of its next event (and the
messages it sent, and the entanglement attempts it keeps running while idle); the timeline picks the
node whose next event is earliest (ties by node order) and grants it: it may act until the next event
of any other node. Nobody ever learns about an event from its future, and the order of events never
depends on which thread or process happened to run first — so a seeded run repeats exactly.

Why sequential: nodes share quantum state (entangled pairs), and measuring the two halves of a pair in
a different order draws different (equally likely) outcomes from the same seed. Running one node at a
time fixes that order. Nodes are independent between messages, so a node may run many events per
grant; it reports back only when another node's event comes first.

Entanglement attempts are not events of their own: a node that idles with an active request declares
a *standing attempt* on the link, and the link's heralding station samples, once both ends stand with
the same tag, the slot of the first herald (a geometric number of joint attempts, at the hardware
rate, inside the schedule's bins). That herald is an event of both nodes; if either node has something
else to do first, its attempts stop there and the remaining count carries over (the geometric
distribution is memoryless), so idle stretches of thousands of bins cost one step.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from qnodeos.hal.errors import ConfigError, DeviceTimeout
from qnodeos.hal.timeline import (NEVER, Delivery, Grant, Herald, LeftNetwork, SentMessage, StandingAttempt,
                                  SyncReport)

if TYPE_CHECKING:
    from .heralding import HeraldingStation


@dataclass
class _Node:
    name: str
    order: int
    joined: bool = False
    gone: bool = False
    qnpu_ns: float = NEVER
    host_ns: float = NEVER
    last_ns: int = 0  # time of its last grant
    standing: dict[str, StandingAttempt] = field(default_factory=dict)  # by peer
    inflight: list[Delivery] = field(default_factory=list)
    heralds: list[Herald] = field(default_factory=list)
    grant: Grant | None = None
    told_gone: set[str] = field(default_factory=set)
    told_quiet: bool = False
    last_sent: tuple[SentMessage, ...] = ()  # its last sync's messages (a leave may repeat them)


@dataclass
class _Epoch:
    """Both ends of a link standing for the same tag: attempts left until the herald."""

    tag: str
    left: int  # joint attempt slots up to and including the heralded one
    from_ns: float  # joint slots before this time have been used up
    herald_ns: float = NEVER
    herald_slot: int = -1


class Timeline:
    """Sequential conservative coordinator of a simulated network (see the module docstring).

    ``nodes``: every node that will take part, in tie-break order; nobody is granted before all have
    joined. ``stations``: the heralding station of each link, keyed by the sorted node pair.
    ``max_lead_ns``: no grant reaches further than this past its start. A node granted while every
    other node was idle would otherwise run without bound; something new that starts on an idle node
    meanwhile (:meth:`wake`: an application host connects) could not get a turn until the busy node
    ran out of work — which a node fed by its own hosts never does. A granted node thus reports back
    at least once per ``max_lead_ns`` of its simulated time, and a wake waits at most that long.
    """

    #: default longest grant (simulated time): short enough that a woken node waits little, long
    #: enough that a node running alone reports back rarely (a sync costs a few µs in-process)
    MAX_LEAD_NS = 10_000_000

    def __init__(self, nodes: list[str], stations: dict[tuple[str, str], "HeraldingStation"] | None = None,
                 max_lead_ns: int = MAX_LEAD_NS) -> None:
        if isinstance(max_lead_ns, bool) or not isinstance(max_lead_ns, int) or max_lead_ns < 1:
            raise ConfigError(f"timeline: max_lead_ns={max_lead_ns!r} must be a positive integer (ns)")
        self.max_lead_ns = max_lead_ns
        if len(set(nodes)) != len(nodes) or not nodes:
            raise ConfigError(f"timeline: node names must be unique and non-empty, got {nodes!r}")
        self._nodes = {name: _Node(name, i) for i, name in enumerate(nodes)}
        self._stations: dict[tuple[str, str], "HeraldingStation"] = {}
        for (a, b), station in (stations or {}).items():
            self.add_station(a, b, station)
        self._epochs: dict[tuple[str, str], _Epoch] = {}
        self._cond = threading.Condition()
        self._active: str | None = None
        self.horizon_ns = 0  # the latest time a node was granted or reported (where a woken node starts)
        self.steps = 0  # grants handed out (a measure of synchronisation cost)

    @property
    def nodes(self) -> list[str]:
        return list(self._nodes)

    def add_station(self, a: str, b: str, station: "HeraldingStation") -> None:
        """Resolve the link between ``a`` and ``b`` through ``station`` (its attempts follow this timeline)."""
        station.on_timeline = True
        self._stations[_key(a, b)] = station

    # ---- the protocol --------------------------------------------------------------------------
    def sync(self, node: str, report: SyncReport, timeout_s: float | None = None) -> Grant:
        """Take ``node``'s report, schedule, and wait for its next grant (see TimeCoordinator)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            me = self._node(node)
            if me.gone:
                raise LeftNetwork(f"timeline: node {node!r} has left the network")
            self._apply(me, report)
            me.last_sent = report.sent
            if self._active == node:
                self._active = None
            me.grant = None
            self._schedule()
            if self._active is None and self._quiet():
                self._cond.notify_all()  # whoever waits for the network to be idle (wait_quiet)
            while me.grant is None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise DeviceTimeout(f"timeline: node {node!r} got no turn within {timeout_s:g} s (wall clock): "
                                        f"{self._describe()}")
                self._cond.wait(left)
                if me.gone:
                    raise LeftNetwork(f"timeline: node {node!r} has left the network")
            grant, me.grant = me.grant, None
            return grant

    def leave(self, node: str, report: SyncReport | None = None) -> None:
        """``node`` stops taking part; ``report`` (optional) carries the messages it sent last —
        possibly those of its sync that has not arrived yet (a sync that comes after the leave is
        refused, so they are taken here; not again if that sync came first)."""
        with self._cond:
            me = self._nodes.get(node)
            if me is None or me.gone:
                return
            if report is not None and report.sent and report.sent != me.last_sent:
                self._apply(me, SyncReport(None, None, report.sent, ()))
            me.gone, me.joined = True, True
            me.inflight.clear()
            me.heralds.clear()
            for peer in list(me.standing):
                self._withdraw(me, peer, me.last_ns)
            me.standing.clear()
            if self._active == node:
                self._active = None
            self._schedule()
            self._cond.notify_all()

    def note_sent(self, node: str, sent: tuple) -> None:
        with self._cond:
            me = self._node(node)
            if me.gone or not sent:
                return
            for msg in sent:
                dest = self._nodes.get(msg.dest)
                if dest is not None and not dest.gone:
                    dest.inflight.append(Delivery(me.name, msg.seq, msg.deliver_ns, msg.host))
            for n in self._nodes.values():
                n.told_quiet = False
            self._schedule()

    def wake(self, node: str) -> int:
        with self._cond:
            me = self._node(node)
            start = self.horizon_ns
            if not me.gone:
                me.host_ns = min(me.host_ns, start)
                me.told_quiet = False
                self._schedule()
            return start

    def wait_quiet(self, timeout_s: float) -> bool:
        """Wait until nothing is scheduled anywhere and every node has been told so (the network is
        idle: its time stands still until something wakes a node); False if ``timeout_s`` (wall
        clock) passed first. Repeated runs start from here, so a seeded series repeats exactly."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._quiet():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
            return True

    def _quiet(self) -> bool:
        live = [n for n in self._nodes.values() if not n.gone]
        return (self._active is None and all(n.joined and n.told_quiet and n.grant is None for n in live)
                and not any(n.inflight or n.heralds for n in live))

    def leave_all(self) -> None:
        """Every node leaves (the network is shutting down): wake whoever still waits."""
        for name in list(self._nodes):
            self.leave(name)

    # ---- bookkeeping -------------------------------------------------------------------------------
    def _node(self, name: str) -> _Node:
        try:
            return self._nodes[name]
        except KeyError:
            raise ConfigError(f"timeline: unknown node {name!r} (nodes: {list(self._nodes)})") from None

    def _apply(self, me: _Node, report: SyncReport) -> None:
        me.joined = True
        self.horizon_ns = max(self.horizon_ns, report.now_ns, me.last_ns)
        me.qnpu_ns = NEVER if report.qnpu_ns is None else report.qnpu_ns
        me.host_ns = NEVER if report.host_ns is None else report.host_ns
        for msg in report.sent:
            dest = self._nodes.get(msg.dest)
            if dest is None or dest.gone:
                continue  # to a node that left: lost
            dest.inflight.append(Delivery(me.name, msg.seq, msg.deliver_ns, msg.host))
        if report.sent:
            for n in self._nodes.values():
                n.told_quiet = False
        new = {a.peer: a for a in report.attempts}
        for peer, old in list(me.standing.items()):
            if new.get(peer) != old:
                self._withdraw(me, peer, me.last_ns)
        for peer, attempt in new.items():
            if peer not in self._nodes or self._nodes[peer].gone:
                continue
            if me.standing.get(peer) != attempt:
                me.standing[peer] = attempt
                for n in self._nodes.values():
                    n.told_quiet = False

    def _withdraw(self, me: _Node, peer: str, at_ns: int) -> None:
        """``me`` stopped attempting with ``peer`` at ``at_ns``: use up the joint slots before it."""
        old = me.standing.pop(peer, None)
        key = _key(me.name, peer)
        epoch = self._epochs.get(key)
        if old is None or epoch is None or epoch.tag != old.tag:
            return
        other = self._nodes[peer].standing.get(me.name)
        if other is not None and other.tag == epoch.tag:
            sched = self._stations[key].schedule
            start = max(epoch.from_ns, old.since_ns, other.since_ns)
            _, used = sched.slots(start, at_ns)
            epoch.left = max(1, epoch.left - used)
            epoch.from_ns = max(epoch.from_ns, at_ns)
        epoch.herald_ns, epoch.herald_slot = NEVER, -1

    # ---- scheduling --------------------------------------------------------------------------------
    def _refresh_heralds(self) -> None:
        """Sample or update the next herald of every link where both ends stand for the same tag."""
        for key, station in self._stations.items():
            a, b = (self._nodes.get(n) for n in key)
            if a is None or b is None:
                continue
            sa, sb = a.standing.get(b.name), b.standing.get(a.name)
            epoch = self._epochs.get(key)
            if sa is None or sb is None or sa.tag != sb.tag:
                continue
            if epoch is None or epoch.tag != sa.tag:
                epoch = self._epochs[key] = _Epoch(sa.tag, station.draw_attempts_to_herald(), -NEVER)
            if epoch.herald_slot < 0:
                start = max(epoch.from_ns, sa.since_ns, sb.since_ns)
                first, _ = station.schedule.slots(start, start)
                epoch.herald_slot = first + epoch.left - 1
                epoch.herald_ns = station.schedule.slot_end(epoch.herald_slot) + station.herald_delay_ns

    def _qnpu_time(self, n: _Node, t: float) -> float:
        """When ``n``'s QNPU acts on an event at ``t``: after the bin it is attempting in, if any."""
        if not n.standing or not math.isfinite(t):
            return t
        out = t
        for peer in n.standing:
            key = _key(n.name, peer)
            sched = self._stations[key].schedule
            out = max(out, sched.bin_end_after(t))
            epoch = self._epochs.get(key)
            if epoch is not None and epoch.herald_slot >= 0 and sched.slot_end(epoch.herald_slot) <= out < epoch.herald_ns:
                out = epoch.herald_ns  # the herald is on its way: the attempt loop waits for it
        return out

    def _herald_of(self, n: _Node) -> tuple[float, str | None]:
        best, peer = NEVER, None
        for other in n.standing:
            epoch = self._epochs.get(_key(n.name, other))
            if epoch is not None and epoch.herald_ns < best and epoch.tag == n.standing[other].tag:
                o = self._nodes[other].standing.get(n.name)
                if o is not None and o.tag == epoch.tag:
                    best, peer = epoch.herald_ns, other
        return best, peer

    def _next(self, n: _Node) -> float:
        t = min(self._qnpu_time(n, n.qnpu_ns), n.host_ns)
        for d in n.inflight:
            t = min(t, d.deliver_ns if d.host else self._qnpu_time(n, d.deliver_ns))
        if n.heralds:
            t = min(t, min(h.herald_ns for h in n.heralds))
        t = min(t, self._herald_of(n)[0])
        return t

    def _schedule(self) -> None:
        """Grant the node with the earliest next event, if every node is waiting for its turn."""
        if self._active is not None:
            return
        live = [n for n in self._nodes.values() if not n.gone]
        if not live or not all(n.joined for n in live):
            return
        if any(n.grant is not None for n in live):
            return  # a grant is on its way to a node that has not picked it up yet
        self._refresh_heralds()
        times = {n.name: self._next(n) for n in live}
        chosen = min(live, key=lambda n: (times[n.name], n.order))
        t = times[chosen.name]
        if not math.isfinite(t):
            self._grant_quiescence(live)
            return
        others = [(times[n.name], n.order) for n in live if n is not chosen]
        bound, bound_order = min(others, default=(NEVER, 0))
        inclusive = chosen.order < bound_order
        if t + self.max_lead_ns < bound:  # report back in time for a node woken meanwhile
            bound, inclusive = t + self.max_lead_ns, False
        # a herald that is due now belongs to both ends: hand it over to each at its turn
        h, peer = self._herald_of(chosen)
        if h == t and peer is not None:
            self._finalise_herald(chosen, peer, int(h))
        heralds = tuple(x for x in chosen.heralds if x.herald_ns <= t)
        chosen.heralds = [x for x in chosen.heralds if x.herald_ns > t]
        for x in heralds:
            chosen.standing.pop(x.peer, None)
        deliveries = tuple(sorted(chosen.inflight, key=lambda d: (d.deliver_ns, d.src, d.seq)))
        chosen.inflight = []
        gone = tuple(sorted(n.name for n in self._nodes.values() if n.gone and n.name not in chosen.told_gone))
        chosen.told_gone.update(gone)
        chosen.last_ns = int(t)
        self.horizon_ns = max(self.horizon_ns, int(t))
        for n in live:
            n.told_quiet = False
        chosen.grant = Grant(int(t), bound, inclusive=inclusive, deliveries=deliveries,
                             heralds=heralds, gone=gone)
        self._active = chosen.name
        self.steps += 1
        self._cond.notify_all()

    def _finalise_herald(self, node: _Node, peer: str, herald_ns: int) -> None:
        key = _key(node.name, peer)
        epoch = self._epochs.pop(key)
        station = self._stations[key]
        other = self._nodes[peer]
        mine, theirs = node.standing[peer], other.standing[node.name]
        station.record_herald(epoch.tag, epoch.herald_slot, herald_ns,
                              {node.name: mine.since_ns, other.name: theirs.since_ns},
                              {node.name: mine.qubit, other.name: theirs.qubit})
        node.heralds.append(Herald(peer, epoch.tag, mine.since_ns, herald_ns))
        other.heralds.append(Herald(node.name, epoch.tag, theirs.since_ns, herald_ns))

    def _grant_quiescence(self, live: list[_Node]) -> None:
        """Nothing is scheduled anywhere: tell each node once (it fails whatever waits for ever), and
        again whenever a peer has left since (an idle node of a served network hears it at once)."""
        for n in sorted(live, key=lambda n: n.order):
            gone = tuple(sorted(m.name for m in self._nodes.values() if m.gone and m.name not in n.told_gone))
            if not n.told_quiet or gone:
                n.told_quiet = True
                n.told_gone.update(gone)
                # bounded too: a host connecting to this node meanwhile must not let it run on for
                # ever while a host connecting to another node waits for a turn
                n.grant = Grant(n.last_ns, n.last_ns + self.max_lead_ns, deliveries=(), gone=gone, quiescent=True)
                self._active = n.name
                self.steps += 1
                self._cond.notify_all()
                return

    def _describe(self) -> str:
        parts = []
        for n in self._nodes.values():
            state = "gone" if n.gone else ("granted" if n.name == self._active else
                                           ("waiting" if n.joined else "not joined"))
            parts.append(f"{n.name}: {state}, next {self._next(n) if n.joined and not n.gone else '-'}")
        return "; ".join(parts)


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)

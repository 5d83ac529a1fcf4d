"""The heralding station between two mock devices: when attempts succeed, and the state they deliver.

In a real link both QDevices emit photons in agreed attempt slots and a midpoint station (beam
splitter, detectors, a time tagger) tells both whether an attempt was heralded. Here the station is an
object both devices hold, with the link's physics (:class:`~qnodeos.drivers.link_physics.LinkParams`)
and its own seeded generator. It works in one of two ways:

* **on a timeline** (mock networks run by the OS): the world's
  :class:`~qnodeos.drivers.timeline.Timeline` decides *when* both ends attempt (standing attempts in
  the link's schedule bins) and asks the station for the number of joint attempts to the next herald
  (:meth:`draw_attempts_to_herald`) and to record a herald (:meth:`record_herald`, which also draws
  the heralded Bell state). Each device then *collects* its side with an ``EntangleAttempt`` whose
  ``window_start_ns`` is the time its standing attempt began (:meth:`collect`): the first collector
  places the heralded two-qubit state into the shared state space. Nothing waits on the wall clock.
* **stand-alone** (two devices driven directly through the HAL, as the conformance kit does): a
  device executing ``EntangleAttempt`` blocks in :meth:`attempt` until the peer's matching attempt
  arrives (wall-clock timeout, then ``ENT_SYNC_FAILURE``); the second arrival aligns the window, draws
  the number of attempts *once* and delivers the state to both.

The station touches only the shared state space; each device applies its own bookkeeping (clock,
idle noise, carbon dephasing), which keeps the locking order simple:
device lock -> station condition -> state-space lock, never the other way round.
"""
from __future__ import annotations

import itertools
import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from qnodeos.hal.errors import ConfigError
from qnodeos.hal.instructions import EntangleAttempt
from qnodeos.hal.responses import BellState, Status

from .link_physics import LinkParams
from qnodeos.hal.timeline import LinkSchedule

if TYPE_CHECKING:
    from .mock_device import MockDevice


@dataclass(frozen=True)
class LinkResult:
    """What the station tells one side; the device turns it into a :class:`Response`."""

    status: Status
    start_ns: int
    end_ns: int
    attempts: int = 0
    pair_id: int | None = None
    bell_state: BellState | None = None
    message: str = ""
    #: since when the delivered state has been sitting in the qubit (the heralded slot's end)
    state_since_ns: int | None = None


@dataclass
class _Herald:
    """A herald the timeline recorded, waiting for both ends to collect it."""

    slot: int
    herald_ns: int
    pair_id: int
    bell: BellState
    since: dict[str, int]
    qubits: dict[str, int]
    placed: bool = False
    collected: set[str] = field(default_factory=set)


@dataclass
class _Request:
    device: "MockDevice"
    instr: EntangleAttempt
    handle: int
    ready_ns: int
    result: LinkResult | None = field(default=None)


class HeraldingStation:
    """The midpoint station of the link between ``dev_a`` and ``dev_b`` (see module docstring).

    ``params`` defaults to ``dev_a.link_params()``; ``seed`` seeds the station's own generator.
    """

    def __init__(self, dev_a: "MockDevice", dev_b: "MockDevice", params: LinkParams | None = None,
                 seed: int | None = None, *, sync_timeout_s: float | None = None,
                 schedule: LinkSchedule | None = None) -> None:
        if dev_a is dev_b or dev_a.node == dev_b.node:
            raise ConfigError(f"heralding station: both ends are node {dev_a.node!r}; link two different nodes")
        if dev_a.state_space is not dev_b.state_space:
            raise ConfigError(
                f"heralding station: nodes {dev_a.node!r} and {dev_b.node!r} do not share one SharedStateSpace "
                "(create both devices with the same state_space=...)")
        self.params = params if params is not None else dev_a.link_params()
        self.sync_timeout_s = self.params.sync_timeout_s if sync_timeout_s is None else float(sync_timeout_s)
        if not self.sync_timeout_s > 0:
            raise ConfigError(f"heralding station: sync_timeout_s={self.sync_timeout_s!r} must be > 0")
        self._devices = (dev_a, dev_b)
        self._space = dev_a.state_space
        self._rng = np.random.default_rng(seed)
        self._pair_ids = itertools.count()
        self._cond = threading.Condition()
        self._pending: dict[int, _Request | None] = {0: None, 1: None}
        #: the link's bins (timeline mode); by default back-to-back bins of 100 attempts
        self.schedule = schedule if schedule is not None else LinkSchedule(
            100 * self.params.attempt_duration_ns, 100 * self.params.attempt_duration_ns,
            attempt_ns=self.params.attempt_duration_ns)
        self._heralds: dict[str, _Herald] = {}
        self.on_timeline = False  # set by the Timeline that resolves this link
        dev_a.attach_link(dev_b.node, self)
        dev_b.attach_link(dev_a.node, self)

    @property
    def nodes(self) -> tuple[str, str]:
        return (self._devices[0].node, self._devices[1].node)

    def _side(self, device: "MockDevice") -> int:
        for i, d in enumerate(self._devices):
            if d is device:
                return i
        raise ConfigError(f"heralding station {self.nodes}: device of node {device.node!r} is not on this link")

    # -- timeline mode -------------------------------------------------------------------------------
    @property
    def herald_delay_ns(self) -> int:
        """Time from the end of the heralded attempt until both nodes know of it."""
        return int(getattr(self.params, "herald_delay_ns", 0))

    def draw_attempts_to_herald(self) -> int:
        """Joint attempts up to and including the next heralded one (geometric)."""
        p = self.params.success_probability
        return int(self._rng.geometric(p)) if p > 0 else 1 << 62

    def record_herald(self, tag: str, slot: int, herald_ns: int, since: dict[str, int],
                      qubits: dict[str, int]) -> None:
        """The timeline decided: attempt ``slot`` of the schedule was heralded (known at ``herald_ns``);
        ``since``/``qubits``: per node, when its standing attempt began and with which qubit."""
        with self._cond:
            bell = BellState.PSI_PLUS if self._rng.integers(2) == 0 else BellState.PSI_MINUS
            self._heralds[tag] = _Herald(slot, herald_ns, next(self._pair_ids), bell, dict(since), dict(qubits))

    def collect(self, device: "MockDevice", instr: EntangleAttempt, handle: int) -> LinkResult:
        """This side's result of a standing attempt that began at ``instr.window_start_ns``: the herald
        the timeline recorded for ``instr.tag``, or ``instr.max_attempts`` failed attempts."""
        side = self._side(device)
        since = instr.window_start_ns
        if since is None:
            return self._sync_failure(_Request(device, instr, handle, device.now_ns),
                                      "on a timeline an attempt names the time its standing attempt began")
        sched = self.schedule
        with self._cond:
            herald = self._heralds.get(instr.tag or "")
            if herald is not None and herald.since.get(device.node) == since:
                if not herald.placed:
                    herald.placed = True
                    a, b = self._devices
                    self._space.set_state([a.state_handle(herald.qubits[a.node]), b.state_handle(herald.qubits[b.node])],
                                          self.params.heralded_state(herald.bell))
                herald.collected.add(device.node)
                if len(herald.collected) == 2:
                    del self._heralds[instr.tag or ""]
                first, _ = sched.slots(since, since)
                attempts = max(1, herald.slot - first + 1)
                lost = self._ionised(device, attempts, since, herald.herald_ns)
                if lost is not None:
                    return lost
                return LinkResult(Status.ENTANGLED, since, herald.herald_ns, attempts=attempts,
                                  pair_id=herald.pair_id, bell_state=herald.bell,
                                  state_since_ns=sched.slot_end(herald.slot),
                                  message=f"pair {herald.pair_id} heralded as {herald.bell.value} after "
                                          f"{attempts} attempt(s)")
        n = max(0, int(instr.max_attempts))
        first, _ = sched.slots(since, since)
        end = sched.slot_end(first + n - 1) if n else since
        self._space.set_state([handle], self.params.unheralded_state())
        lost = self._ionised(device, n, since, end)
        if lost is not None:
            return lost
        return LinkResult(Status.ENT_FAILURE, since, end, attempts=n,
                          message=f"no herald in {n} attempt(s) with {self._devices[1 - side].node!r}")

    def _ionised(self, device: "MockDevice", attempts: int, since: int, end: int) -> LinkResult | None:
        """The device's check after its attempts (NV: ionisation, drawn from this station's generator);
        a hardware failure ends the attempt and its states are lost. Drawn once per collection, in the
        order the timeline resolves them, so a seeded run repeats."""
        with self._cond:
            why = device.after_attempt_batch(attempts, self._rng)
        if why is None:
            return None
        return LinkResult(Status.HARDWARE_FAILURE, since, end, attempts=attempts, message=why)

    # -- the rendezvous ------------------------------------------------------------------------------
    def attempt(self, device: "MockDevice", instr: EntangleAttempt, handle: int, ready_ns: int) -> LinkResult:
        """Wait for the peer's matching attempt (wall clock), then return this side's result.

        ``handle`` is the state-space qubit of ``device``'s communication qubit and ``ready_ns`` the
        first tick boundary at which the device could start.
        """
        side = self._side(device)
        mine = _Request(device, instr, handle, ready_ns)
        with self._cond:
            if self._pending[side] is not None:
                return self._sync_failure(mine, f"node {device.node!r} is already attempting on this link")
            theirs = self._pending[1 - side]
            if theirs is not None:
                self._pending[1 - side] = None
                mine_result, theirs.result = self._resolve(mine, theirs)
                self._cond.notify_all()
                return mine_result
            self._pending[side] = mine
            self._cond.wait_for(lambda: mine.result is not None, timeout=self.sync_timeout_s)
            if mine.result is None:
                self._pending[side] = None
                peer = self._devices[1 - side].node
                return self._sync_failure(
                    mine, f"peer {peer!r} did not attempt within {self.sync_timeout_s:g} s (wall clock) of "
                          f"{device.node!r}'s attempt")
            return mine.result

    def _sync_failure(self, req: _Request, why: str) -> LinkResult:
        start = req.ready_ns if req.instr.window_start_ns is None else max(req.ready_ns, req.instr.window_start_ns)
        return LinkResult(Status.ENT_SYNC_FAILURE, start, start + self.params.attempt_duration_ns,
                          message=f"{req.instr!r}: {why}")

    def _resolve(self, a: _Request, b: _Request) -> tuple[LinkResult, LinkResult]:
        """Both sides are here: align the window, sample once, deliver the state."""
        if a.instr.tag != b.instr.tag:
            why = f"the two nodes attempt for different purposes: {a.instr.tag!r} and {b.instr.tag!r}"
            return self._sync_failure(a, why), self._sync_failure(b, why)
        wa, wb = a.instr.window_start_ns, b.instr.window_start_ns
        if wa != wb:
            why = f"windows differ: {a.device.node!r} asked for {wa}, {b.device.node!r} for {wb}"
            return self._sync_failure(a, why), self._sync_failure(b, why)
        ready = max(a.ready_ns, b.ready_ns)
        if wa is None:
            tick = math.lcm(a.device.capabilities.tick_ns, b.device.capabilities.tick_ns)
            start = -(-ready // tick) * tick
        elif wa < ready:
            late = a if a.ready_ns > wa else b
            why = f"window start {wa} ns has already passed on {late.device.node!r} (ready at {late.ready_ns} ns)"
            return self._sync_failure(a, why), self._sync_failure(b, why)
        else:
            start = wa
        max_attempts = min(a.instr.max_attempts, b.instr.max_attempts)
        p = self.params.success_probability
        k = int(self._rng.geometric(p)) if p > 0 else max_attempts + 1
        dur = self.params.attempt_duration_ns
        if k > max_attempts:
            lost = self.params.unheralded_state()
            self._space.set_state([a.handle], lost)
            self._space.set_state([b.handle], lost)
            end = start + max_attempts * dur
            msg = f"no herald in {max_attempts} attempt(s)"
            res = LinkResult(Status.ENT_FAILURE, start, end, attempts=max_attempts, message=msg)
            return res, res
        bell = BellState.PSI_PLUS if self._rng.integers(2) == 0 else BellState.PSI_MINUS
        # the delivered state is swap-symmetric, so it is "own qubit first" for both nodes
        self._space.set_state([a.handle, b.handle], self.params.heralded_state(bell))
        pair_id = next(self._pair_ids)
        end = start + k * dur
        res = LinkResult(Status.ENTANGLED, start, end, attempts=k, pair_id=pair_id, bell_state=bell,
                         message=f"pair {pair_id} heralded as {bell.value} after {k} attempt(s)")
        return res, res

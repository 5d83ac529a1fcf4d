"""The QDevice conformance kit: pytest tests any driver (mock or real) runs against itself.

Usage, in the driver package's test suite::

    import pytest
    from qnodeos.hal.conformance.kit import QDeviceConformance

    class TestMyDriver(QDeviceConformance):
        @pytest.fixture
        def qdevice(self):
            with make_my_device() as dev:          # a fresh device per test
                yield dev

        @pytest.fixture                            # optional: two linked devices (different nodes)
        def qdevice_pair(self):
            return make_linked_pair()

Every test uses only the public HAL (``execute``, ``capabilities``, ``now_ns``, ``reset`` and the
responses), so the kit says nothing about how a driver works inside. Statistical checks (init gives 0,
a pi rotation gives 1) allow the readout and gate errors the device *declares* plus a margin, and
five binomial standard deviations; tune ``shots`` on the subclass if a device is slow.

Contract points the kit pins down beyond the type signatures:

* instructions start on a tick boundary, never before the previous one ended, and last at least
  their nominal duration; the clock never runs backwards;
* refusals (``UNSUPPORTED``, ``INVALID_QUBIT``) occupy no device time and change no qubit;
* with a linked pair, two simultaneous attempts agree (same status, pair id, attempt count, window),
  a lone attempt ends in ``ENT_SYNC_FAILURE`` and an unknown peer is ``UNSUPPORTED``.
"""
from __future__ import annotations

import itertools
import json
import math
import threading
from functools import partial
from typing import Any, Callable, Iterator

try:
    import pytest
except ImportError:  # pragma: no cover - the kit is meant to run under pytest
    raise ImportError("the QDevice conformance kit runs under pytest: pip install 'qnodeos[conformance]'") from None

from qnodeos.hal.capabilities import HAL_VERSION, Capabilities, NativeOperation, QubitRole
from qnodeos.hal.device import QDevice
from qnodeos.hal.errors import InvalidQubit, UnsupportedInstruction
from qnodeos.hal.instructions import (
    INSTRUCTION_TYPES,
    Axis,
    ControlledRotate,
    EntangleAttempt,
    Init,
    Measure,
    MolmerSorensen,
    PhysicalInstruction,
    Rotate,
    Wait,
)
from qnodeos.hal.responses import Response, Status

__all__ = ["QDeviceConformance", "example_instruction", "candidate_instructions", "error_bound"]

_ARITY = {"init": 1, "rotate": 1, "measure": 1, "entangle": 1, "controlled_rotate": 2, "molmer_sorensen": 2}
_UNKNOWN_PEER = "conformance-kit-no-such-node"


def example_instruction(op: NativeOperation, target: tuple[int, ...], angle: float = math.pi / 2) -> PhysicalInstruction | None:
    """An instruction performing ``op`` on ``target`` (None for entanglement, which needs a peer)."""
    axis = min(op.axes) if op.axes else Axis.X
    builders: dict[str, Callable[[], PhysicalInstruction]] = {
        "init": lambda: Init(target[0]),
        "rotate": lambda: Rotate(target[0], axis, angle),
        "measure": lambda: Measure(target[0]),
        "controlled_rotate": lambda: ControlledRotate(target[0], target[1], axis, angle),
        "molmer_sorensen": lambda: MolmerSorensen((target[0], target[1]), angle),
    }
    build = builders.get(op.name)
    return build() if build else None


def candidate_instructions(num_qubits: int, peer: str = _UNKNOWN_PEER) -> Iterator[PhysicalInstruction]:
    """Every instruction shape on every in-range qubit and ordered pair."""
    for q in range(num_qubits):
        yield Init(q)
        yield Measure(q)
        yield EntangleAttempt(q, peer)
        for axis in Axis:
            yield Rotate(q, axis, math.pi / 2)
    for a, b in itertools.permutations(range(num_qubits), 2):
        yield MolmerSorensen((a, b), math.pi / 2)
        for axis in Axis:
            yield ControlledRotate(a, b, axis, math.pi / 2)


def error_bound(shots: int, rate: float, sigmas: float = 5.0) -> float:
    """Largest acceptable number of wrong outcomes in ``shots`` at error ``rate``."""
    rate = min(max(rate, 0.0), 1.0)
    return shots * rate + sigmas * math.sqrt(shots * rate * (1 - rate)) + 1


def _op(caps: Capabilities, instr: PhysicalInstruction) -> NativeOperation | None:
    return caps.operation_for(instr) if caps.supports(instr) else None


def _init_error(caps: Capabilities, q: int) -> float:
    """The declared error of initialising ``q`` (every qubit the kit measures must support Init)."""
    op = _op(caps, Init(q))
    assert op is not None, f"qubit {q}: the device declares no Init"
    return op.error


def _outcome(response: Response) -> int:
    """The outcome of a measurement that must have succeeded."""
    outcome = response.raise_for_status().outcome
    assert outcome is not None and outcome in (0, 1), response
    return outcome


def _flip(caps: Capabilities, q: int) -> tuple[PhysicalInstruction, float] | None:
    """A native pi rotation about X (or Y) on ``q`` and its declared error, if the device has one."""
    for axis in (Axis.X, Axis.Y):
        instr = Rotate(q, axis, math.pi)
        op = _op(caps, instr)
        if op is not None:
            return instr, op.error
    return None


def _run_both(a: Callable[[], Response], b: Callable[[], Response], timeout_s: float) -> tuple[Response, Response]:
    """Run two attempts in two threads; fail (not hang) if either does not return."""
    out: dict[str, Any] = {}

    def call(key: str, fn: Callable[[], Response]) -> None:
        try:
            out[key] = fn()
        except BaseException as exc:  # re-raised in the test thread
            out[key] = exc

    threads = [threading.Thread(target=call, args=(k, f), daemon=True) for k, f in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout_s)
    if any(t.is_alive() for t in threads):
        pytest.fail(f"an entanglement attempt did not return within {timeout_s} s")
    for v in out.values():
        if isinstance(v, BaseException):
            raise v
    return out["a"], out["b"]


class QDeviceConformance:
    """Base class of a driver's conformance tests; subclass it and provide the fixtures."""

    #: repetitions of each statistical check
    shots: int = 40
    #: absolute allowance, on top of declared errors, for idle decoherence and the like
    error_margin: float = 0.03
    #: wall-clock limit for one threaded entanglement round
    thread_timeout_s: float = 30.0
    #: cap on max_attempts used for the "should usually succeed" round
    max_attempts_cap: int = 200_000

    @pytest.fixture
    def qdevice(self) -> QDevice:
        raise NotImplementedError("a conformance test class must define a `qdevice` fixture")

    @pytest.fixture
    def qdevice_pair(self) -> tuple[QDevice, QDevice] | None:
        return None  # override to run the two-node tests

    # -- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _pair_or_skip(pair: tuple[QDevice, QDevice] | None) -> tuple[QDevice, QDevice]:
        if pair is None:
            pytest.skip("no qdevice_pair fixture: two-node tests skipped")
        return pair

    @staticmethod
    def _comm_qubit(dev: QDevice, peer: str) -> int:
        caps = dev.capabilities
        for q in caps.qubits_with(QubitRole.COMMUNICATION):
            if caps.supports(EntangleAttempt(q, peer)):
                return q
        pytest.skip(f"{caps.name} has no communication qubit that can attempt entanglement")

    def _measurable(self, dev: QDevice) -> list[int]:
        caps = dev.capabilities
        qs = [q.index for q in caps.qubits if caps.supports(Measure(q.index)) and caps.supports(Init(q.index))]
        if not qs:
            pytest.skip(f"{caps.name} has no qubit that can be initialised and measured")
        return qs

    def _count_ones(self, dev: QDevice, q: int, prep: list[PhysicalInstruction]) -> int:
        ones = 0
        for _ in range(self.shots):
            for instr in [Init(q), *prep]:
                dev.execute(instr).raise_for_status()
            r = dev.execute(Measure(q)).raise_for_status()
            assert r.status is Status.MEASURED and r.outcome in (0, 1), r
            ones += r.outcome
        return ones

    # -- capabilities ------------------------------------------------------------------------------
    def test_capabilities_well_formed(self, qdevice: QDevice) -> None:
        caps = qdevice.capabilities
        assert caps.hal_version.split(".")[0] == HAL_VERSION.split(".")[0], caps.hal_version
        assert isinstance(caps.tick_ns, int) and caps.tick_ns > 0
        assert caps.num_qubits >= 1
        assert [q.index for q in caps.qubits] == list(range(caps.num_qubits))
        for q in caps.qubits:
            assert q.roles, f"qubit {q.index} has no role"
            assert q.t1_ns > 0 and q.t2_ns > 0, q
            assert all(0.0 <= e <= 1.0 for e in q.readout_error) and len(q.readout_error) == 2, q
        for op in caps.operations:
            assert op.name in INSTRUCTION_TYPES and op.name != "wait", op.name
            assert op.targets, f"{op.name} has no targets"
            assert op.duration_ns >= 0 and 0.0 <= op.error <= 1.0, op
            for t in op.targets:
                assert len(t) == _ARITY[op.name], (op.name, t)
                assert len(set(t)) == len(t), (op.name, t)
                assert all(0 <= q < caps.num_qubits for q in t), (op.name, t)
            if op.name == "entangle":
                assert all(caps.qubits[t[0]].is_communication for t in op.targets), op
        if caps.entanglement is not None:
            ent = caps.entanglement
            assert ent.attempt_duration_ns > 0
            assert 0.0 <= ent.success_probability <= 1.0 and 0.0 <= ent.fidelity <= 1.0, ent

    def test_capabilities_round_trip(self, qdevice: QDevice) -> None:
        caps = qdevice.capabilities
        data = caps.to_dict()
        assert Capabilities.from_dict(data) == caps
        assert Capabilities.from_dict(json.loads(json.dumps(data))) == caps

    # -- timing ------------------------------------------------------------------------------------
    def test_every_native_operation_runs_on_tick_boundaries(self, qdevice: QDevice) -> None:
        caps = qdevice.capabilities
        ran = 0
        for op in caps.operations:
            for target in sorted(op.targets):
                instr = example_instruction(op, target)
                if instr is None:
                    continue
                before = qdevice.now_ns
                r = qdevice.execute(instr)
                assert r.ok and r.status in (Status.OK, Status.MEASURED), r
                assert r.start_ns % caps.tick_ns == 0, f"{instr!r} started off-tick at {r.start_ns}"
                assert r.start_ns >= before, f"{instr!r} started at {r.start_ns} before the clock ({before})"
                assert r.end_ns - r.start_ns >= caps.duration_ns(instr), r
                assert qdevice.now_ns >= r.end_ns
                ran += 1
        assert ran > 0, "no native operation could be exercised"

    def test_wait_advances_the_clock(self, qdevice: QDevice) -> None:
        tick = qdevice.capabilities.tick_ns
        for duration in (0, 3 * tick + 7):
            before = qdevice.now_ns
            r = qdevice.execute(Wait(duration)).raise_for_status()
            assert r.status is Status.OK and r.start_ns >= before and r.start_ns % tick == 0, r
            assert r.end_ns - r.start_ns >= duration
            assert qdevice.now_ns >= before + duration

    # -- statistics of init / flip / measure -------------------------------------------------------
    def test_init_then_measure_gives_zero(self, qdevice: QDevice) -> None:
        caps = qdevice.capabilities
        for q in self._measurable(qdevice):
            rate = caps.qubits[q].readout_error[0] + _init_error(caps, q) + self.error_margin
            ones = self._count_ones(qdevice, q, [])
            assert ones <= error_bound(self.shots, rate), f"qubit {q}: {ones}/{self.shots} ones after init"

    def test_pi_rotation_then_measure_gives_one(self, qdevice: QDevice) -> None:
        caps = qdevice.capabilities
        tested = 0
        for q in self._measurable(qdevice):
            flip = _flip(caps, q)
            if flip is None:
                continue
            instr, gate_error = flip
            rate = caps.qubits[q].readout_error[1] + _init_error(caps, q) + gate_error + self.error_margin
            zeros = self.shots - self._count_ones(qdevice, q, [instr])
            assert zeros <= error_bound(self.shots, rate), f"qubit {q}: {zeros}/{self.shots} zeros after {instr!r}"
            tested += 1
        if not tested:
            pytest.skip("no measurable qubit has a native pi rotation about X or Y")

    def test_reset_returns_qubits_to_zero(self, qdevice: QDevice) -> None:
        caps = qdevice.capabilities
        flippable = [(q, f) for q in self._measurable(qdevice) if (f := _flip(caps, q)) is not None]
        if not flippable:
            pytest.skip("no measurable qubit has a native pi rotation about X or Y")
        ones = {q: 0 for q, _ in flippable}
        for _ in range(self.shots):
            for _q, (instr, _err) in flippable:
                qdevice.execute(instr).raise_for_status()
            before = qdevice.now_ns
            qdevice.reset()
            assert qdevice.now_ns >= before, "reset moved the clock backwards"
            for q, _ in flippable:
                ones[q] += _outcome(qdevice.execute(Measure(q)))
        for q, n in ones.items():
            rate = caps.qubits[q].readout_error[0] + self.error_margin
            assert n <= error_bound(self.shots, rate), f"qubit {q}: {n}/{self.shots} ones after reset()"

    # -- refusals ----------------------------------------------------------------------------------
    def test_unsupported_instructions_are_refused_without_effect(self, qdevice: QDevice) -> None:
        caps = qdevice.capabilities
        denied = [i for i in candidate_instructions(caps.num_qubits) if not caps.supports(i)]
        if not denied:
            pytest.skip(f"{caps.name} denies no instruction shape")
        # a sentinel qubit in |1> must come out of the refusals unchanged
        sentinel = next(((q, f) for q in self._measurable(qdevice) if (f := _flip(caps, q))), None)
        zeros = 0
        for shot in range(self.shots if sentinel else 1):
            if sentinel:
                qdevice.execute(Init(sentinel[0])).raise_for_status()
                qdevice.execute(sentinel[1][0]).raise_for_status()
            for instr in denied:
                before = qdevice.now_ns
                r = qdevice.execute(instr)
                assert r.status is Status.UNSUPPORTED, f"{instr!r} was not refused: {r}"
                assert not r.ok and r.message, r
                assert r.end_ns == r.start_ns, f"refused {instr!r} occupied device time"
                assert qdevice.now_ns >= before
                if shot == 0:
                    with pytest.raises(UnsupportedInstruction):
                        r.raise_for_status()
            if sentinel:
                zeros += 1 - _outcome(qdevice.execute(Measure(sentinel[0])))
        if sentinel:
            q, (_instr, gate_error) = sentinel
            rate = caps.qubits[q].readout_error[1] + _init_error(caps, q) + gate_error + self.error_margin
            assert zeros <= error_bound(self.shots, rate), f"refusals disturbed qubit {q}: {zeros} zeros"

    def test_invalid_qubits_are_refused(self, qdevice: QDevice) -> None:
        n = qdevice.capabilities.num_qubits
        bad: list[PhysicalInstruction] = [
            Init(n), Init(-1), Measure(n), Rotate(n, Axis.X, math.pi), EntangleAttempt(n, _UNKNOWN_PEER),
            ControlledRotate(0, n, Axis.X, math.pi), MolmerSorensen((n, 0), math.pi / 2),
            ControlledRotate(0, 0, Axis.X, math.pi), MolmerSorensen((0, 0), math.pi / 2),
        ]
        for instr in bad:
            before = qdevice.now_ns
            r = qdevice.execute(instr)
            assert r.status is Status.INVALID_QUBIT, f"{instr!r}: {r}"
            assert not r.ok and r.message and r.end_ns == r.start_ns and qdevice.now_ns >= before, r
            with pytest.raises(InvalidQubit):
                r.raise_for_status()

    def test_raise_for_status_passes_successes_through(self, qdevice: QDevice) -> None:
        r = qdevice.execute(Wait(0))
        assert r.ok and r.raise_for_status() is r

    # -- two nodes ---------------------------------------------------------------------------------
    def test_unknown_peer_is_unsupported(self, qdevice: QDevice) -> None:
        caps = qdevice.capabilities
        if caps.entanglement is None:
            pytest.skip(f"{caps.name} has no entanglement link")
        q = self._comm_qubit(qdevice, _UNKNOWN_PEER)
        r = qdevice.execute(EntangleAttempt(q, _UNKNOWN_PEER))
        assert r.status is Status.UNSUPPORTED and _UNKNOWN_PEER in r.message, r

    def test_pair_attempts_agree(self, qdevice_pair: tuple[QDevice, QDevice] | None) -> None:
        a, b = self._pair_or_skip(qdevice_pair)
        qa, qb = self._comm_qubit(a, b.node), self._comm_qubit(b, a.node)
        p = a.capabilities.entanglement.success_probability  # type: ignore[union-attr]
        likely = self.max_attempts_cap if p <= 0 else min(self.max_attempts_cap, max(1, math.ceil(8 / p)))
        seen = set()
        for max_attempts in (likely, 1, likely):
            ra, rb = _run_both(partial(a.execute, EntangleAttempt(qa, b.node, max_attempts)),
                               partial(b.execute, EntangleAttempt(qb, a.node, max_attempts)),
                               self.thread_timeout_s)
            assert ra.status == rb.status, (ra, rb)
            assert ra.status in (Status.ENTANGLED, Status.ENT_FAILURE), (ra, rb)
            assert ra.start_ns == rb.start_ns and ra.end_ns == rb.end_ns, (ra, rb)
            assert ra.attempts == rb.attempts, (ra, rb)
            for dev, r in ((a, ra), (b, rb)):
                assert r.start_ns % dev.capabilities.tick_ns == 0 and dev.now_ns >= r.end_ns, r
            if ra.status is Status.ENTANGLED:
                assert ra.pair_id is not None and ra.pair_id == rb.pair_id, (ra, rb)
                assert ra.bell_state is not None and rb.bell_state is not None, (ra, rb)
                assert 1 <= ra.attempts <= max_attempts
                assert ra.pair_id not in seen, "pair id reused"
                seen.add(ra.pair_id)
            else:
                assert ra.attempts == max_attempts, (ra, rb)
            assert ra.end_ns - ra.start_ns >= ra.attempts * a.capabilities.entanglement.attempt_duration_ns  # type: ignore[union-attr]

    def test_lone_attempt_is_a_sync_failure(self, qdevice_pair: tuple[QDevice, QDevice] | None) -> None:
        a, b = self._pair_or_skip(qdevice_pair)
        r = a.execute(EntangleAttempt(self._comm_qubit(a, b.node), b.node, 1))
        assert r.status is Status.ENT_SYNC_FAILURE and r.message and r.ok, r

    def test_disagreeing_windows_are_a_sync_failure(self, qdevice_pair: tuple[QDevice, QDevice] | None) -> None:
        a, b = self._pair_or_skip(qdevice_pair)
        qa, qb = self._comm_qubit(a, b.node), self._comm_qubit(b, a.node)
        tick = math.lcm(a.capabilities.tick_ns, b.capabilities.tick_ns)
        base = (max(a.now_ns, b.now_ns) // tick + 10) * tick
        ra, rb = _run_both(lambda: a.execute(EntangleAttempt(qa, b.node, 1, window_start_ns=base)),
                           lambda: b.execute(EntangleAttempt(qb, a.node, 1, window_start_ns=base + tick)),
                           self.thread_timeout_s)
        assert ra.status is Status.ENT_SYNC_FAILURE and rb.status is Status.ENT_SYNC_FAILURE, (ra, rb)

"""The mock devices' fast path for whole sequences does exactly what one ``execute`` per instruction does.

Same seed, same instructions: one device runs them through ``execute_sequence``, its twin one by one
through ``execute``; outcomes, clocks, responses and the density matrices must agree bit for bit.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from qnodeos.drivers.mock_ion import MockIonDevice
from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.hal import Axis, ControlledRotate, Init, Measure, MolmerSorensen, Rotate, Status, Wait


def _random_sequences(device, rng: np.random.Generator, count: int) -> list[tuple]:
    """Sequences of supported instructions, some reused (so plans are hit, not only built)."""
    caps = device.capabilities
    n = caps.num_qubits
    pool = []
    for q in range(n):
        pool += [Init(q), Measure(q)] + [Rotate(q, ax, float(a)) for ax in Axis for a in (0.3, -1.1, math.pi)]
        for r in range(n):
            if q != r:
                pool += [ControlledRotate(q, r, Axis.X, 0.7), MolmerSorensen((q, r), -0.4)]
    pool = [i for i in pool if caps.supports(i)]
    made = [tuple(pool[k] for k in rng.integers(len(pool), size=rng.integers(1, 5))) for _ in range(12)]
    return [made[k] for k in rng.integers(len(made), size=count)]


@pytest.mark.parametrize("factory", [MockNVDevice, MockIonDevice])
def test_fast_path_matches_one_instruction_at_a_time(factory) -> None:
    _compare_with_execute(factory.from_config(seed=7), factory.from_config(seed=7))


class _OwnIdleIon(MockIonDevice):
    """A subclass with its own idle noise (not described to the compiled runner: it is called back)."""

    def _idle(self, q: int, t_from: int, t_to: int) -> None:
        self._space.dephase(self._handles[q], min(0.5, (t_to - t_from) * 1e-7) + 1e-3 * self._now % 1e-9)


@pytest.mark.parametrize("make", [
    lambda: MockIonDevice.from_config(seed=5, dephasing="exponential"),   # Markovian T1/T2 in C
    lambda: MockIonDevice.from_config(seed=5, t1_ns=3e8, t2_ns=2e8),      # Gaussian with population decay
    lambda: MockNVDevice.from_config(seed=5, carbons=3),
    lambda: _OwnIdleIon.from_config(seed=5),                              # Python idle, called back
], ids=["ion-exponential", "ion-gaussian-t1", "nv-3-carbons", "ion-own-idle"])
def test_compiled_idle_models_match_execute(make) -> None:
    """Every idle model the runner compiles, and the call-back of one it does not know, give the
    same states as ``execute``; waits of seconds between sequences take the Gaussian model past the
    times whose squares fit 64 bits (where the device's own exact arithmetic takes over)."""
    _compare_with_execute(make(), make(), waits_ns=(0, 10_000, 700_000_000, 2_000_000_000))


def _compare_with_execute(fast, slow, waits_ns: tuple[int, ...] = (0,)) -> None:
    rng = np.random.default_rng(3)
    planned = 0
    for seq in _random_sequences(fast, rng, 200):
        wait = int(rng.choice(waits_ns))
        if wait:
            assert fast.execute(Wait(wait)) == slow.execute(Wait(wait))
        slow_responses = [slow.execute(i) for i in seq]
        ends_in_measure = isinstance(seq[-1], Measure)
        if not ends_in_measure:  # measure_sequence refuses it and does nothing
            before = fast.now_ns
            assert fast.measure_sequence(seq) is None
            assert fast.now_ns == before
        by_outcome = ends_in_measure and rng.random() < 0.5
        done = fast.measure_sequence(seq) if by_outcome else fast.execute_sequence(seq)
        if done is None:  # a measurement of a qubit the device cannot read directly, say
            fast_responses = [fast.execute(i) for i in seq]
            assert fast_responses == slow_responses
            continue
        planned += 1
        last, busy = done
        assert last == (slow_responses[-1].outcome if by_outcome else slow_responses[-1])
        tick = slow.capabilities.tick_ns
        assert busy == sum(-(-(r.end_ns - r.start_ns) // tick) * tick or tick for r in slow_responses)
        assert fast.now_ns == slow.now_ns
    assert planned > 150
    for q in range(fast.capabilities.num_qubits):
        assert fast.density_matrix([q]).tobytes() == slow.density_matrix([q]).tobytes()


def test_refusals_and_waits_take_the_ordinary_path() -> None:
    device = MockNVDevice.from_config(seed=1)
    assert device.execute_sequence((Rotate(0, Axis.Z, 0.5),)) is None  # the electron has no native Z
    assert device.execute_sequence((Init(0), Wait(100))) is None
    assert device.execute_sequence((Rotate(0, Axis.X, math.nan),)) is None
    assert device.now_ns == 0  # nothing was done


def test_a_wrapped_execute_sees_every_instruction() -> None:
    """Whoever replaces ``execute`` on an instance (a recorder, a fault injector) keeps seeing every
    instruction: the fast path steps aside."""
    device = MockIonDevice.from_config(seed=1)
    seen = []
    inner = device.execute

    def recording(instr):
        seen.append(instr)
        return inner(instr)

    device.execute = recording
    assert device.execute_sequence((Init(0), Rotate(0, Axis.X, 1.0))) is None
    device.execute(Init(0))
    assert seen == [Init(0)]


def test_measurement_through_the_fast_path_reports_its_outcome() -> None:
    device = MockIonDevice.from_config(seed=2, preset="ideal")
    last, _ = device.execute_sequence((Init(1), Rotate(1, Axis.X, math.pi), Measure(1)))
    assert last.status is Status.MEASURED and last.outcome == 1


class _Counting:
    """A wrapper that forwards everything it does not define to the device it wraps."""

    def __init__(self, inner) -> None:
        self.inner, self.seen = inner, 0

    def execute(self, instruction):
        self.seen += 1
        return self.inner.execute(instruction)

    def execute_many(self, instructions):
        return [self.execute(i) for i in instructions]

    def __getattr__(self, name):
        return getattr(self.__dict__["inner"], name)


def test_a_node_on_a_forwarding_wrapper_sends_it_every_instruction() -> None:
    from qnodeos.node import Node

    device = _Counting(MockIonDevice.from_config(seed=1))
    node = Node(device)
    pid = node.submit("# NETQASM 1.0\n# APPID 0\nset Q0 0\nqalloc Q0\ninit Q0\nh Q0\nx Q0\nmeas Q0 M0\nqfree Q0\n"
                      "ret_reg M0\n")
    node.run()
    assert node.result(pid).ok
    assert device.seen == node.executor.physical_count > 3


class _Forgetful(dict):
    """A cache that keeps nothing: every lookup asks the translator again."""

    def __setitem__(self, key, value) -> None:
        pass


def _run_loop(device, remember: bool = True) -> tuple:
    from qnodeos.node import Node

    text = "# NETQASM 1.0\n# APPID 0\n" + "\n".join(
        [f"set Q{q} {q}\nqalloc Q{q}\ninit Q{q}" for q in range(3)]
        + ["set R0 0", "LOOP:", "beq R0 25 END", "init Q0"]
        + [f"h Q{q}\nrot_x Q{q} 3 3\nrot_z Q{q} 5 4\nrot_x Q{q} 1 2" + (f"\ncnot Q0 Q{q}" if q else "") for q in range(3)]
        + ["meas Q0 M0", "store M0 @0[R0]", "add R0 R0 1", "jmp LOOP", "END:", "ret_arr @0"]) + "\n"
    text = text.replace("set R0 0", "array 25 @0\nset R0 0")
    node = Node(device, trace=True)
    if not remember:
        node.executor._lowered1 = [_Forgetful() for _ in node.executor._lowered1]
    pid = node.submit(text)
    node.run()
    result = node.result(pid)
    assert result.ok, result.error
    rows = [(e.line, e.start_ns, e.end_ns, e.physical) for e in node.trace.entries()]
    states = [device.density_matrix([q]).tobytes() for q in range(device.capabilities.num_qubits)]
    return result.arrays, rows, device.now_ns, node.executor.busy_ns, node.executor.physical_count, states


@pytest.mark.parametrize("factory, size", [(MockNVDevice, {"carbons": 2}), (MockIonDevice, {"ions": 3})])
def test_a_node_on_the_fast_path_runs_as_one_execute_per_instruction(factory, size) -> None:
    """The executor's remembered lowerings and the device's compiled runner against the ordinary
    path (a wrapper sees every instruction, each gate lowered afresh): the same outcomes, trace,
    clock and states, bit for bit."""
    fast = _run_loop(factory.from_config(seed=11, **size))
    wrapped = _Counting(factory.from_config(seed=11, **size))
    slow = _run_loop(wrapped, remember=False)
    assert wrapped.seen == slow[4] > 25 * 10
    assert fast == slow

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
    fast, slow = factory.from_config(seed=7), factory.from_config(seed=7)
    rng = np.random.default_rng(3)
    planned = 0
    for seq in _random_sequences(fast, rng, 200):
        slow_responses = [slow.execute(i) for i in seq]
        done = fast.execute_sequence(seq)
        if done is None:  # a measurement of a qubit the device cannot read directly, say
            fast_responses = [fast.execute(i) for i in seq]
            assert fast_responses == slow_responses
            continue
        planned += 1
        last, busy = done
        assert last == slow_responses[-1]
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

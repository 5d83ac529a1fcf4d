"""Scheduler behaviour: multitasking raises device utilisation; priorities and FIFO order."""
from __future__ import annotations

from qnodeos.node import Node
from qnodeos.scheduler import PriorityFifo

from os_helpers import HEADER, X_MEASURE, make_node

# Two subroutines with host-side time between them (classical processing / messages), as in QNodeOS's
# delegated-computation experiment where the server's qubit waited ~ms between subroutines.
FIRST = HEADER + """set Q0 0
qalloc Q0
init Q0
h Q0
"""
SECOND = HEADER + """h Q0
meas Q0 M0
ret_reg M0
qfree Q0
"""
HOST_DELAY_NS = 10_000_000
APPS = 3  # the mock ion trap has three ions: every app holds one


def _run_apps(concurrent: bool) -> tuple[float, int, Node]:
    node = make_node("ion", seed=3)
    pids = []
    if concurrent:
        pids = [node.submit([FIRST, SECOND], host_delay_ns=HOST_DELAY_NS) for _ in range(APPS)]
        node.run()
    else:
        for _ in range(APPS):
            pids.append(node.submit([FIRST, SECOND], host_delay_ns=HOST_DELAY_NS))
            node.run()
    for pid in pids:
        result = node.result(pid)
        assert result.ok, result.error
        assert result.registers["M0"] == 0  # H H = I on an ideal device
    return node.utilisation(), node.stats()["elapsed_ns"], node


def test_multitasking_raises_utilisation_and_shortens_makespan():
    util_seq, elapsed_seq, _ = _run_apps(concurrent=False)
    util_par, elapsed_par, node = _run_apps(concurrent=True)
    # One at a time the device idles through every host delay; together the delays overlap.
    assert util_par > 1.8 * util_seq, (util_par, util_seq)
    assert elapsed_par < 0.5 * elapsed_seq, (elapsed_par, elapsed_seq)
    # the processes really interleaved: a second process started before the first one finished
    entries = node.trace.entries()
    first_end = max(e.end_ns for e in entries if e.pid == 1)
    assert any(e.pid == 2 and e.start_ns < first_end for e in entries)


def test_priority_then_fifo_order():
    node = make_node("nv")
    low = [node.submit(X_MEASURE, priority=3, name=f"low{i}") for i in range(2)]
    high = [node.submit(X_MEASURE, priority=0, name=f"high{i}") for i in range(2)]
    node.run()
    order = sorted(low + high, key=lambda pid: node.result(pid).finished_ns)
    assert order == high + low


def test_policy_is_replaceable():
    class LastInFirstOut(PriorityFifo):
        def __init__(self) -> None:
            self.stack = []

        def push(self, proc):
            self.stack.append(proc)

        def pop(self):
            return self.stack.pop() if self.stack else None

        def __len__(self):
            return len(self.stack)

    node = make_node("nv", policy=LastInFirstOut())
    pids = [node.submit(X_MEASURE) for _ in range(3)]
    node.run()
    order = sorted(pids, key=lambda pid: node.result(pid).finished_ns)
    assert order == list(reversed(pids))


ENDLESS = HEADER + """set Q0 0
qalloc Q0
LOOP:
jmp LOOP
"""


def test_endless_loop_is_preempted_and_stopped_by_the_budget():
    node = make_node("ion", time_slice=1000, max_instructions=20_000)
    loop = node.submit(ENDLESS, name="loop")
    other = node.submit(X_MEASURE, name="other")
    node.run()
    looping, served = node.result(loop), node.result(other)
    assert served.ok and served.registers == {"M0": 1}
    order = [e.pid for e in node.trace.entries()]
    last_other = max(i for i, pid in enumerate(order) if pid == other)
    assert loop in order[:last_other] and loop in order[last_other:]  # served while the loop still ran
    assert not looping.ok and "exceeded its budget of 20000 instructions" in looping.error
    assert node.memory.allocated() == {}


def test_process_limit_per_node():
    node = make_node("ion", max_processes=2)
    node.submit(X_MEASURE)
    node.submit(X_MEASURE)
    try:
        node.submit(X_MEASURE)
    except Exception as exc:
        assert "limit 2" in str(exc)
    else:
        raise AssertionError("third process accepted")
    node.run()
    node.submit(X_MEASURE)  # finished processes no longer count

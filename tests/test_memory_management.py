"""Quantum memory management (issue 16): placement by need, moves, pinning, fair waits for qubits.

Through the public ``Node`` API on the mock devices:

* vanilla programs are placed freely (NV: any of electron and carbons), NV-flavour programs keep the
  flavour's convention (virtual qubit 0 = the electron whenever an instruction needs it);
* a waiting process's state is moved off the electron when another process needs it, and moved back
  before a gate only the electron can do; each move is a trace row of its own and busy device time;
* a moved state keeps its (noisy) content: the density matrix after a move on the realistic preset
  equals an independent numpy replay (``reference_dm.ReferenceDM``) of the same physical instructions;
* a pinned qubit is never moved; waits for a qubit are served in order; a silent host cannot keep
  others from its qubits beyond the policy's hold limit.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from qnodeos.apps.runner import run_app_dir
from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.hal import ControlledRotate, Init, Rotate, Wait
from qnodeos.moves import MovePolicy
from qnodeos.node import Node
from qnodeos.process import ProcessState

from os_helpers import HEADER, X_MEASURE, make_node
from reference_dm import ReferenceDM

FIRST = HEADER + "set Q0 {vid}\nqalloc Q0\ninit Q0\nh Q0\n"
SECOND = HEADER + "set Q0 {vid}\nh Q0\nmeas Q0 M0\nret_reg M0\nqfree Q0\n"
# NV flavour (what the SDK's NV compiler emits): virtual qubit 0 is the electron
NV_HOLD = HEADER + "set Q0 0\nqalloc Q0\ninit Q0\nrot_y Q0 8 4\n"  # |+> on the electron
NV_READ = HEADER + "set Q0 0\nrot_y Q0 24 4\nmeas Q0 M0\nret_reg M0\nqfree Q0\n"  # back to |0>, read
NV_USE_ELECTRON = HEADER + "set Q0 0\nqalloc Q0\ninit Q0\nrot_x Q0 16 4\nmeas Q0 M0\nret_reg M0\nqfree Q0\n"


def moves(node: Node) -> list:
    return [e for e in node.trace.entries() if e.instruction.startswith("move ")]


def qubit_waits(node: Node, pid: int) -> list:
    return [e for e in node.trace.entries() if e.pid == pid and e.instruction.startswith("wait: a")]


# ---- placement ------------------------------------------------------------------------------------
@pytest.mark.parametrize("vid", [0, 1])
def test_vanilla_programs_are_placed_freely_on_nv(vid):
    """Three vanilla programs that hold one qubit across a host wait share the electron and both
    carbons (virtual id 0 or 1 alike), run at the same time and return H H |0> = |0>."""
    node = make_node("nv")
    pids = [node.submit([FIRST.format(vid=vid), SECOND.format(vid=vid)], host_delay_ns=2_000_000) for _ in range(3)]
    node.run(until_ns=1_500_000)  # all three hold their qubit now, waiting for their hosts
    placed = sorted(node.memory.qubits_of(pid)[vid] for pid in pids)
    assert placed == [0, 1, 2]
    node.run()
    for pid in pids:
        assert node.result(pid).ok and node.result(pid).registers == {"M0": 0}
        assert not [e for e in qubit_waits(node, pid) if "free qubit" in e.instruction]
    one = make_node("nv")
    alone = one.submit([FIRST.format(vid=vid), SECOND.format(vid=vid)], host_delay_ns=2_000_000)
    one.run()
    # together is shorter than one after the other and keeps the device busier
    assert node.stats()["elapsed_ns"] < 2 * one.stats()["elapsed_ns"]
    assert node.utilisation() > 3 * one.utilisation() and one.result(alone).ok


def test_placement_follows_what_each_virtual_qubit_needs():
    """A qubit measured within its subroutine goes on the electron (direct readout); the hub of two
    two-qubit gates goes on the electron (carbons only pair with it); a chain of gates that needs
    more than the star allows is routed by moving states, and the result is the GHZ state's."""
    node = make_node("nv")
    hub = HEADER + """set Q0 5
qalloc Q0
set Q1 7
qalloc Q1
set Q2 9
qalloc Q2
init Q0
init Q1
init Q2
h Q1
cnot Q1 Q0
cnot Q1 Q2
"""
    pid = node.submit([hub, HEADER + "set Q0 5\nqfree Q0\nset Q0 7\nqfree Q0\nset Q0 9\nqfree Q0\n"],
                      host_delay_ns=1_000_000)
    node.run(until_ns=900_000)
    seen = node.memory.qubits_of(pid)
    assert seen[7] == 0 and {seen[5], seen[9]} == {1, 2} and not moves(node)
    node.run()
    assert node.result(pid).ok
    # a chain 0-1, 1-2, 2-0 cannot sit on a star: the OS moves states (here: swaps two of them)
    chain = HEADER + """set Q0 0
qalloc Q0
set Q1 1
qalloc Q1
set Q2 2
qalloc Q2
init Q0
init Q1
init Q2
h Q0
cnot Q0 Q1
cnot Q1 Q2
cnot Q2 Q0
cnot Q2 Q0
array 3 @0
meas Q0 M0
meas Q1 M1
meas Q2 M2
store M0 @0[0]
store M1 @0[1]
store M2 @0[2]
ret_arr @0
qfree Q0
qfree Q1
qfree Q2
"""
    outcomes = set()
    for seed in range(12):
        node = make_node("nv", seed=seed)
        pid = node.submit(chain)
        node.run()
        result = node.result(pid)
        assert result.ok, result.error
        outcomes.add(tuple(result.arrays[0]))
        assert moves(node), "a gate between two carbons needs a move"
    assert outcomes <= {(0, 0, 0), (1, 1, 1)} and len(outcomes) == 2


def test_protective_policy_places_long_held_states_on_carbons():
    """With ``MovePolicy(protect=True)`` a qubit held across a known 5 ms host wait goes on a carbon
    (seconds of coherence) and one used within its subroutine on the electron; by default (the
    issue's semantics: placement by the operations asked) both go on the electron first."""
    program = [FIRST.format(vid=0), SECOND.format(vid=0)]
    for policy, expected in ((MovePolicy(protect=True), 1), (None, 0)):
        node = Node(MockNVDevice.from_config(seed=1), move_policy=policy)
        held = node.submit(program, host_delay_ns=5_000_000)
        node.run(until_ns=1_000_000)
        assert node.memory.qubits_of(held)[0] == expected
        node.run()
        assert node.result(held).ok
    node = Node(MockNVDevice.from_config(seed=1), move_policy=MovePolicy(protect=True))
    pid = node.submit(X_MEASURE)
    node.run()
    assert node.result(pid).ok and "controlled_rotate" not in str(node.trace.entries())


def test_protective_moves_wait_for_the_break_even_time_when_the_wait_is_unknown():
    """``protect=True``: a state left on the electron while the host decides (a persistent process)
    moves to a carbon once it has waited as long as staying costs what the move costs (rent or buy),
    not before; a state whose wait is known moves at once when that pays (here: 5 ms of the
    electron's 13 ms coherence)."""
    policy = MovePolicy(protect=True)
    node = Node(MockNVDevice.from_config(seed=1), move_policy=policy)
    pid = node.open_process("host-driven")
    node.push_subroutine(pid, NV_HOLD, flavour="nv")
    node.run(until_ns=100_000)
    blocked = node.process(pid).results[-1].end_ns
    error = node.qubits.mover.error(0, 2)
    wait = policy.break_even_ns(node.qubits.costs, 0, 2, error)
    assert wait is not None and 0.5e6 < wait < 3e6  # ~1 ms: (1 - exp(-t / 13 ms)) / 2 = the move's ~5 %
    node.run(until_ns=blocked + int(wait) - 20_000)
    assert not moves(node) and node.memory.qubits_of(pid) == {0: 0}
    node.run(until_ns=blocked + int(wait) + 2_000_000)
    (row,) = moves(node)
    assert row.start_ns == pytest.approx(blocked + wait, abs=20_000) and "keep its coherence" in row.instruction
    assert node.memory.qubits_of(pid)[0] in (1, 2)
    node.push_subroutine(pid, NV_READ, flavour="nv")
    node.run()
    assert node.process(pid).results[-1].registers == {"M0": 0}
    # known wait: moved right after the subroutine, before the host delay runs out
    node = Node(MockNVDevice.from_config(seed=1), move_policy=policy)
    held = node.submit([NV_HOLD, NV_READ], host_delay_ns=5_000_000, flavour="nv")
    node.run()
    (row,) = moves(node)
    assert row.start_ns < 100_000 and node.result(held).ok


# ---- moves and the NV flavour --------------------------------------------------------------------------
def test_nv_flavour_programs_keep_their_electron_and_waiting_states_make_room():
    """An NV-flavour program's virtual qubit 0 is the electron. While it waits for its host, another
    NV-flavour program needs the electron: the waiting state moves to a carbon (a trace row of its
    own, busy device time), and moves back before its conditional rotation, which only the electron
    can do; both programs get the right results."""
    node = make_node("nv")
    holder = node.submit([NV_HOLD + "set Q1 1\nqalloc Q1\ninit Q1\n",
                          HEADER + "set Q0 0\nset Q1 1\ncrot_x Q0 Q1 16 4\nrot_y Q0 24 4\nmeas Q0 M0\n"
                          "meas Q1 M1\nret_reg M0\nret_reg M1\nqfree Q0\nqfree Q1\n"],
                         host_delay_ns=3_000_000, flavour="nv", name="holder")
    node.run(until_ns=5_000)
    assert node.memory.qubits_of(holder) == {0: 0, 1: 1}  # convention: 0 = electron, 1 = a carbon
    busy_before = node.executor.busy_ns
    other = node.submit(NV_USE_ELECTRON, flavour="nv", name="other")
    node.run(until_ns=2_000_000)
    assert node.result(other).ok and node.result(other).registers == {"M0": 1}
    assert node.memory.qubits_of(holder) == {0: 2, 1: 1}  # the waiting state made room
    (evicted,) = moves(node)
    assert evicted.pid == holder and "qubit 0 -> 2" in evicted.instruction and f"process {other}" in evicted.instruction
    assert evicted.end_ns > evicted.start_ns and "controlled_rotate" in evicted.physical
    assert node.executor.busy_ns - busy_before >= evicted.end_ns - evicted.start_ns
    node.run()
    result = node.result(holder)
    assert result.ok, result.error
    # crot_x(pi) on |+>|0> gives |->|1> (up to phase); R_y(3 pi/2) takes |-> to |1>
    assert result.registers == {"M0": 1, "M1": 1}
    back = moves(node)[1]
    assert back.pid == holder and "qubit 2 -> 0" in back.instruction and "two-qubit gate" in back.instruction
    assert node.stats()["memory"]["moves"] == 2 and node.memory.allocated() == {}


@pytest.mark.parametrize("how", ["submit", "pin"])
def test_a_pinned_qubit_is_never_moved(how):
    """The same situation with the holder's electron pinned: no move, the other process waits for
    the electron until the holder frees it."""
    node = make_node("nv")
    holder = node.submit([NV_HOLD, NV_READ], host_delay_ns=3_000_000, flavour="nv", pinned=how == "submit")
    if how == "pin":
        node.pin(holder, [0])
    other = node.submit(NV_USE_ELECTRON, flavour="nv")
    node.run()
    assert not moves(node)
    assert node.result(holder).registers == {"M0": 0} and node.result(other).registers == {"M0": 1}
    assert node.result(other).subroutines[0].end_ns > node.result(holder).subroutines[1].start_ns
    assert qubit_waits(node, other)


def test_moves_follow_the_policy():
    """No moves when the policy is off, or when a move costs the waiting state more than
    ``max_cost`` (net of the coherence it would lose on the electron during the rest of its wait):
    on the realistic preset a move costs ~5 %, and 0.3 ms on the electron only ~1 %."""
    for policy, moved in ((MovePolicy(enabled=False), False), (MovePolicy(max_cost=0.01), False),
                          (MovePolicy(), True)):
        node = Node(MockNVDevice.from_config(seed=1), move_policy=policy)
        holder = node.submit([NV_HOLD, NV_READ], host_delay_ns=300_000, flavour="nv")
        other = node.submit(NV_USE_ELECTRON, flavour="nv")
        node.run()
        assert bool(moves(node)) is moved and node.result(holder).ok and node.result(other).ok
        assert bool(qubit_waits(node, other)) is not moved
    with pytest.raises(ValueError, match="max_cost"):
        MovePolicy(max_cost=1.5)


# ---- a moved state keeps its content, against the physics reference ------------------------------------
def _record(device) -> list:
    """Every physical instruction the device runs, with its response (wrapping the instance)."""
    log = []
    execute = device.execute

    def recording(instr):
        resp = execute(instr)
        log.append((instr, resp))
        return resp

    device.execute = recording
    return log


def _rotation(axis: str, angle: float) -> np.ndarray:
    pauli = {"x": np.array([[0, 1], [1, 0]]), "y": np.array([[0, -1j], [1j, 0]]), "z": np.diag([1, -1])}[axis]
    return math.cos(angle / 2) * np.eye(2) - 1j * math.sin(angle / 2) * pauli


def _replay(log: list, caps, now_ns: int) -> ReferenceDM:
    """The mock NV device's model, written independently: depolarising gate noise after each
    operation, T1/T2 idling of each qubit between the operations that touch it (and up to ``now``)."""
    ref = ReferenceDM()
    for q in range(caps.num_qubits):
        ref.add_qubit(q)
    last = [0] * caps.num_qubits
    coherence = [(q.t1_ns, q.t2_ns) for q in caps.qubits]

    def idle(q: int, t: int) -> None:
        if t > last[q]:
            ref.idle(q, t - last[q], *coherence[q])
        last[q] = max(last[q], t)

    for instr, resp in log:
        assert resp.ok, resp
        if isinstance(instr, Wait):
            continue
        error = caps.operation_for(instr).error
        if isinstance(instr, Init):
            ref.reset(instr.qubit)
            ref.depolarize_1q(instr.qubit, error)
            last[instr.qubit] = resp.end_ns
        elif isinstance(instr, Rotate):
            idle(instr.qubit, resp.start_ns)
            ref.apply_unitary_1q(instr.qubit, _rotation(instr.axis.value, instr.angle))
            ref.depolarize_1q(instr.qubit, error)
            last[instr.qubit] = resp.end_ns
        elif isinstance(instr, ControlledRotate):
            c, t = instr.control, instr.target
            idle(c, resp.start_ns)
            idle(t, resp.start_ns)
            u = np.zeros((4, 4), dtype=complex)
            u[:2, :2] = _rotation(instr.axis.value, instr.angle)
            u[2:, 2:] = _rotation(instr.axis.value, -instr.angle)
            ref.apply_unitary_2q(c, t, u, error)
            last[c] = last[t] = resp.end_ns
        else:
            raise AssertionError(f"unexpected instruction in this scenario: {instr!r}")
    for q in range(caps.num_qubits):
        idle(q, now_ns)
    return ref


@pytest.mark.parametrize("preset", ["realistic", "ideal"])
def test_a_moved_state_keeps_its_noisy_content(preset):
    """A state prepared on the electron, moved to a carbon to make room for another process, is the
    state an independent numpy replay of the same physical instructions gives (to 1e-9): the move is
    the native gates with their noise, nothing else. On the ideal preset it is the prepared state."""
    device = MockNVDevice.from_config(seed=3, preset=preset)
    node = Node(device)
    log = _record(device)
    holder = node.submit([HEADER + "set Q0 0\nqalloc Q0\ninit Q0\nrot_y Q0 5 3\nrot_x Q0 3 2\n",
                          HEADER + "set Q0 0\nqfree Q0\n"], host_delay_ns=4_000_000, flavour="nv")
    other = node.submit(HEADER + "set Q0 0\nqalloc Q0\ninit Q0\nrot_x Q0 8 4\nqfree Q0\n", flavour="nv")
    node.run(until_ns=3_000_000)
    assert node.result(other).ok and len(moves(node)) == 1
    carbon = node.memory.qubits_of(holder)[0]
    assert carbon != 0
    got = device.density_matrix([carbon])
    reference = _replay(log, device.capabilities, device.now_ns).density_matrix([carbon])
    np.testing.assert_allclose(got, reference, atol=1e-9)
    ideal = _rotation("x", 3 * math.pi / 4) @ _rotation("y", 5 * math.pi / 8) @ np.array([1, 0])
    fidelity = float(np.real(ideal.conj() @ got @ ideal))
    if preset == "ideal":
        assert fidelity == pytest.approx(1.0, abs=1e-9)
    else:  # two electron-carbon gates (2 %), carbon reset, some electron idling: noisy, not destroyed
        assert 0.85 < fidelity < 0.999
    node.run()
    assert node.result(holder).ok and node.memory.allocated() == {}


# ---- fair waits ----------------------------------------------------------------------------------------
def test_waits_for_a_qubit_are_served_in_order():
    """Processes waiting for the (pinned) electron get it in the order they asked, higher priority
    first; a process that frees it and asks again queues behind them (it cannot barge)."""
    node = make_node("nv")
    holder = node.submit([NV_HOLD, HEADER + "set Q0 0\nqfree Q0\nset Q0 0\nqalloc Q0\nqfree Q0\n"],
                         host_delay_ns=1_000_000, flavour="nv", pinned=True, name="holder")
    waiters = [node.submit(NV_USE_ELECTRON, flavour="nv", name=f"w{i}") for i in range(3)]
    node.run(until_ns=500_000)
    urgent = node.submit(NV_USE_ELECTRON, flavour="nv", priority=0, name="urgent")
    node.run(until_ns=600_000)
    assert node.qubits.waiting_order() == [urgent] + waiters
    node.run()
    served = [e.pid for e in node.trace.entries() if e.instruction == "qalloc Q0"]
    assert served == [holder, urgent] + waiters + [holder]
    assert all(node.result(p).registers == {"M0": 1} for p in waiters + [urgent])


def test_a_silent_host_cannot_keep_its_qubits_from_others_forever():
    """A process that holds the (pinned) electron while its host stays silent is ended once the hold
    limit of its priority has passed with another process waiting; one of higher priority is not."""
    policy = MovePolicy(hold_limit_ns=(math.inf, 2_000_000))
    node = Node(MockNVDevice.from_config(seed=1, preset="ideal"), move_policy=policy)
    holder = node.open_process("silent", pinned=True)
    node.push_subroutine(holder, NV_HOLD, flavour="nv")
    node.run()
    start = node.device.now_ns
    waiter = node.submit(NV_USE_ELECTRON, flavour="nv")
    node.run()
    held, served = node.result(holder), node.result(waiter)
    assert held.state is ProcessState.FAILED and "hold limit at priority 1 is 2 ms" in held.error
    assert served.ok and served.registers == {"M0": 1}
    assert served.finished_ns - start < 2_500_000
    assert node.stats()["memory"]["reclaimed"] == 1
    for priority, reclaimed in ((1, True), (0, False)):
        node = Node(MockNVDevice.from_config(seed=1, preset="ideal"), move_policy=policy)
        holder = node.submit([NV_HOLD, NV_READ], host_delay_ns=20_000_000, flavour="nv", pinned=True,
                             priority=priority)
        waiter = node.submit(NV_USE_ELECTRON, flavour="nv")
        node.run()
        assert node.result(waiter).ok
        assert (node.result(holder).state is ProcessState.FAILED) is reclaimed
        assert (node.result(waiter).finished_ns < 20_000_000) is reclaimed


def test_hold_limit_follows_the_coherence_of_the_held_qubits():
    caps = MockNVDevice.from_config(preset="realistic").capabilities
    policy = MovePolicy()
    electron_t2 = caps.qubits[0].t2_ns
    assert policy.hold_limit(1, [electron_t2]) == pytest.approx(5 * electron_t2)
    assert policy.hold_limit(1, [math.inf]) == 10e9 and policy.hold_limit(0, [math.inf]) == math.inf
    assert policy.hold_limit(7, [math.inf]) == 1e8  # lower priorities: the last limit


# ---- the network stack's need for the electron -----------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_network_needs_the_electron_a_waiting_pair_half_makes_room(seed):
    """Own apps (tests/network_apps/memory_network_need), two per node: alice_a/bob_a keep a pair on
    both electrons while their hosts wait; alice_b/bob_b then ask for a pair on the same link. The
    standing attempt needs a free electron on both nodes, so each node moves its waiting half into a
    carbon ("for the network"); both pairs complete, and the moved pair still gives equal outcomes in
    the X basis (ideal double-click link: a perfect Bell pair). Without moves this deadlocks."""
    run = run_app_dir(Path(__file__).parent / "network_apps" / "memory_network_need", "nv", seed=seed,
                      preset="ideal", mode="threads", trace=True, timeout_s=60,
                      device_config={"scheme": "double-click", "detection_efficiency": 0.3,
                                     "peer_detection_efficiency": 0.3})
    assert run.ok, run.errors
    assert run.results["alice_a"] == run.results["bob_a"] and run.results["alice_b"] == run.results["bob_b"]
    for node in ("alice", "bob"):
        rows = [e for e in run.traces[node]["entries"] if e["instruction"].startswith("move ")]
        assert [(e["process"], e["instruction"]) for e in rows] == [
            (f"{node}_a", "move virtual 0: qubit 0 -> 1 (for the network)")]
        assert run.stats[node]["memory"]["moves"] == 1

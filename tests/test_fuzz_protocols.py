"""Fuzzing the protocols that carry outside input (issue: reliability).

* the node-to-node entanglement protocol: ``EntanglementService.on_message`` with random messages
  (wrong types, missing keys, unknown ``what``, huge or negative numbers, unknown request ids, forged
  senders) never raises, fails no uninvolved process, leaks no qubit, and a well-formed exchange
  between two nodes still works afterwards;
* the mailbox wire format: random frames from a raw ZeroMQ DEALER are ignored and the mailbox keeps
  delivering valid messages;
* the controller firmware: random command lines (text protocol) and random bytes / frames (framed
  protocol) get an error reply, never an exception, and the controller still serves valid commands;
* the host-side parsers of controller replies (``qnodeos.drivers.protocol``): random text gives a result
  or ``ValueError`` naming the problem (round trips and the frame decoder's resynchronisation are in
  ``tests/test_controller_protocol.py``).

Deterministic and bounded for CI (``derandomize``, no example database); ``QNODEOS_FUZZ_SCALE``
multiplies the example counts and ``QNODEOS_FUZZ_RANDOM=1`` draws new examples.
"""
from __future__ import annotations

import itertools
import math
import os
import time

import msgpack
import pytest
import zmq
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from qnodeos.drivers import protocol as proto
from qnodeos.drivers.mock_ion import MockIonDevice
from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.errors import QNodeOSError
from qnodeos.firmware_stubs.controller import Controller
from qnodeos.firmware_stubs.sessions import FramedSession
from qnodeos.hal import Init, Measure, Status
from qnodeos.hal.timeline import NetworkSchedule
from qnodeos.network.egp import EntanglementService
from qnodeos.network.mailbox import Mailbox
from qnodeos.network_process import NodePort
from qnodeos.node import Node
from qnodeos.process import ProcessState

from os_helpers import HEADER, X_MEASURE

SCALE = float(os.environ.get("QNODEOS_FUZZ_SCALE", "1"))
RANDOM = bool(os.environ.get("QNODEOS_FUZZ_RANDOM"))


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None, derandomize=not RANDOM,
                    database=None, suppress_health_check=list(HealthCheck), print_blob=True)


def wait_for(predicate, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


# =====================================================================================================
# the entanglement generation protocol
# =====================================================================================================
NODE_IDS = {"alice": 0, "bob": 1}

# create_epr / recv_epr programs (create-and-keep, one pair, EPR socket 0, peer by node id)
CREATE = HEADER + """array 1 @0
set R5 0
store R5 @0[0]
array 22 @1
array 10 @2
set R0 {peer}
set R1 0
set R2 0
set R3 1
set R4 2
create_epr R0 R1 R2 R3 R4
wait_all @2[0:10]
set Q0 0
meas Q0 M0
qfree Q0
ret_reg M0
"""
RECV = HEADER + """array 1 @0
set R5 0
store R5 @0[0]
array 10 @2
set R0 {peer}
set R1 0
set R2 0
set R4 2
recv_epr R0 R1 R2 R4
wait_all @2[0:10]
set Q0 0
meas Q0 M0
qfree Q0
ret_reg M0
"""


class RecordingMailbox:
    """Stands in for a :class:`Mailbox`: records what the EGP sends."""

    def __init__(self, peers: list[str]) -> None:
        self.peers = list(peers)
        self.sent: list[tuple[str, str, dict]] = []

    def send(self, peer: str, kind: str, /, **body) -> None:
        self.sent.append((peer, kind, body))


huge = st.sampled_from([2**31, 2**63 - 1, -2**63, 2**64 - 1, 10**30, -10**30])
wire_scalar = st.one_of(st.none(), st.booleans(), st.integers(-3, 5), huge, st.floats(), st.text(max_size=8),
                        st.binary(max_size=6))
wire_value = st.recursive(wire_scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                               st.dictionaries(st.text(max_size=6), inner,
                                                                               max_size=3)), max_leaves=8)
senders = st.sampled_from(["alice", "bob", "mallory", ""])
rid = st.one_of(st.tuples(senders, st.one_of(st.integers(0, 4), huge)).map(list), wire_value)
#: plausible field values (right type, interesting ranges), or anything at all
FIELDS = {
    "rid": rid,
    "socket": st.one_of(st.integers(-1, 2), huge),
    "kind": st.one_of(st.integers(-1, 3), huge),
    "number": st.one_of(st.integers(-1, 3), huge, st.just(1_000_000)),
    "rotation": st.one_of(st.lists(st.one_of(st.integers(-20, 20), huge), min_size=4, max_size=4),
                          st.lists(st.integers(), max_size=6)),
    "random_basis": st.one_of(st.integers(-1, 4), huge),
    "timeout": st.one_of(st.floats(-1, 100), st.sampled_from([0, 1, 86_400, 86_401, math.inf, math.nan])),
    "seq": st.one_of(st.integers(-1, 3), huge),
    "reason": st.one_of(st.text(max_size=20), st.text(min_size=1000, max_size=1200), wire_value),
    "start_ns": st.one_of(st.integers(-1, 10**9), huge),
    "t2_ns": st.one_of(st.floats(-1, 1e10), st.sampled_from([0, math.inf, math.nan]), huge),
    "min_fidelity": st.one_of(st.floats(-1, 2), st.sampled_from([0, 1, math.nan])),
    "f0": st.one_of(st.floats(-1, 2), st.sampled_from([0, 1, math.nan])),
    "index": st.one_of(st.integers(-1, 3), huge),
    "pair": st.one_of(st.integers(-1, 3), huge),
}


@st.composite
def valid_then_mutated(draw):
    """A message alice's EGP acts on (a CREATE from bob for her receiver, the ACCEPT or an ABORT of her
    creator's request ("alice", 1)) with zero to two fields replaced, dropped or added."""
    what = draw(st.sampled_from(["create", "create", "accept", "abort", "discard"]))
    if what == "create":
        msg = {"what": "create", "rid": ["bob", draw(st.integers(0, 3))], "socket": 0,
               "kind": draw(st.sampled_from([0, 1])), "number": 1,
               "rotation": draw(st.lists(st.integers(-2, 16), min_size=4, max_size=4)),
               "random_basis": draw(st.integers(0, 3)), "timeout": draw(st.sampled_from([0, 0.001, 1, 30])),
               "t2_ns": draw(st.sampled_from([0, 1e6, 1e9])), "min_fidelity": draw(st.sampled_from([0, 0.5, 0.9])),
               "f0": draw(st.sampled_from([0.5, 0.9, 1]))}
    elif what == "accept":
        msg = {"what": "accept", "rid": ["alice", 1], "seq": draw(st.sampled_from([0, 0, 1])),
               "start_ns": draw(st.sampled_from([0, 10**6])), "t2_ns": draw(st.sampled_from([0, 1e9])),
               "min_fidelity": draw(st.sampled_from([0, 0.8]))}
    elif what == "discard":
        msg = {"what": "discard", "rid": ["alice", 1], "index": draw(st.integers(0, 2)), "pair": draw(st.integers(0, 2))}
    else:
        msg = {"what": "abort", "rid": draw(st.sampled_from([["alice", 1], ["bob", 0], ["alice", 2]])),
               "reason": draw(st.text(max_size=10))}
    for _ in range(draw(st.integers(0, 2))):
        key = draw(st.sampled_from(sorted(msg)))
        action = draw(st.integers(0, 2))
        if action == 0:
            msg[key] = draw(FIELDS.get(key, wire_value) | wire_value)
        elif action == 1:
            msg.pop(key, None)
        else:
            msg[draw(st.text(max_size=5))] = draw(wire_value)
    return msg


@st.composite
def egp_message(draw):
    if draw(st.booleans()):
        return draw(valid_then_mutated())
    if draw(st.integers(0, 9)) == 0:
        return draw(wire_value)  # not even a map
    what = draw(st.one_of(st.sampled_from(["create", "accept", "abort", "discard"]),
                          st.sampled_from(["CREATE", "", "hello"]), wire_scalar))
    msg = {"what": what} if draw(st.integers(0, 9)) else {}
    for key, values in FIELDS.items():
        if draw(st.integers(0, 5)):  # usually present
            msg[key] = draw(st.one_of(values, values, wire_value))
    if draw(st.integers(0, 4)) == 0:
        msg[draw(st.text(max_size=6))] = draw(wire_value)
    return msg


egp_traffic = st.lists(st.tuples(senders, egp_message()), max_size=12)


def single_node(platform: str, mailbox) -> tuple[Node, EntanglementService]:
    """A node with an EGP of its own (no service, no peer): control messages are sent to ``mailbox``
    (None: no network, every send fails) and timers are kept but never fire."""
    cls = {"nv": MockNVDevice, "ion": MockIonDevice}[platform]
    node = Node(cls.from_config(node="alice", seed=1, preset="ideal"), name="alice")

    def send(peer: str, what: str, **body) -> None:
        if mailbox is None:
            raise QNodeOSError("this node has no network: entanglement needs a peer node")
        mailbox.send(peer, "egp", what=what, **body)

    class Timer:
        def cancel(self) -> None:
            pass

    schedule = NetworkSchedule.fair([("alice", "bob")], bin_ns=1_000_000)
    egp = EntanglementService(NodePort(node), send, lambda t, fn: Timer(), NODE_IDS, schedule=schedule)
    node.attach_network(egp)
    return node, egp


@fuzz_settings(500)
@given(st.sampled_from(["nv", "ion"]), st.booleans(), egp_traffic)
def test_random_egp_messages_are_dropped_or_answered(platform, with_mailbox, traffic):
    """One node with a process receiving from bob and one creating towards bob (both blocked), then
    random traffic: ``on_message`` never raises, nor do ``standing_attempts``/``collect``; whatever the
    messages did, every process then ends, nothing stays allocated and an unrelated process runs."""
    mailbox = RecordingMailbox(["bob"]) if with_mailbox else None
    node, egp = single_node(platform, mailbox)
    involved = {node.submit(RECV.format(peer=1), name="receiver")}
    if with_mailbox:  # without a mailbox a create_epr fails at once
        involved.add(node.submit(CREATE.format(peer=1), name="creator"))
    while node.step():
        pass
    for sender, msg in traffic:
        note(f"on_message({sender!r}, {msg!r})")
        egp.on_message(sender, msg)
        egp.standing_attempts(node.device.now_ns, math.inf)
        egp.collect(node.device.now_ns)
    bystander = node.submit(X_MEASURE, name="bystander")
    node.run()
    for proc in node.processes():
        assert proc.finished, (proc.name, proc.state)
        if proc.pid not in involved:
            assert proc.state is ProcessState.DONE, (proc.name, proc.error)
        elif proc.state is ProcessState.FAILED:
            assert isinstance(proc.error, QNodeOSError) and str(proc.error).strip()
    assert node.result(bystander).registers == {"M0": 1}
    assert node.memory.allocated() == {}
    assert not egp.busy(), "requests of ended processes are still active"
    for proc in node.processes():
        if proc.pid in involved:
            event(f"{proc.name}: {proc.state.value}")
    if mailbox is not None:
        for peer, kind, body in mailbox.sent:
            assert peer == "bob" and kind == "egp" and body["what"] in ("create", "accept", "abort", "discard"), body
            event(f"sent {body['what']}")


@pytest.mark.parametrize("sender", ["mallory", "alice"])
def test_an_accept_from_another_node_is_dropped(sender):
    node, egp = single_node("ion", RecordingMailbox(["bob"]))
    creator = node.submit(CREATE.format(peer=1), name="creator")
    while node.step():
        pass
    egp.on_message(sender, {"what": "accept", "rid": ["alice", 1], "seq": 0, "start_ns": 0, "t2_ns": 0,
                             "min_fidelity": 0})
    assert not egp._links["bob"].queue, "an ACCEPT from a node other than the request's peer was taken"
    node.close_process(creator)
    assert node.process(creator).finished and node.memory.allocated() == {}
    assert not egp.busy(), "the request of an ended process is still active (the node loop never idles)"


def test_a_create_on_a_node_without_mailbox_does_not_raise():
    """The receiver takes the CREATE, the ACCEPT it cannot send is counted, and once nothing else can
    happen the receiver ends with an error naming the peer, nothing held."""
    node, egp = single_node("ion", None)
    receiver = node.submit(RECV.format(peer=1), name="receiver")
    while node.step():
        pass
    egp.on_message("bob", {"what": "create", "rid": ["bob", 0], "socket": 0, "kind": 0, "number": 1,
                           "rotation": [0, 0, 0, 0], "random_basis": 0, "timeout": 1, "t2_ns": 0,
                           "min_fidelity": 0, "f0": 1})
    assert egp.unsent_messages == 1 and egp.busy()  # the ACCEPT could not go out; the request stands
    egp.quiescent()  # nothing else will ever happen on a node without a network
    node.run()
    result = node.result(receiver)
    assert result.state is ProcessState.FAILED and "bob" in result.error, result.error
    assert node.memory.allocated() == {} and not egp.busy()


def run_exchange(net, timeout: float = 20.0) -> tuple:
    alice, bob = net.services["alice"], net.services["bob"]
    pa = alice.call(alice.node.submit, CREATE.format(peer=1))
    pb = bob.call(bob.node.submit, RECV.format(peer=0))

    def finished():
        return all(s.call(s.node.process, p).finished for s, p in ((alice, pa), (bob, pb)))

    assert wait_for(finished, timeout), "the exchange did not end"
    return alice.call(alice.node.result, pa), bob.call(bob.node.result, pb)


@fuzz_settings(30)
@given(st.lists(st.tuples(st.sampled_from(["alice", "bob"]), st.sampled_from(["peer", "mallory", ""]), egp_message()),
                max_size=10))
def test_an_exchange_still_works_after_random_egp_messages(traffic):
    """Random traffic into alice's and bob's EGPs (claimed senders: the other node, a stranger,
    nobody), then a well-formed create (alice) / recv (bob) still succeeds with equal outcomes.
    Well-formed CREATE/ACCEPT messages from the real peer are left out: a CREATE nobody aborts is
    rightly matched by the next recv_epr, and an ACCEPT uses up the peer's next sequence number, so
    forging either (possible only on unkeyed links) breaks the next exchange by design."""
    from qnodeos.apps.local_network import LocalNetwork

    with LocalNetwork("trapped_ion", ["alice", "bob"], seed=3, preset="ideal") as net:
        for target, sender, msg in traffic:
            if sender == "peer":
                sender = "bob" if target == "alice" else "alice"
                if _well_formed(msg) in ("create", "accept"):
                    continue
            service = net.services[target]
            note(f"{target}.on_message({sender!r}, {msg!r})")
            service.call(service.egp.on_message, sender, msg)  # re-raises whatever on_message raised
        ra, rb = run_exchange(net)
        assert ra.ok and rb.ok, (ra.error, rb.error)
        assert ra.registers == rb.registers  # ideal link: Phi+, equal Z outcomes
        for service in net.services.values():
            assert service.call(service.node.memory.allocated) == {}


def _well_formed(msg) -> str | None:
    """The ``what`` of a message the EGP would act on, else None."""
    from qnodeos.network.egp import _validate

    try:
        return _validate(msg)[0]
    except Exception:
        return None


def test_an_exchange_still_works_after_a_create_its_creator_aborted():
    """A CREATE whose creator aborted it before the receiver got to it (its process ended) must not be
    matched by the receiver's next recv_epr."""
    from qnodeos.apps.local_network import LocalNetwork

    stale = {"what": "create", "rid": ["alice", 99], "socket": 0, "kind": 0, "number": 1,
             "rotation": [0, 0, 0, 0], "random_basis": 0, "timeout": 30, "t2_ns": 0, "min_fidelity": 0, "f0": 1}
    with LocalNetwork("trapped_ion", ["alice", "bob"], seed=3, preset="ideal") as net:
        bob = net.services["bob"]
        bob.call(bob.egp.on_message, "alice", stale)
        bob.call(bob.egp.on_message, "alice", {"what": "abort", "rid": ["alice", 99], "reason": "process ended"})
        ra, rb = run_exchange(net, timeout=8)
        assert ra.ok and rb.ok, (ra.error, rb.error)


# =====================================================================================================
# the mailbox wire format
# =====================================================================================================
VALID_ENVELOPE = msgpack.packb({"kind": "egp", "body": {"what": "hello"}}, use_bin_type=True)


def pack(value) -> bytes:
    try:
        return msgpack.packb(value, use_bin_type=True)
    except (OverflowError, ValueError, TypeError):  # integers beyond 64 bits cannot travel
        return msgpack.packb(repr(value), use_bin_type=True)


envelope = st.one_of(
    st.binary(max_size=40),
    st.builds(lambda k, b: pack({"kind": k, "body": b}),
              st.one_of(st.sampled_from(["egp", "app", ""]), st.text(max_size=5), st.integers(-2**63, 2**64 - 1),
                        st.none(), st.binary(max_size=4)),
              wire_value),
    wire_value.map(pack),
    st.binary(max_size=8).map(lambda b: VALID_ENVELOPE[:len(VALID_ENVELOPE) // 2] + b),
)


@fuzz_settings(40)
@given(st.lists(st.one_of(envelope.map(lambda f: [f]), st.lists(envelope, min_size=2, max_size=3),
                          st.just([b""])), min_size=1, max_size=6),
       st.sampled_from([b"mallory", b"bob", b"x" * 200, "ü".encode(), b"\xff\xfe", b"\x00ab", None]))
def test_mailbox_ignores_random_frames_and_keeps_delivering(messages, identity):
    """Messages of one or more frames from a raw DEALER (any identity, or ZeroMQ's random binary one)
    are dropped or handed to the handler; a valid message still arrives. (The raw socket does not
    claim the real peer's identity: ZeroMQ would then refuse the real peer's connection, which the
    plain, unkeyed mailbox cannot prevent.)"""
    box = Mailbox("bob")
    got: list = []
    box.on("egp", lambda sender, message: got.append((sender, message)))
    box.start()
    raw = zmq.Context.instance().socket(zmq.DEALER)
    raw.setsockopt(zmq.LINGER, 0)
    if identity is not None:
        raw.setsockopt(zmq.IDENTITY, identity)
    peer = Mailbox("alice")
    try:
        raw.connect(box.address)
        for frames in messages:
            raw.send_multipart(frames)
        raw.send(VALID_ENVELOPE)  # the same connection: delivered after the garbage
        try:
            name = identity.decode()
        except (AttributeError, UnicodeDecodeError):
            name = None  # the mailbox cannot name this sender: it drops its messages
        if name is not None:
            assert wait_for(lambda: (name, {"what": "hello"}) in got), "the mailbox went deaf"
        peer.connect("bob", box.address)
        peer.send("bob", "egp", what="still there")
        assert wait_for(lambda: ("alice", {"what": "still there"}) in got), "the mailbox went deaf"
        assert box._thread.is_alive()
    finally:
        raw.close(0)
        peer.close()
        box.close()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("frames, identity", [
    pytest.param([b"a", b"b"], b"mallory", id="two-frame-message"),
    pytest.param([VALID_ENVELOPE], b"\xff\xfe", id="identity-not-utf8"),
    pytest.param([VALID_ENVELOPE], None, id="dealer-without-identity"),
    pytest.param([msgpack.packb({"kind": [1], "body": {}})], b"mallory", id="unhashable-kind"),
])
def test_mailbox_survives_frames_that_kill_it(frames, identity):
    box = Mailbox("bob")
    got: list = []
    box.on("egp", lambda sender, message: got.append((sender, message)))
    box.start()
    raw = zmq.Context.instance().socket(zmq.DEALER)
    raw.setsockopt(zmq.LINGER, 0)
    if identity is not None:
        raw.setsockopt(zmq.IDENTITY, identity)
    peer = Mailbox("alice")
    try:
        raw.connect(box.address)
        raw.send_multipart(frames)
        raw.send(VALID_ENVELOPE)  # same connection: handled after the frames (delivered, or dropped if unnamed)
        assert wait_for(lambda: ("mallory", {"what": "hello"}) in got or box.dropped + len(got) >= 2), \
            "the mailbox did not handle the frames (it went deaf?)"
        peer.connect("bob", box.address)
        peer.send("bob", "egp", what="still there")
        assert wait_for(lambda: ("alice", {"what": "still there"}) in got, 0.5), "the mailbox went deaf"
    finally:
        raw.close(0)
        peer.close()
        box.close()


# =====================================================================================================
# the controller firmware
# =====================================================================================================
HEADERS = ["*IDN?", "*RST", "*CLS", "*OPC?", "CAPS?", "SYST:TIME?", "SYST:CLOCK?", "SYST:ERR?", "SEQ:CLEAR",
           "SEQ:APPEND", "SEQ:ARM", "*TRG", "SEQ:STAT?", "SEQ:RESULTS?", "SEQ:RUN?"]
seq_id = st.one_of(st.sampled_from(["a", "s.1", "x-y_z", "-", "", "a" * 64, "a" * 65, "ü"]),
                   st.text(alphabet="abc.-_19;| ", max_size=6))
# valid tokens most of the time, so whole sequences decode and reach the device
qubit_token = st.one_of(st.integers(0, 2).map(str), st.integers(0, 2).map(str), st.integers(-1, 9).map(str),
                        st.sampled_from(["x", "", "1.0", "99999999999999999999", "٣"]))
number_token = st.one_of(st.floats(-7, 7).map(repr), st.floats(-7, 7).map(repr), st.floats().map(repr),
                         st.integers(-3, 10).map(str),
                         st.sampled_from(["nan", "inf", "-inf", "1e999", "x", "", "1_0", "0x10"]))
json_field = st.one_of(st.integers(-2, 4), st.floats(), st.text(max_size=3), st.none(), st.booleans(),
                       st.lists(st.integers(-1, 3), max_size=3), st.sampled_from(["x", "y", "z", "w"]))


JSON_OPS = {"init": ["qubit"], "rotate": ["qubit", "axis", "angle"],
            "controlled_rotate": ["control", "target", "axis", "angle"], "molmer_sorensen": ["qubits", "angle"],
            "measure": ["qubit"], "entangle": ["qubit", "peer", "max_attempts", "window_start_ns"],
            "wait": ["duration_ns"]}
GOOD_JSON_FIELD = {"qubit": st.integers(-1, 3), "control": st.integers(0, 2), "target": st.integers(0, 2),
                   "axis": st.sampled_from(["x", "y", "z"]), "angle": st.floats(-10, 10),
                   "qubits": st.lists(st.integers(0, 2), min_size=2, max_size=2), "peer": st.just("bob"),
                   "max_attempts": st.integers(0, 3), "window_start_ns": st.none() | st.integers(0, 10),
                   "duration_ns": st.integers(-1, 10**6)}


@st.composite
def json_instruction(draw) -> str:
    """A JSON-object instruction: the right fields of its op, each sometimes of a wrong type; sometimes
    missing or extra fields, an unknown op, or deep or unbalanced nesting."""
    import json

    op = draw(st.one_of(st.sampled_from(sorted(JSON_OPS)), json_field))
    data = {"op": op}
    for key in JSON_OPS.get(op, []) if isinstance(op, str) else []:
        if draw(st.integers(0, 9)):
            data[key] = draw(st.one_of(GOOD_JSON_FIELD[key], GOOD_JSON_FIELD[key], json_field))
    if draw(st.integers(0, 9)) == 0:
        data[draw(st.sampled_from(["bogus", "qubit", "angle"]))] = draw(json_field)
    text = json.dumps(data)
    if draw(st.integers(0, 19)) == 0:
        text = "{" * draw(st.integers(1, 3000)) + text  # deep nesting / unbalanced
    return text


compact_instruction = st.one_of(
    st.builds("INIT {}".format, qubit_token),
    st.builds("ROT {} {} {}".format, qubit_token, st.sampled_from(["x", "y", "z", "X", "w", ""]), number_token),
    st.builds("CROT {} {} {} {}".format, qubit_token, qubit_token, st.sampled_from(["x", "y", "z"]), number_token),
    st.builds("MS {} {} {}".format, qubit_token, qubit_token, number_token),
    st.builds("MEAS {}".format, qubit_token),
    st.builds("ENT {} {} {} {}".format, qubit_token, st.sampled_from(["bob", "-", "%ZZ", "a%2Db"]),
              st.one_of(st.integers(-1, 3).map(str), st.just("99999999999")), st.sampled_from(["-", "0", "x"])),
    st.builds("WAIT {}".format, st.one_of(st.integers(-5, 10**6).map(str), number_token)),
    st.sampled_from(["", " ", "FLY 0", "INIT", "INIT 0 1", "MEAS  0"]),
    json_instruction(), json_instruction(), json_instruction(),
)
instructions_arg = st.lists(compact_instruction, max_size=5).map("|".join)


good_seq_id = st.from_regex(r"[a-z0-9._-]{1,8}", fullmatch=True)


@st.composite
def command_line(draw) -> str:
    """Mostly real commands with plausible or broken arguments; sometimes anything at all."""
    choice = draw(st.integers(0, 9))
    if choice <= 2:
        return f"SEQ:RUN? {draw(good_seq_id)} {draw(instructions_arg)}"
    if choice == 3:
        return f"SEQ:APPEND {draw(instructions_arg)}"
    if choice == 4:
        n = draw(st.one_of(st.integers(-1, 6).map(str), st.text(max_size=3)))
        return draw(st.sampled_from([f"SEQ:ARM {draw(good_seq_id)},{n}", "*TRG", "SEQ:CLEAR", "*RST"]))
    if choice == 5:
        return f"{draw(st.sampled_from(['SEQ:STAT?', 'SEQ:RESULTS?']))} {draw(st.one_of(good_seq_id, seq_id))}"
    header = draw(st.one_of(st.sampled_from(HEADERS), st.sampled_from([h.lower() for h in HEADERS]),
                            st.text(max_size=8)))
    arg = draw(st.one_of(
        st.just(""),
        seq_id,
        st.builds("{},{}".format, seq_id, st.one_of(st.integers(-1, 5).map(str), st.text(max_size=3))),
        st.builds("{} {}".format, seq_id, instructions_arg),
        instructions_arg,
        st.text(max_size=30),
    ))
    return f"{header} {arg}" if arg else header


_check_ids = itertools.count()


def check_controller_serves(ctl: Controller) -> None:
    assert ctl.handle("*IDN?") == ctl.idn
    assert ctl.handle("*OPC?") == "1"
    code, _ = proto.parse_error(ctl.handle("SYST:ERR?"))
    assert isinstance(code, int)
    sid = f"zz-check.{next(_check_ids)}"
    reply = ctl.handle(f"SEQ:RUN? {sid} INIT 0|MEAS 0")
    results = proto.decode_results(reply, [Init(0), Measure(0)], sid)
    assert [r.status for r in results] == [Status.OK, Status.MEASURED]


def fresh_controller(platform: str) -> Controller:
    cls = {"nv": MockNVDevice, "ion": MockIonDevice}[platform]
    return Controller(cls.from_config(seed=1, preset="ideal"))


@fuzz_settings(600)
@given(st.sampled_from(["nv", "ion"]), st.lists(command_line(), min_size=1, max_size=8))
def test_controller_answers_random_command_lines(platform, lines):
    ctl = fresh_controller(platform)
    for line in lines:
        note(f"handle({line!r})")
        reply = ctl.handle(line)
        header = proto.split_command(line)[0]
        if header.endswith("?"):
            assert isinstance(reply, str), f"query {line!r} got no reply"
            if reply.startswith("ERR "):
                code, message = proto.parse_error(reply[4:])
                assert code < 0 and message.strip(), reply
        else:
            assert reply is None, f"command {line!r} answered {reply!r}"
    check_controller_serves(ctl)


@fuzz_settings(300)
@given(st.sampled_from(["nv", "ion"]),
       st.lists(st.tuples(st.integers(0, 3), st.one_of(command_line(), st.text(max_size=20))), min_size=1,
                max_size=8))
def test_controller_answers_every_framed_request(platform, requests):
    ctl = fresh_controller(platform)
    for seq, payload in requests:
        note(f"handle_framed({seq}, {payload!r})")
        reply = ctl.handle_framed(seq, payload)
        assert isinstance(reply, str) and reply, reply
        ok, body = proto.parse_framed_reply(reply)
        assert ok or body.strip()
        assert len(reply.encode()) <= proto.MAX_PAYLOAD
    check_controller_serves(ctl)


def _frame(seq: int, payload: bytes, reply: bool = False) -> bytes:
    return proto.encode_frame(seq, payload, reply)


byte_stream = st.lists(st.one_of(
    st.binary(max_size=40),
    st.builds(_frame, st.integers(0, 2**32 - 1), st.one_of(st.binary(max_size=40), command_line().map(str.encode)),
              st.booleans()),
    st.builds(lambda f, n: f[:n], st.builds(_frame, st.integers(0, 9), command_line().map(str.encode)),
              st.integers(1, 30)),
), max_size=8).map(b"".join)


@fuzz_settings(300)
@given(st.sampled_from(["nv", "ion"]), byte_stream, st.lists(st.integers(1, 64), max_size=6))
def test_framed_session_survives_random_bytes(platform, stream, cuts):
    """Bytes as a serial link delivers them (any chunking): every valid request frame gets one valid
    reply frame, and afterwards (line noise flushed) the controller still answers."""
    ctl = fresh_controller(platform)
    session = FramedSession(ctl)
    out = bytearray()
    pos = 0
    for size in [*cuts, len(stream)]:
        chunk, pos = stream[pos:pos + size], pos + size
        output = session.feed(chunk)
        assert not output.close
        out += output.data
    for frame in proto.FrameDecoder().feed(bytes(out)):
        assert frame.reply and frame.payload
    session.decoder.clear()  # a half-received frame in the noise would otherwise hold the next one
    data = session.feed(_frame(2**32 - 1, b"*IDN?")).data
    assert proto.FrameDecoder().feed(data) == [proto.Frame(2**32 - 1, ctl.idn.encode(), True)]
    check_controller_serves(ctl)


def test_framed_reply_larger_than_a_frame_is_an_error_reply():
    ctl = fresh_controller("ion")
    session = FramedSession(ctl)
    program = "|".join(["WAIT 1"] * 90_000)  # ~600 kB of request, ~1.9 MB of results
    output = session.feed(_frame(7, f"SEQ:RUN? big.1 {program}".encode()))
    data = output.data
    assert not output.close
    (frame,) = proto.FrameDecoder().feed(data)
    ok, body = proto.parse_framed_reply(frame.text)
    assert not ok and "exceeds" in body, body[:200]
    check_controller_serves(ctl)


@pytest.mark.parametrize("instruction, fragment", [
    ('{"op": "init", "qubit": "a"}', "qubit"),
    ('{"op": "init", "qubit": true}', "qubit"),
    ('{"op": "init", "qubit": 1.0}', "qubit"),
    ('{"op": "rotate", "qubit": 0, "axis": "x", "angle": "1"}', "angle"),
    ('{"op": "rotate", "qubit": 0, "axis": 5, "angle": 1}', "axis"),
    ('{"op": "molmer_sorensen", "qubits": [0, 1, 2], "angle": 1}', "qubits"),
    ('{"op": "molmer_sorensen", "qubits": 5, "angle": 1}', "qubits"),
    ('{"op": "entangle", "qubit": 0, "peer": 5}', "peer"),
    ('{"op": "entangle", "qubit": 0, "peer": "b", "max_attempts": "many"}', "max_attempts"),
    ('{"op": "wait", "duration_ns": 1.5}', "duration_ns"),
    ('{"op": ["init"]}', "op"),
    ('{"op": "init", "qubit": 0, "qubit2": 1}', "qubit2"),
    ("[" * 5000, "instruction"),
    ("{" * 5000, "JSON"),
    ('{"a": ' * 5000 + "1" + "}" * 5000, "JSON"),
])
def test_json_instructions_with_wrong_field_types_are_refused(instruction, fragment):
    with pytest.raises(ValueError, match=fragment):
        proto.decode_instruction(instruction)
    ctl = fresh_controller("nv")
    reply = ctl.handle(f"SEQ:RUN? j.1 {instruction}")
    assert reply.startswith("ERR ") and fragment in reply, reply[:200]
    check_controller_serves(ctl)


def test_an_unexpected_device_error_is_a_failed_response_not_a_crash():
    class Broken(MockIonDevice):
        def execute(self, instruction):
            raise RuntimeError("driver bug")

    ctl = Controller(Broken.from_config(seed=1, preset="ideal"))
    reply = ctl.handle("SEQ:RUN? b.1 INIT 0")
    (resp,) = proto.decode_results(reply, [Init(0)], "b.1")
    assert resp.status is Status.HARDWARE_FAILURE and "driver bug" in resp.message


# =====================================================================================================
# host-side parsers of controller replies
# =====================================================================================================
reply_text = st.one_of(
    st.text(max_size=60),
    st.lists(st.one_of(st.sampled_from([s.value for s in Status] + ["phi+", "-", "0", "1", "%2D", "%"]),
                       st.integers(-2, 3).map(str), st.text(max_size=4)), max_size=10).map(" ".join),
    st.builds("{} {}|{}".format, seq_id, st.integers(-1, 3), st.text(max_size=30)),
)


@fuzz_settings(300)
@given(reply_text)
def test_reply_parsers_raise_only_value_error(text):
    parsers = [
        lambda t: proto.decode_response(t, Init(0)),
        lambda t: proto.decode_results(t, [Init(0)], None),
        lambda t: proto.decode_results(t, [], "a"),
        proto.decode_instruction, proto.decode_instructions, proto.parse_error, proto.parse_idn,
        proto.decode_capabilities, proto.parse_framed_reply, proto.split_command, proto.split_program,
        proto.unquote_token, proto.check_seq_id,
    ]
    for parse in parsers:
        try:
            parse(text)
        except ValueError as exc:
            assert str(exc).strip(), f"{parse} raised an empty ValueError"


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a":' * 100_000, "[" * 5000 + "]" * 5000])
def test_deeply_nested_capabilities_reply_is_a_value_error(text):
    with pytest.raises(ValueError, match="CAPS"):
        proto.decode_capabilities(text)

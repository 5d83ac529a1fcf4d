"""The controller wire protocol: encodings round-trip exactly, frames are CRC-checked, and the frame
decoder finds every valid frame in any amount of line noise, however the bytes are chunked."""
from __future__ import annotations

import binascii
import json
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from qnodeos.drivers import protocol as proto
from qnodeos.hal import Axis, BellState, ControlledRotate, EntangleAttempt, Init
from qnodeos.hal import Measure, MolmerSorensen, Response, Rotate, Status, Wait
from qnodeos.hal.instructions import to_dict

qubit = st.integers(-5, 1000)
angle = st.floats(allow_nan=False)  # infinities round-trip too
axis = st.sampled_from(list(Axis))
peer = st.text(min_size=1, max_size=20)
instruction = st.one_of(
    st.builds(Init, qubit),
    st.builds(Rotate, qubit, axis, angle),
    st.builds(ControlledRotate, qubit, qubit, axis, angle),
    st.builds(MolmerSorensen, st.tuples(qubit, qubit), angle),
    st.builds(Measure, qubit),
    st.builds(EntangleAttempt, qubit, peer, st.integers(0, 10**9), st.none() | st.integers(0, 2**62)),
    st.builds(Wait, st.integers(0, 2**62)),
)
opt_int = st.none() | st.integers(0, 2**40)
response = st.builds(
    Response, instruction, st.sampled_from(list(Status)), st.integers(0, 2**62), st.integers(0, 2**62),
    st.none() | st.sampled_from([0, 1]), st.none() | st.sampled_from(list(BellState)), st.integers(0, 10**9),
    opt_int, st.text(max_size=40),
)


# ------------------------------------------------------------------------------------ instructions
@given(instruction)
def test_instruction_round_trip(instr):
    text = proto.encode_instruction(instr)
    assert "\n" not in text and ";" not in text and "|" not in text
    assert proto.decode_instruction(text) == instr


@given(st.lists(instruction, max_size=30))
def test_instruction_list_round_trip(instrs):
    assert proto.decode_instructions(proto.encode_instructions(instrs)) == instrs


@given(st.lists(instruction, min_size=1, max_size=60))
def test_append_commands_chunk_and_reassemble(instrs):
    lines = proto.append_commands(instrs, max_line=200)
    assert all(line.startswith("SEQ:APPEND ") for line in lines)
    back = [i for line in lines for i in proto.decode_instructions(line[len("SEQ:APPEND "):])]
    assert back == instrs


def test_nan_angle_survives():
    back = proto.decode_instruction(proto.encode_instruction(Rotate(0, Axis.X, math.nan)))
    assert math.isnan(back.angle)


def test_peer_names_that_look_like_syntax_round_trip():
    for name in ["-", "a b", "x|y;z", "naïve\nnode", "%2D"]:
        instr = EntangleAttempt(0, name, 3, None)
        assert proto.decode_instruction(proto.encode_instruction(instr)) == instr


def test_json_instructions_are_accepted():
    instr = Rotate(1, Axis.Y, 0.25)
    assert proto.decode_instruction(json.dumps(to_dict(instr))) == instr


@pytest.mark.parametrize("text, fragment", [
    ("FLY 0", "unknown instruction mnemonic"),
    ("ROT 0 w 1.0", "bad axis"),
    ("ROT 0 x", "takes 3 field"),
    ("INIT zero", "expected an integer"),
    ("ROT 0 x half", "expected a number"),
    ('{"op": "teleport"}', "unknown physical instruction"),
    ("{not json", "bad JSON"),
])
def test_bad_instructions_name_the_problem(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        proto.decode_instruction(text)


# ---------------------------------------------------------------------------------------- responses
@given(response)
def test_response_round_trip(resp):
    text = proto.encode_response(resp)
    assert "|" not in text and ";" not in text and "\n" not in text
    assert proto.decode_response(text, resp.instruction) == resp


@given(st.lists(response, max_size=10))
def test_results_round_trip(resps):
    text = proto.encode_results("abc.7", resps)
    assert proto.decode_results(text, [r.instruction for r in resps], "abc.7") == resps


def test_results_reject_other_sequences_and_wrong_counts():
    r = Response(Init(0), Status.OK, 0, 10)
    text = proto.encode_results("s.1", [r])
    with pytest.raises(ValueError, match="expected 's.2'"):
        proto.decode_results(text, [r.instruction], "s.2")
    with pytest.raises(ValueError, match="expected 2 results"):
        proto.decode_results(text, [r.instruction] * 2, "s.1")
    with pytest.raises(ValueError):
        proto.decode_results("\x7f#%garbage", [r.instruction], "s.1")


# ------------------------------------------------------------------------------- commands and errors
def test_program_messages_split_and_join():
    cmds = ["SEQ:CLEAR", "SEQ:APPEND INIT 0|MEAS 0", "*TRG", "SEQ:RESULTS? a.1"]
    assert proto.split_program(proto.join_program(cmds)) == cmds
    assert proto.split_command(" seq:results?  a.1 ") == ("SEQ:RESULTS?", "a.1")


@given(st.integers(-999, 999), st.text(alphabet=st.characters(blacklist_characters="\n\r"), max_size=30))
def test_error_replies_round_trip(code, message):
    assert proto.parse_error(proto.format_error(code, message)) == (code, message)


def test_idn_parsing():
    assert proto.parse_idn("QNODEOS,QCTRL-EMU,SN1,1.0") == ("QNODEOS", "QCTRL-EMU", "SN1", "1.0")
    with pytest.raises(ValueError, match="identification"):
        proto.parse_idn("hello")


@pytest.mark.parametrize("bad", ["", "a b", "x" * 65, "a;b"])
def test_sequence_ids_are_checked(bad):
    with pytest.raises(ValueError, match="bad sequence id"):
        proto.check_seq_id(bad)


# ------------------------------------------------------------------------------------------- frames
def test_frame_layout():
    frame = proto.encode_frame(0x01020304, b"*IDN?")
    assert frame[0] == proto.START and frame[1] >> 4 == proto.PROTOCOL_VERSION
    assert frame[2:6] == bytes([1, 2, 3, 4]) and int.from_bytes(frame[6:10], "big") == 5
    assert int.from_bytes(frame[10:12], "big") == binascii.crc_hqx(frame[:10], 0)
    assert int.from_bytes(frame[-4:], "big") == binascii.crc32(frame[:-4])
    assert proto.FrameDecoder().feed(frame) == [proto.Frame(0x01020304, b"*IDN?", False)]


@given(st.integers(0, 2**32 - 1), st.binary(max_size=300), st.booleans())
def test_frame_round_trip(seq, payload, reply):
    assert proto.FrameDecoder().feed(proto.encode_frame(seq, payload, reply)) == [proto.Frame(seq, payload, reply)]


@given(st.binary(max_size=64), st.data())
def test_any_single_corruption_is_rejected(payload, data):
    frame = bytearray(proto.encode_frame(7, payload))
    i = data.draw(st.integers(0, len(frame) - 1))
    frame[i] ^= data.draw(st.integers(1, 255))
    dec = proto.FrameDecoder()
    assert dec.feed(bytes(frame)) == []


# Garbage is biased towards start bytes and frame fragments, the hard cases for a resynchroniser.
def _cut(payload: bytes, cut: int) -> bytes:
    frame = proto.encode_frame(99, payload)
    return frame[:min(cut, len(frame) - 1)]  # never the whole frame: then it would not be garbage


fragment = st.builds(_cut, st.binary(max_size=20), st.integers(1, 30))
garbage = (st.lists(st.one_of(st.binary(max_size=40), st.just(bytes([proto.START])), fragment), max_size=4)
           .map(b"".join).filter(lambda g: not proto.FrameDecoder().feed(g)))  # no whole frame inside


@settings(max_examples=300)
@given(st.lists(st.tuples(garbage, st.binary(max_size=80)), min_size=1, max_size=6), garbage, st.data())
def test_decoder_resynchronises_after_garbage(items, tail, data):
    chunks = [g + proto.encode_frame(n, p, reply=True) for n, (g, p) in enumerate(items)]
    for n, chunk in enumerate(chunks):
        # Skip the ambiguous case where a cut-off frame is completed by the real frame's first
        # bytes (its last CRC byte happens to be the start byte): the stream then holds a valid
        # frame that is not ours, and no decoder can tell.
        assume([f.seq for f in proto.FrameDecoder().feed(chunk)] == [n])
    stream = b"".join(chunks) + tail
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    dec = proto.FrameDecoder()
    frames = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)]):
        frames += dec.feed(stream[a:b])
    # a fragment in the tail may be held back waiting for its (never coming) end: that is fine
    assert [(f.seq, f.payload) for f in frames] == [(n, p) for n, (_, p) in enumerate(items)]


def test_truncated_frame_before_a_good_one_costs_nothing():
    good = proto.encode_frame(2, b"SEQ:RUN? a.1 INIT 0", reply=True)
    broken = proto.encode_frame(1, b"x" * 50)[:30]  # header valid, body missing: swallows `good` at first
    dec = proto.FrameDecoder()
    assert dec.feed(broken + good) == [proto.Frame(2, b"SEQ:RUN? a.1 INIT 0", True)]
    assert dec.discarded == len(broken)


def test_payload_limit():
    with pytest.raises(ValueError, match="exceeds"):
        proto.encode_frame(0, b"x" * (proto.MAX_PAYLOAD + 1))


def test_framed_replies():
    assert proto.parse_framed_reply("OK") == (True, "OK")
    assert proto.parse_framed_reply(proto.framed_error(-113, 'undefined header "X"')) == (
        False, '-113: undefined header "X"')

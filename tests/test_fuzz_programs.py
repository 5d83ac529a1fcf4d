"""Fuzzing NetQASM programs through the public ``Node`` API (issue: reliability).

Whatever a program is — random text, grammar-aware random NetQASM, random bytes, a valid binary
encoding with bytes flipped, inserted or deleted — submitting it either succeeds or raises
:class:`~qnodeos.errors.ProgramError` (``PlatformError`` is a subclass) with a message naming the
cause, and creates no process on refusal. Running ends with every process DONE or FAILED (with an
error text), a failure is an OS error (never a Python error leaking out of the executor), no qubit
stays allocated, an unrelated process on the same node is unaffected, and the node keeps serving.

Deterministic and bounded for CI: every test uses ``fuzz_settings`` below (``derandomize``, no
example database, fixed example counts). ``QNODEOS_FUZZ_SCALE=20`` multiplies the example counts
for a deeper local run, and ``QNODEOS_FUZZ_RANDOM=1`` draws new examples on every run.
"""
from __future__ import annotations

import os
import re
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis.control import currently_in_test_context, event as _event
from hypothesis import strategies as st

from qnodeos.drivers.mock_ion import MockIonDevice
from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.errors import ProgramError, QNodeOSError
from qnodeos.hal.errors import QDeviceError
from qnodeos.node import Node
from qnodeos.process import ProcessState
from qnodeos.programs import encode_subroutine, load_subroutine

from os_helpers import BELL, HEADER, X_MEASURE, rotation_program

SCALE = float(os.environ.get("QNODEOS_FUZZ_SCALE", "1"))
RANDOM = bool(os.environ.get("QNODEOS_FUZZ_RANDOM"))  # explore new examples instead of CI's fixed ones


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None, derandomize=not RANDOM,
                    database=None, suppress_health_check=list(HealthCheck), print_blob=True)


#: The instruction budget (``Node(max_instructions=...)``): generated programs may jump backwards
#: (and loop forever), the budget ends them.
BUDGET = 2_000
PLATFORMS = {"nv": MockNVDevice, "ion": MockIonDevice}


def make_node(platform: str) -> Node:
    device = PLATFORMS[platform].from_config(seed=1, preset="ideal")
    return Node(device, max_instructions=BUDGET)


class Hang(Exception):
    pass


@contextmanager
def watchdog(seconds: float = 10.0):
    """Turn a hang into a test failure (SIGALRM interrupts the main thread). Cooperates with an outer
    alarm (pytest-timeout's signal method): the earlier one fires, and the outer one is restored."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield  # pragma: no cover - not on POSIX, or not the main thread: no watchdog
        return

    def fire(signum, frame):
        raise Hang(f"no result after {seconds} s")

    start = time.monotonic()
    outer_handler = signal.signal(signal.SIGALRM, fire)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    if 0 < outer_delay < seconds:  # the outer alarm comes first: let it
        signal.signal(signal.SIGALRM, outer_handler)
        signal.setitimer(signal.ITIMER_REAL, outer_delay, outer_interval)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, outer_handler)
        if outer_delay > 0:
            left = max(outer_delay - (time.monotonic() - start), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)


# ------------------------------------------------------------------------------------ the oracle
def _internal_cause(exc: BaseException) -> BaseException | None:
    """A Python error (not an OS or device error) somewhere in ``exc``'s cause chain."""
    seen = 0
    while exc is not None and seen < 20:
        if not isinstance(exc, (QNodeOSError, QDeviceError)):
            return exc
        exc, seen = exc.__cause__, seen + 1
    return None


def event(text: str) -> None:
    """Record ``text`` for ``--hypothesis-show-statistics`` (only inside a hypothesis test)."""
    if currently_in_test_context():
        _event(text)


def check_refusal(exc: ProgramError) -> None:
    message = str(exc)
    assert message.strip(), f"{type(exc).__name__} without a message"
    assert not re.search(r"(Error|Exception|text|NetQASM):\s*$", message), f"message names no cause: {message!r}"


def submit_and_run(node: Node, program, **kwargs) -> int | None:
    """Submit ``program`` between two known-good processes; check every invariant; return its pid."""
    before = {p.pid for p in node.processes()}
    good = node.submit(X_MEASURE, name="bystander")
    with watchdog():
        try:
            pid = node.submit(program, name="fuzzed", **kwargs)
        except ProgramError as exc:
            check_refusal(exc)
            assert {p.pid for p in node.processes()} == before | {good}, "a refused program created a process"
            event(f"refused: {type(exc).__name__}: {re.sub(r'[0-9]+', 'N', str(exc).split(': ')[-1])[:50]}")
            pid = None
        later = node.submit(X_MEASURE, name="later-bystander")
        node.run()
    for proc in node.processes():
        assert proc.state in (ProcessState.DONE, ProcessState.FAILED), (proc.pid, proc.state)
        if proc.state is ProcessState.FAILED:
            assert isinstance(proc.error, QNodeOSError), repr(proc.error)
            assert str(proc.error).strip(), "failed without an error text"
            leaked = _internal_cause(proc.error)
            assert leaked is None, f"internal {type(leaked).__name__} leaked as {proc.error!r}"
    assert node.memory.allocated() == {}, node.memory.allocated()
    if pid is not None:
        result = node.result(pid)
        event(f"ran: {result.state.value}" + (f" ({result.error.split(': ')[-1][:40]})" if result.error else ""))
    for bystander in (node.result(good), node.result(later)):
        assert bystander.ok and bystander.registers == {"M0": 1}, bystander
    return pid


def still_serves(node: Node) -> None:
    pid = node.submit(X_MEASURE)
    node.run()
    assert node.result(pid).registers == {"M0": 1}
    assert node.memory.allocated() == {}


# ------------------------------------------------------------------------------ NetQASM grammar
def rarely(common, rare, one_in: int = 25):
    """``common``, and once in ``one_in`` draws ``rare`` (errors should be rare enough that most
    programs get past the parser and reach the executor)."""
    return st.integers(0, one_in - 1).flatmap(lambda k: rare if k == 0 else common)


REG_NAMES = "RCQM"
reg_index = rarely(rarely(st.integers(0, 3), st.integers(4, 15), 8), st.sampled_from([16, 17, 63, -1]), 80)
register = st.builds(lambda n, i: f"{n}{i}", st.sampled_from(REG_NAMES), reg_index)
qreg = rarely(st.builds("Q{}".format, st.integers(0, 3)), register, 10)
mreg = rarely(st.builds("M{}".format, st.integers(0, 3)), register, 10)
INT32_EDGES = [0, 1, -1, 2, 7, 16, 31, 32, 63, 64, 255, 256, 2**31 - 1, -2**31]
immediate = rarely(st.one_of(st.integers(-2, 5), st.integers(-2, 5), st.sampled_from(INT32_EDGES)),
                   st.one_of(st.sampled_from([2**31, 2**32, -2**31 - 1, 10**30, 1 << 40]), st.integers()), 30)
address = rarely(st.integers(0, 3), st.one_of(st.integers(4, 2**31 - 1), st.sampled_from([-1, 2**31, 10**12])), 20)
index = st.one_of(register, st.integers(0, 3), rarely(st.integers(0, 3), st.integers(-1, 10)))
addr = st.builds("@{}".format, address)
entry = st.builds("@{}[{}]".format, address, index)
slice_ = st.builds("@{}[{}:{}]".format, address, index, index)
junk_token = st.sampled_from(["", "@", "@x", "[", "]", "R", "Q-1", "{x}", "$m", "0x10", "1.5", "@0[", "@0[R0:]",
                              "label", "#", ":", "R0,", "-", "Q0Q0", "ü", "\t"])

# mnemonic -> operand strategies (a "L" marks a branch target)
CORE = {
    "set": (register, immediate), "store": (register, entry), "load": (register, entry), "undef": (entry,),
    "lea": (register, addr), "array": (st.one_of(immediate, register), addr),
    "jmp": ("L",), "bez": (register, "L"), "bnz": (register, "L"),
    "beq": (register, register, "L"), "bne": (register, register, "L"), "blt": (register, register, "L"),
    "bge": (register, register, "L"),
    "add": (register, register, register), "sub": (register, register, register),
    "mul": (register, register, register), "div": (register, register, register),
    "rem": (register, register, register), "addm": (register, register, register, register),
    "subm": (register, register, register, register),
    "qalloc": (qreg,), "init": (qreg,), "qfree": (qreg,), "meas": (qreg, mreg),
    "create_epr": (register,) * 5, "recv_epr": (register,) * 4,
    "wait_all": (slice_,), "wait_any": (slice_,), "wait_single": (entry,),
    "ret_reg": (register,), "ret_arr": (addr,), "breakpoint": (immediate, immediate),
}
ROTATION = (qreg, immediate, "A")
DIALECTS = {  # the instructions of each netqasm flavour (a program mixing flavours is refused)
    "vanilla": {**CORE, "x": (qreg,), "y": (qreg,), "z": (qreg,), "h": (qreg,), "s": (qreg,), "k": (qreg,),
                "t": (qreg,), "rot_x": ROTATION, "rot_y": ROTATION, "rot_z": ROTATION, "cnot": (qreg, qreg),
                "cphase": (qreg, qreg), "mov": (qreg, qreg), "swp": (qreg, qreg)},
    "nv": {**CORE, "rot_x": ROTATION, "rot_y": ROTATION, "rot_z": ROTATION, "mov": (qreg, qreg),
           "swp": (qreg, qreg), "crot_x": (qreg, qreg, immediate, "A"),
           "crot_y": (qreg, qreg, immediate, "A")},
    "trapped_ion": {**CORE, "rot_z": ROTATION, "init_all": (), "meas_all": (register, addr),
                    "rot_x_all": (immediate, "A"), "rot_y_all": (immediate, "A"),
                    "rot_z_all": (immediate, "A"), "bichromatic": (immediate, "A")},
}
SIGNATURES = {m: sig for dialect in DIALECTS.values() for m, sig in dialect.items()}
SIGNATURES["meas_basis"] = (qreg, mreg, immediate, immediate, immediate, immediate)  # qnodeos refuses it
# Most programs should get past allocation to reach the interesting instructions.
PRELUDES = ["", "set Q0 0\nqalloc Q0\ninit Q0\n",
            "set Q0 0\nqalloc Q0\ninit Q0\nset Q1 1\nqalloc Q1\ninit Q1\n",
            "set R0 0\nset R1 1\nset R2 2\nset R3 3\nset C0 1\nset M0 0\narray 4 @0\narray 4 @1\n",
            "set Q0 0\nqalloc Q0\ninit Q0\nset Q1 1\nqalloc Q1\ninit Q1\nset R0 0\nset R1 1\nset R2 2\n"
            "set R3 3\narray 4 @0\nstore R1 @0[R0]\n"]



ANGLE = rarely(st.integers(0, 8), immediate, 15)  # the d of n * pi / 2**d


@st.composite
def instruction_line(draw, dialect: str, position: int, labels: list[int], backwards: bool) -> str:
    names = sorted(DIALECTS[dialect])
    mnemonic = draw(rarely(st.sampled_from(names),
                           st.sampled_from(["frobnicate", "SET", "qalloc2", *sorted(SIGNATURES)]), 80))
    operands = []
    for kind in SIGNATURES.get(mnemonic, (register,)):
        if kind == "L":
            # Label L<k> stands before line k; forward-only targets keep the program loop-free.
            usable = [k for k in labels if backwards or k > position]
            target = draw(rarely(st.sampled_from([f"L{k}" for k in usable]),
                                 st.one_of(st.just("NOWHERE"),
                                           st.integers(-1, 3) if backwards else st.integers(10**6, 10**7)), 60))
            operands.append(str(target))
        else:
            operands.append(str(draw(ANGLE if kind == "A" else kind)))
    if draw(st.integers(0, 79)) == 0:  # arity and operand-type errors
        mutation = draw(st.integers(0, 2))
        if mutation == 0 and operands:
            operands.pop(draw(st.integers(0, len(operands) - 1)))
        elif mutation == 1:
            operands.append(draw(st.one_of(register, junk_token)))
        elif operands:
            operands[draw(st.integers(0, len(operands) - 1))] = draw(junk_token)
    return " ".join([mnemonic, *operands])


#: (platform, the netqasm flavour its programs are written in); rarely a flavour the platform lacks
PLATFORM_DIALECTS = rarely(st.sampled_from([("nv", "vanilla"), ("nv", "nv"), ("ion", "vanilla"),
                                            ("ion", "trapped_ion")]),
                           st.sampled_from([("nv", "trapped_ion"), ("ion", "nv")]), 20)


def program_for_platform(backwards: bool = False):
    """(platform, text) pairs."""
    return PLATFORM_DIALECTS.flatmap(lambda pd: st.tuples(st.just(pd[0]), netqasm_text(pd[1], backwards)))


@st.composite
def netqasm_text(draw, dialect: str | None = None, backwards: bool = False) -> str:
    dialect = dialect or draw(st.sampled_from(sorted(DIALECTS)))
    n = draw(st.integers(0, 14))
    labels = [i for i in range(n) if draw(st.integers(0, 2)) == 0] + [n]
    lines = [draw(instruction_line(dialect, i, labels, backwards)) for i in range(n)]
    labelled = []
    for i in range(n + 1):
        if i in labels:
            labelled.append(f"L{i}:")
        if i < n:
            labelled.append(lines[i])
    if draw(st.integers(0, 29)) == 0:  # duplicated or garbage labels
        labelled.insert(draw(st.integers(0, len(labelled))), draw(st.sampled_from(["L0:", "1abc:", ":", "L 0:"])))
    header = draw(rarely(st.sampled_from([HEADER, "# NETQASM 1.0\n# APPID 0\n# DEFINE q Q0\n// comment\n"]),
                         st.sampled_from(["", "# NETQASM 1.0\n", "# NETQASM x\n# APPID 0\n", "# APPID -1\n",
                                          "# FOO 1\n"]), 15))
    return header + draw(st.sampled_from(PRELUDES)) + "\n".join(labelled) + "\n"


def run_fuzzed(platform: str, program, **kwargs) -> Node:
    node = make_node(platform)
    note(f"program: {program!r}")
    submit_and_run(node, program, **kwargs)
    still_serves(node)
    return node


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_deadlock_detection_spares_a_process_waiting_for_its_qubit(platform):
    node = make_node(platform)
    hog = HEADER + "".join(f"set Q{i} {i}\nqalloc Q{i}\n" for i in range(node.capabilities.num_qubits))
    stuck = node.submit(hog + "array 2 @0\nwait_all @0[0:2]\n")
    innocent = node.submit(X_MEASURE)
    node.run()
    assert node.result(stuck).state is ProcessState.FAILED
    assert node.result(innocent).ok, node.result(innocent).error


# ------------------------------------------------------------------------------------------ text
@fuzz_settings(150)
@given(st.sampled_from(sorted(PLATFORMS)), st.text(max_size=200))
def test_random_text_is_refused_or_runs(platform, text):
    run_fuzzed(platform, text)


@fuzz_settings(150)
@given(st.sampled_from(sorted(PLATFORMS)),
       st.lists(st.one_of(st.sampled_from(sorted(SIGNATURES)), register, immediate.map(str), addr, entry, slice_,
                          junk_token, st.sampled_from(["\n", "\n", "L0:\n", "# x\n", "#"])), max_size=30)
       .map(" ".join))
def test_token_soup_is_refused_or_runs(platform, text):
    run_fuzzed(platform, HEADER + text)


@fuzz_settings(800)
@given(program_for_platform(), rarely(st.none(), st.sampled_from(["vanilla", "nv", "trapped_ion"]), 10))
def test_grammar_aware_programs_are_refused_or_run(program, flavour):
    platform, text = program
    run_fuzzed(platform, text, flavour=flavour)


@fuzz_settings(300)
@given(program_for_platform(backwards=True))
def test_programs_with_loops_end_within_the_budget(program):
    platform, text = program
    run_fuzzed(platform, text)


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_endless_loops_fail_on_the_budget_and_free_their_qubits(platform):
    node = make_node(platform)
    pid = submit_and_run(node, HEADER + "set Q0 0\nqalloc Q0\ninit Q0\nLOOP:\nh Q0\njmp LOOP\n")
    result = node.result(pid)
    assert result.state is ProcessState.FAILED and "budget" in result.error, result.error


@pytest.mark.parametrize("program", ["set R0 65536\nmul R1 R0 R0\nret_reg R1\n",
                                     "set R0 2147483647\nadd R1 R0 R0\nret_reg R1\n",
                                     "set R0 -2147483648\nset R1 1\nsub R2 R0 R1\nret_reg R2\n"])
def test_register_arithmetic_stays_in_32_bits(program):
    node = make_node("ion")
    pid = submit_and_run(node, HEADER + program)
    result = node.result(pid)
    if result.ok:
        assert all(-2**31 <= v < 2**31 for v in result.registers.values()), result.registers
    else:
        assert "overflow" in result.error or "32" in result.error, result.error


@fuzz_settings(60)
@given(st.sampled_from(sorted(PLATFORMS)), st.lists(netqasm_text("vanilla"), min_size=1, max_size=3),
       st.integers(0, 10**6), st.none() | st.integers(-1, 4))
def test_multi_subroutine_programs(platform, texts, delay, max_qubits):
    node = make_node(platform)
    note(f"program: {texts!r}")
    submit_and_run(node, texts, host_delay_ns=delay, max_qubits=max_qubits)
    still_serves(node)


# ---------------------------------------------------------------------------------------- binary
VALID_TEXTS = [BELL, X_MEASURE, rotation_program(3, 2, "y"), rotation_program(1, 1, "z"),
               HEADER + "set R0 3\nset R1 4\nadd R2 R0 R1\nmul R3 R2 R2\nret_reg R3\n",
               HEADER + "array 3 @0\nset R0 7\nset R1 2\nstore R0 @0[R1]\nload R2 @0[R1]\nret_arr @0\n"
                        "bez R2 END\nret_reg R2\nEND:\n",
               HEADER + "set Q0 0\nqalloc Q0\ninit Q0\nset Q1 1\nqalloc Q1\ninit Q1\ncphase Q0 Q1\nswp Q0 Q1\n"
                        "meas Q0 M0\nmeas Q1 M1\nqfree Q0\nqfree Q1\n"]
VALID_BINARIES = [encode_subroutine(load_subroutine(t)) for t in VALID_TEXTS]


@fuzz_settings(150)
@given(st.sampled_from(sorted(PLATFORMS)), st.binary(max_size=120))
def test_random_bytes_are_refused_or_run(platform, raw):
    run_fuzzed(platform, raw)


@st.composite
def command_bytes(draw) -> bytes:
    """Well-framed binary subroutines (4-byte metadata + 7-byte commands) with real instruction ids,
    so random operands reach the compiler and the executor, not only the decoder."""
    from netqasm.lang.instr.flavour import VanillaFlavour

    ids = sorted({cls.id for cls in VanillaFlavour().instrs} | set(range(0, 60)) | {100})
    commands = draw(st.lists(st.tuples(st.sampled_from(ids), st.binary(min_size=6, max_size=6)), max_size=12))
    return bytes([1, 0, 0, 0]) + b"".join(bytes([i]) + rest for i, rest in commands)


@fuzz_settings(400)
@given(st.sampled_from(sorted(PLATFORMS)), command_bytes())
def test_well_framed_random_commands_are_refused_or_run(platform, raw):
    run_fuzzed(platform, raw)


@st.composite
def mutated_binary(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID_BINARIES)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.integers(0, 3))
        pos = draw(st.integers(0, len(data)))
        if op == 0 and pos < len(data):  # flip bits
            data[pos] ^= draw(st.integers(1, 255))
        elif op == 1 and pos < len(data):  # overwrite with a boundary byte
            data[pos] = draw(st.sampled_from([0x00, 0x01, 0x0F, 0x10, 0x7F, 0x80, 0xFE, 0xFF]))
        elif op == 2:  # insert (a whole command's worth keeps the framing intact)
            data[pos:pos] = draw(st.binary(min_size=1, max_size=7))
        else:  # delete
            del data[pos:pos + draw(st.integers(1, 7))]
    return bytes(data)


@fuzz_settings(600)
@given(st.sampled_from(sorted(PLATFORMS)), mutated_binary())
def test_mutated_encodings_are_refused_or_run(platform, raw):
    run_fuzzed(platform, raw)


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
@pytest.mark.parametrize("raw", VALID_BINARIES, ids=range(len(VALID_BINARIES)))
def test_unmutated_encodings_still_run(platform, raw):
    node = make_node(platform)
    pid = submit_and_run(node, raw)
    assert node.result(pid).ok, node.result(pid).error


# ------------------------------------------------------------------------------ other inputs
@pytest.mark.parametrize("source", [[], [5], {"a": 1}, 5, None, 1.5, object()], ids=repr)
def test_sources_of_the_wrong_type_are_refused(source):
    node = make_node("nv")
    with pytest.raises(ProgramError) as err:
        node.submit(source)
    check_refusal(err.value)
    assert list(node.processes()) == []
    still_serves(node)


def test_missing_and_undecodable_program_files_are_refused(tmp_path: Path):
    node = make_node("ion")
    bad_utf8 = tmp_path / "bad.nqasm"
    bad_utf8.write_bytes(b"# NETQASM 1.0\n\xff\xfe set R0 1\n")
    for source in (tmp_path / "missing.nqasm", tmp_path / "missing.bin", bad_utf8, tmp_path):
        with pytest.raises(ProgramError) as err:
            node.submit(source)
        check_refusal(err.value)
        assert str(source.name) in str(err.value)
    still_serves(node)


@pytest.mark.parametrize("flavour", ["bogus", "", "NV"])
def test_unknown_flavours_are_refused(flavour):
    node = make_node("nv")
    with pytest.raises(ProgramError, match="flavour"):
        node.submit(X_MEASURE, flavour=flavour)


# ------------------------------------------------------- regressions of bugs the fuzzers found
def test_chained_macros_cannot_blow_up_the_parser():
    # each macro doubles the text: 30 of them would make ~4 GB (netqasm's parser then runs for hours)
    defines = "".join(f"# DEFINE m{i} {{$m{i + 1} $m{i + 1}}}\n" for i in range(30))
    node = make_node("nv")
    with watchdog(5):
        with pytest.raises(ProgramError, match="macro .* expands"):
            node.submit(HEADER + defines + "# DEFINE m30 R0\nadd R0 $m0\n")
    still_serves(node)


def test_overlong_lines_and_texts_are_refused_before_parsing():
    node = make_node("ion")
    with watchdog(5):
        with pytest.raises(ProgramError, match="line 3 .* characters long"):
            node.submit(HEADER + "add R0 " + "R1 " * 300_000 + "\n")  # quadratic in netqasm: minutes
        with pytest.raises(ProgramError, match="exceeds the limit"):
            node.submit(HEADER + "set R0 1\n" * 200_000)
        with pytest.raises(ProgramError, match="exceeds the limit"):
            node.submit(b"\x01\x00\x00\x00" + bytes(7) * 200_000)
    still_serves(node)


@pytest.mark.parametrize("text, fragment", [
    ("set R16 1\n", "register R16 does not exist"),  # R16 was register slot C0, R17 C1 ...
    ("set Q0 0\nqalloc Q0\nmeas Q0 M16\n", "register M16 does not exist"),  # M16: IndexError at run time
    ("set R-1 1\n", "does not exist"),
    ("set R0 2147483648\n", "does not fit in 32 bits"),
    ("set R0 -2147483649\n", "does not fit in 32 bits"),
    ("array 2 @4294967296\n", "array address"),
    ("set Q0 0\nqalloc Q0\nrot_x Q0 1 -1\n", "angle denominator"),  # negative shift count at run time
    ("set Q0 0\nqalloc Q0\nrot_z Q0 1 4000000000\n", "fit in 32 bits"),  # 1 << 4e9: 500 MB integer
    ("set Q0 0\nqalloc Q0\nrot_y Q0 1 256\n", "angle denominator"),
])
def test_operands_outside_netqasm_encoding_are_refused(text, fragment):
    node = make_node("ion")
    with pytest.raises(ProgramError, match=fragment) as err:
        node.submit(HEADER + text)
    check_refusal(err.value)
    assert list(node.processes()) == []


def test_largest_encodable_operands_still_run():
    node = make_node("ion")
    pid = submit_and_run(node, HEADER + "set R0 2147483647\nset R1 -2147483648\nret_reg R0\nret_reg R1\n"
                                        "set Q0 0\nqalloc Q0\ninit Q0\nrot_x Q0 255 255\nmeas Q0 M0\nqfree Q0\n")
    assert node.result(pid).registers["R0"] == 2**31 - 1


@pytest.mark.parametrize("text, fragment", [
    ("set Q0 0\nbez\n", "text line 4 `bez`"),
    ("set R0 0x10\n", "text line 3 `set R0 0x10`"),
    ("set R0 1\nmeas_all R0 @0\n", "text line 4 `meas_all R0 @0`"),
    ("# NOPE 1\nset R0 1\n", "preamble"),
])
def test_parse_errors_name_the_line(text, fragment):
    node = make_node("nv")
    with pytest.raises(ProgramError) as err:
        node.submit(HEADER + text if not text.startswith("#") else text)
    check_refusal(err.value)
    assert fragment in str(err.value), str(err.value)

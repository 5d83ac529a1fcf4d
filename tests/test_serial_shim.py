"""The serial shim over real pyserial I/O (a pty pair and socket://) to the emulated controller."""
from __future__ import annotations

import math
import time

import pytest
from qnodeos.drivers.transports.replay import ReplaySerial

from qnodeos.drivers import protocol as proto
from qnodeos.drivers.builtin_plugins import serial_controller
from qnodeos.drivers.mock_ion import MockIonDevice
from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.drivers.controller_shim import SerialControllerDevice
from qnodeos.firmware_stubs.harness import served_serial
from qnodeos.hal import Axis, ControlledRotate, DeviceFault, DeviceTimeout, EntangleAttempt, Init
from qnodeos.hal import Measure, MolmerSorensen, Response, Rotate, Status, Wait

PROGRAM = [Init(0), Rotate(0, Axis.X, math.pi / 2), Init(1), ControlledRotate(0, 1, Axis.X, math.pi / 2),
           Measure(0), Wait(999), Rotate(0, Axis.Z, 1.0), Init(9), EntangleAttempt(0, "no such node"), Measure(0)]


@pytest.fixture(params=["pty", "socket"])
def transport(request) -> str:
    return request.param


def test_connects_and_matches_the_device_behind_it(transport):
    reference = MockNVDevice.from_config(seed=11, node="alice")
    expected = [reference.execute(i) for i in PROGRAM] + reference.execute_many(PROGRAM * 20)
    with served_serial(MockNVDevice.from_config(seed=11, node="alice"), transport=transport) as link:
        shim = link.shim
        assert shim.instrument.startswith("QNODEOS QCTRL-EMU") and shim.node == "alice"
        assert shim.capabilities == reference.capabilities and shim.simulated is True
        got = [shim.execute(i) for i in PROGRAM] + shim.execute_many(PROGRAM * 20)
        assert shim.now_ns == reference.now_ns
        assert link.controller.executed == PROGRAM + PROGRAM * 20
    assert got == expected
    assert shim.resends == 0 and shim.garbage_bytes == 0


def test_reset_and_trapped_ion(transport):
    reference = MockIonDevice.from_config(seed=2, preset="ideal")
    program = [Init(0), Init(1), MolmerSorensen((0, 1), math.pi / 2), Measure(0), Measure(1)]
    expected = reference.execute_many(program)
    reference.reset()
    with served_serial(MockIonDevice.from_config(seed=2, preset="ideal"), transport=transport) as link:
        assert link.shim.execute_many(program) == expected
        link.shim.reset()
        assert link.shim.execute(Measure(0)) == reference.execute(Measure(0))


def test_loopback_port_is_not_mistaken_for_a_controller():
    """``loop://`` echoes our own request frames; they are not replies, so the deadline expires."""
    t0 = time.monotonic()
    with pytest.raises(DeviceTimeout) as err:
        SerialControllerDevice("loop://", timeout=0.1, retries=1)
    assert time.monotonic() - t0 < 2.0
    assert "loop://" in str(err.value) and "'*IDN?'" in str(err.value) and "2 attempt" in str(err.value)


def test_unopenable_port_names_the_port():
    with pytest.raises(DeviceFault, match="/dev/does-not-exist-qnodeos"):
        SerialControllerDevice("/dev/does-not-exist-qnodeos", timeout=0.1, retries=0)


def test_plugin_registers_the_driver_and_its_factory_connects():
    (info,) = serial_controller.qnodeos_drivers()
    assert (info.name, info.platform) == ("serial-controller", "generic")
    with served_serial(MockNVDevice.from_config(seed=1), transport="socket") as link:
        with info.create(url=link.server.url, timeout=1.0, node="bob") as dev:
            assert dev.node == "bob" and dev.execute(Init(0)).status is Status.OK


# ------------------------------------------------------------------------------- exact protocol
CAPS = proto.encode_capabilities(MockNVDevice.from_config(seed=0).capabilities.to_dict())


def _req(seq: int, text: str) -> bytes:
    return proto.encode_frame(seq, text)


def _rep(seq: int, text: str) -> bytes:
    return proto.encode_frame(seq, text, reply=True)


def _hello() -> list[tuple[bytes, bytes | None]]:
    return [(_req(1, "*IDN?"), _rep(1, "QNODEOS,QCTRL-EMU,SN9,1.0")), (_req(2, "CAPS?"), _rep(2, CAPS)),
            (_req(3, "SYST:CLOCK?"), _rep(3, "REAL"))]


def test_frames_on_the_wire_and_resend_after_silence():
    run = "SEQ:RUN? s.1 MEAS 0"
    result = "s.1 1|measured 10000 13700 0 - 0 - -"
    noise = b"\x00\xa5\xa5 line noise " + _rep(2, "stale reply to an old seq")[:-1] + b"\xff"
    port = ReplaySerial([*_hello(), (_req(4, run), None), (_req(4, run), noise + _rep(4, result))])
    with port:
        dev = SerialControllerDevice("COM7", port=port, timeout=0.05, session="s", seq_start=0)
        assert dev.execute(Measure(0)) == Response(Measure(0), Status.MEASURED, 10000, 13700, outcome=0)
    assert dev.resends == 1 and dev.garbage_bytes >= len(noise)


def test_controller_error_reply_is_a_device_fault_naming_port_and_command():
    port = ReplaySerial([*_hello(), (_req(4, "*RST"), _rep(4, proto.framed_error(-240, "laser interlock open")))])
    dev = SerialControllerDevice("/dev/ttyUSB3", port=port, timeout=0.05, seq_start=0)
    with pytest.raises(DeviceFault) as err:
        dev.reset()
    assert "/dev/ttyUSB3" in str(err.value) and "'*RST'" in str(err.value) and "interlock" in str(err.value)
    port.assert_done()

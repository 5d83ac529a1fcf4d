"""Every way a controller link misbehaves ends in a clear error or a safe retry — never a hang, and
never a lost or duplicated result (checked against the stub's log of executed instructions and
against the same program run on an identical in-process device)."""
from __future__ import annotations

import math
import socket
import time

import pytest

from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.drivers.controller_shim import SerialControllerDevice
from qnodeos.drivers.controller_shim import VisaControllerDevice
from qnodeos.firmware_stubs.controller import Controller
from qnodeos.firmware_stubs.harness import served_serial, served_visa
from qnodeos.firmware_stubs.servers import PtyControllerServer
from qnodeos.firmware_stubs.servers import ControllerTCPServer, address_of
from qnodeos.hal import Axis, DeviceFault, DeviceTimeout, Init, Measure, Rotate, Wait

PROGRAM = [Init(0), Rotate(0, Axis.X, math.pi / 2), Measure(0), Wait(50_000), Init(1),
           Rotate(1, Axis.Z, 0.3), Rotate(0, Axis.Y, math.pi), Measure(0)]
#: seconds: the shims' timeout in these tests. A lost reply or link is detected by it, so it keeps the
#: suite quick; every answered request must beat it too, so it leaves a loaded CI machine ample room.
FAST = 0.5


def wait_for(predicate, timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds passed."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def nv(seed: int = 21) -> MockNVDevice:
    return MockNVDevice.from_config(seed=seed, node="alice")


def expected(seed: int = 21, runs: int = 1) -> list:
    ref = nv(seed)
    return [r for _ in range(runs) for r in ref.execute_many(PROGRAM)]


# ========================================================================================= VISA
def test_visa_timeout_names_resource_instrument_and_command():
    with served_visa(nv(), timeout=FAST, retries=0) as link:
        link.controller.faults.reply_delay_s = 2 * FAST
        t0 = time.monotonic()
        with pytest.raises(DeviceTimeout) as err:
            link.shim.execute(Measure(0))
        assert time.monotonic() - t0 < 2 * FAST + 0.5
        text = str(err.value)
        assert link.server.resource in text and "QCTRL-EMU" in text and "SEQ:RESULTS?" in text
        assert f"no reply within {FAST:g} s" in text
        # the link heals: the next call reconnects and the late reply of the old one is never read
        link.controller.faults.clear()
        assert link.shim.execute(Init(0)).ok
        assert link.controller.executed == [Measure(0), Init(0)]


@pytest.mark.parametrize("drop_after", [1, 2, 3, 4, 5], ids=["CLEAR", "APPEND", "ARM", "TRG", "RESULTS"])
def test_visa_disconnect_mid_sequence_loses_and_duplicates_nothing(drop_after):
    """The link drops after each command of the upload in turn; the shim reconnects, asks
    SEQ:STAT?, and either re-uploads (not run yet) or just fetches (already run)."""
    with served_visa(nv(), timeout=FAST) as link:
        link.controller.faults.drop_after = drop_after
        got = link.shim.execute_many(PROGRAM)
        assert link.controller.executed == PROGRAM  # each instruction ran exactly once
        assert link.shim.reconnects == 1 and link.server.connections == 2
    assert got == expected()


def test_visa_cable_pulled_between_calls_reconnects():
    with served_visa(nv(), timeout=FAST) as link:
        first = link.shim.execute_many(PROGRAM)
        link.server.drop_clients()
        second = link.shim.execute_many(PROGRAM)
        assert link.controller.executed == PROGRAM * 2 and link.shim.reconnects == 1
    assert first + second == expected(runs=2)


def test_visa_garbled_results_are_fetched_again():
    with served_visa(nv(), timeout=FAST) as link:
        link.controller.faults.garble_replies = 1
        got = link.shim.execute_many(PROGRAM)
        assert link.controller.executed == PROGRAM
    assert got == expected()


def test_visa_garbled_clock_reading_is_retried():
    with served_visa(nv(), timeout=FAST) as link:
        link.controller.faults.garble_replies = 1
        link.shim.execute(Init(0))  # garbled results -> retried
        link.controller.faults.garble_replies = 1
        with pytest.raises(DeviceFault, match="SYST:TIME"):
            _ = link.shim.now_ns  # a garbled number is not silently trusted
        assert link.shim.now_ns == link.controller.device.now_ns


def test_visa_peer_that_accepts_but_never_answers():
    with ControllerTCPServer(Controller(nv())) as server:
        server.controller.faults.mute = True
        t0 = time.monotonic()
        with pytest.raises(DeviceTimeout) as err:
            VisaControllerDevice(server.resource, timeout=FAST)
        assert time.monotonic() - t0 < FAST + 1.0
    assert server.resource in str(err.value) and "'*IDN?'" in str(err.value)


def test_visa_peer_going_silent_mid_session_times_out_bounded():
    with served_visa(nv(), timeout=FAST, retries=1) as link:
        link.controller.faults.mute = True
        t0 = time.monotonic()
        with pytest.raises(DeviceTimeout) as err:
            link.shim.execute_many(PROGRAM)
        assert time.monotonic() - t0 < 2 * FAST + 1.5
        assert "2 attempts" in str(err.value) and "SEQ:RESULTS?" in str(err.value)
        assert link.controller.executed == []  # a mute controller ran nothing


@pytest.mark.parametrize("server_cls, shim_cls", [(ControllerTCPServer, VisaControllerDevice),
                                                   (PtyControllerServer, SerialControllerDevice)])
def test_wrong_idn_names_driver_address_command_and_reply(server_cls, shim_cls):
    with server_cls(Controller(nv())) as server:
        server.controller.faults.wrong_idn = "ACME,OSCILLOSCOPE-4,OSC42,2.3"
        with pytest.raises(DeviceFault) as err:
            shim_cls(address_of(server), timeout=FAST)
    text = str(err.value)
    assert shim_cls.driver_name in text and address_of(server) in text and "'*IDN?'" in text
    assert "ACME,OSCILLOSCOPE-4,OSC42,2.3" in text


def test_visa_expected_model_is_enforced():
    with ControllerTCPServer(Controller(nv(), model="QCTRL-EMU")) as server:
        with pytest.raises(DeviceFault, match="not a QNODEOS ADWIN-GOLD2 controller"):
            VisaControllerDevice(server.resource, timeout=FAST, expected_model="ADWIN-GOLD2")


def test_visa_nothing_listening_fails_fast():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    t0 = time.monotonic()
    with pytest.raises(DeviceFault, match=f"TCPIP::127.0.0.1::{port}::SOCKET"):
        VisaControllerDevice(f"TCPIP::127.0.0.1::{port}::SOCKET", timeout=FAST)
    assert time.monotonic() - t0 < FAST + 1.0


def test_visa_controller_dies_for_good():
    with served_visa(nv(), timeout=FAST, retries=1) as link:
        link.server.stop()
        with pytest.raises(DeviceFault) as err:
            link.shim.execute(Init(0))
        assert link.server.resource in str(err.value)


# ======================================================================================= serial
def test_serial_garbage_on_the_line_is_skipped():
    with served_serial(nv(), timeout=FAST) as link:
        junk = b"\xa5\xa5\x10\x00 noise \x00\xff" * 20
        link.controller.faults.garbage_before_reply = junk
        got = link.shim.execute_many(PROGRAM)
        assert link.shim.garbage_bytes >= len(junk) and link.shim.resends == 0
        assert link.controller.executed == PROGRAM
    assert got == expected()


@pytest.mark.parametrize("transport", ["pty", "socket"])
def test_serial_corrupted_reply_is_resent_not_reexecuted(transport):
    with served_serial(nv(), timeout=FAST, transport=transport) as link:
        link.controller.faults.garble_replies = 1
        got = link.shim.execute_many(PROGRAM)
        assert link.shim.resends == 1 and link.controller.replayed == 1
        assert link.controller.executed == PROGRAM
    assert got == expected()


def test_serial_timeout_names_port_and_command():
    with served_serial(nv(), timeout=FAST, retries=1) as link:
        link.controller.faults.reply_delay_s = 2.5 * FAST
        with pytest.raises(DeviceTimeout) as err:
            link.shim.execute(Measure(0))
        text = str(err.value)
        assert link.server.url in text and "'SEQ:RUN?" in text and "MEAS 0" in text and "2 attempt" in text
        # the late replies are stale (old seq) and the retry was answered from the cache, not re-run
        link.controller.faults.clear()
        assert wait_for(lambda: link.controller.replayed == 1), "the retry was not answered from the cache"
        assert link.shim.execute(Init(0)).ok
        assert link.controller.executed == [Measure(0), Init(0)]


def test_serial_peer_that_never_answers():
    with PtyControllerServer(Controller(nv())) as server:
        server.controller.faults.mute = True
        t0 = time.monotonic()
        with pytest.raises(DeviceTimeout) as err:
            SerialControllerDevice(server.url, timeout=0.1, retries=2)
        assert time.monotonic() - t0 < 1.5
    assert server.url in str(err.value) and "'*IDN?'" in str(err.value) and "3 attempt" in str(err.value)


def test_serial_disconnect_mid_sequence_reopens_and_resends():
    """socket:// link drops right after the controller ran the sequence (reply lost): the shim
    reopens the port and re-sends the same frame; the controller answers from its reply cache."""
    with served_serial(nv(), timeout=FAST, transport="socket") as link:
        link.controller.faults.drop_after = 1
        got = link.shim.execute_many(PROGRAM)
        assert link.shim.reconnects == 1 and link.server.connections == 2
        assert link.controller.executed == PROGRAM and link.controller.replayed == 1
    assert got == expected()

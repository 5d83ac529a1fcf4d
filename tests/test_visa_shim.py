"""The VISA shim over real pyvisa-py socket I/O to the emulated controller (and against a script)."""
from __future__ import annotations

import math

import pytest
from qnodeos.drivers.transports.replay import ReplayResourceManager

from qnodeos.drivers import protocol as proto
from qnodeos.drivers.builtin_plugins import visa_controller
from qnodeos.drivers.mock_ion import MockIonDevice
from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.drivers.controller_shim import VisaControllerDevice
from qnodeos.firmware_stubs.harness import served_visa
from qnodeos.hal import Axis, ControlledRotate, DeviceFault, Init, Measure
from qnodeos.hal import MolmerSorensen, Response, Rotate, Status, Wait

PROGRAM = [Init(0), Rotate(0, Axis.X, math.pi / 2), Init(1), ControlledRotate(0, 1, Axis.X, math.pi / 2),
           Measure(0), Wait(12_345), Rotate(0, Axis.Z, 1.0), Init(9), Rotate(0, Axis.Y, math.pi), Measure(0)]


def test_connects_identifies_and_reports_capabilities():
    device = MockNVDevice.from_config(seed=1, node="alice")
    with served_visa(device) as link:
        shim = link.shim
        assert shim.instrument.startswith("QNODEOS QCTRL-EMU")
        assert shim.capabilities == device.capabilities
        assert shim.node == "alice" and shim.simulated is True
        assert shim.now_ns == device.now_ns


def test_results_are_those_of_the_device_behind_it():
    """Same seed in process and behind the stub: identical responses, outcomes and timestamps."""
    reference = MockNVDevice.from_config(seed=7)
    expected = [reference.execute(i) for i in PROGRAM]
    with served_visa(MockNVDevice.from_config(seed=7)) as link:
        got = [link.shim.execute(i) for i in PROGRAM]
    assert got == expected
    statuses = {r.status for r in got}
    assert {Status.OK, Status.MEASURED, Status.UNSUPPORTED, Status.INVALID_QUBIT} <= statuses


def test_execute_many_uploads_one_sequence():
    reference = MockNVDevice.from_config(seed=3)
    program = PROGRAM * 30
    expected = reference.execute_many(program)
    with served_visa(MockNVDevice.from_config(seed=3)) as link:
        before = len(link.controller.commands)
        got = link.shim.execute_many(program)
        sent = link.controller.commands[before:]
    assert got == expected
    appends = sum(c.startswith("SEQ:APPEND") for c in sent)
    assert appends >= 2  # long sequences are staged in pieces, each acknowledged before the next
    assert [c.split(" ")[0] for c in sent if not c.startswith("SEQ:APPEND") and c != "*OPC?"] == [
        "SEQ:CLEAR", "SEQ:ARM", "*TRG", "SEQ:RESULTS?"]
    assert 1 <= sent.count("*OPC?") < appends
    assert link.controller.executed == program


def test_empty_sequence_costs_nothing():
    with served_visa(MockNVDevice.from_config(seed=1)) as link:
        before = len(link.controller.commands)
        assert link.shim.execute_many([]) == []
        assert len(link.controller.commands) == before


def test_reset_and_clock():
    with served_visa(MockNVDevice.from_config(seed=1)) as link:
        shim = link.shim
        shim.execute(Init(0))
        shim.execute(Rotate(0, Axis.X, math.pi))
        t = shim.now_ns
        shim.reset()
        assert shim.now_ns >= t
        assert shim.execute(Measure(0)).outcome in (0, 1)


def test_trapped_ion_device_behind_the_stub():
    reference = MockIonDevice.from_config(seed=5, preset="ideal")
    program = [Init(0), Init(1), MolmerSorensen((0, 1), math.pi / 2), Measure(0), Measure(1)]
    expected = reference.execute_many(program)
    with served_visa(MockIonDevice.from_config(seed=5, preset="ideal")) as link:
        assert link.shim.capabilities.platform.value == "trapped_ion"
        assert link.shim.execute_many(program) == expected


def test_plugin_registers_the_driver_and_its_factory_connects():
    (info,) = visa_controller.qnodeos_drivers()
    assert (info.name, info.platform) == ("visa-controller", "generic")
    with served_visa(MockNVDevice.from_config(seed=1)) as link:
        with info.create(resource=link.server.resource, timeout=1.0, node="bob") as dev:
            assert dev.node == "bob" and dev.capabilities.name == "mock-nv"
            assert dev.execute(Init(0)).status is Status.OK


# ------------------------------------------------------------------------------- exact protocol
CAPS = proto.encode_capabilities(MockNVDevice.from_config(seed=0).capabilities.to_dict())
HELLO = [("*IDN?", "QNODEOS,QCTRL-EMU,SN7,2.0"), ("CAPS?", CAPS), ("SYST:CLOCK?", "REAL")]


def test_command_stream_of_one_instruction():
    run = "SEQ:CLEAR;SEQ:APPEND MEAS 0;SEQ:ARM t.1,1;*TRG;SEQ:RESULTS? t.1"
    with ReplayResourceManager([*HELLO, (run, "t.1 1|measured 10000 13700 1 - 0 - -")]) as rm:
        dev = VisaControllerDevice("TCPIP::ctl::5025::SOCKET", resource_manager=rm, session="t")
        assert dev.simulated is False and dev.instrument == "QNODEOS QCTRL-EMU (SN SN7, fw 2.0)"
        assert dev.execute(Measure(0)) == Response(Measure(0), Status.MEASURED, 10000, 13700, outcome=1)
        res = rm.resources[0]
        assert res.read_termination == res.write_termination == "\n" and res.timeout == 2000


def test_controller_refusal_is_reported_with_its_error_queue():
    run = "SEQ:CLEAR;SEQ:APPEND INIT 0;SEQ:ARM t.1,1;*TRG;SEQ:RESULTS? t.1"
    script = [*HELLO, (run, 'ERR -221,"sequence t.1 has not run"'),
              ("SYST:ERR?", '-224,"bad axis \'w\'"'), ("SYST:ERR?", '0,"No error"')]
    with ReplayResourceManager(script) as rm:
        dev = VisaControllerDevice("TCPIP::ctl::5025::SOCKET", resource_manager=rm, session="t")
        with pytest.raises(DeviceFault) as err:
            dev.execute(Init(0))
    text = str(err.value)
    assert "TCPIP::ctl::5025::SOCKET" in text and "QCTRL-EMU" in text
    assert "SEQ:RESULTS? t.1" in text and "has not run" in text and "bad axis" in text


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="timeout"):
        VisaControllerDevice("TCPIP::ctl::1::SOCKET", timeout=0, resource_manager=ReplayResourceManager())

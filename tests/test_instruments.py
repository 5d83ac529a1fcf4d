"""Lab instrument drivers (PyMeasure + pint) against their pyvisa-sim twins and PyMeasure's
``expected_protocol`` replays.

The rules under test: any pint quantity is accepted in a setting's dimension ("0.5 deg" for radians,
"1 MHz" for hertz, "0.1 mW" for dBm) and checked against the range before any I/O; the error names the
instrument, the setting, the value and what is allowed; every I/O error names instrument and command;
an instrument that is not the expected one is refused at ``*IDN?``.
"""
from __future__ import annotations

import math

import pytest
import pyvisa
from pymeasure.test import expected_protocol

from qnodeos.drivers.instruments import AWG, Laser, MicrowaveSource, TimeTagger, Wavemeter, ureg
from qnodeos.firmware_stubs.harness import sim_library
from qnodeos.hal import DeviceFault, DeviceTimeout

MW = "USB0::0x5154::0x0001::MW0001::INSTR"
IMPOSTOR = "USB0::0x5154::0x0999::OSC42::INSTR"
IDN = {
    MicrowaveSource: "QNODEOS-SIM,MW-SRC-20G,MW1,1.0",
    Laser: "QNODEOS-SIM,LASER-637,L1,1.0",
    AWG: "QNODEOS-SIM,AWG-2CH,A1,1.0",
    Wavemeter: "QNODEOS-SIM,WAVEMETER-8,W1,1.0",
    TimeTagger: "QNODEOS-SIM,TAGGER-4,T1,1.0",
}


def sim(cls, resource: str, definition: str, **kwargs):
    return cls(resource, visa_library=sim_library(definition), **kwargs)


# ----------------------------------------------------------------------------------- pyvisa-sim
def test_microwave_source_settings_round_trip_with_units():
    with sim(MicrowaveSource, MW, "microwave.yaml", name="mw1") as mw:
        assert mw.idn.startswith("QNODEOS-SIM,MW-SRC-20G")
        mw.frequency = "2.8775 GHz"
        mw.power = "0.1 mW"                  # a linear power for a dBm setting
        mw.phase = "0.5 deg"                 # degrees for a radian setting
        mw.output = True
        snap = mw.snapshot()
    assert snap["frequency"] == 2.8775e9 and snap["output"] is True
    assert snap["power"] == pytest.approx(-10.0) and snap["phase"] == pytest.approx(math.radians(0.5), abs=1e-6)


def test_pint_quantities_and_plain_numbers_are_the_same_setting():
    with expected_protocol(MicrowaveSource, [("*IDN?", IDN[MicrowaveSource]), ("FREQ 1000000.000", None),
                                             ("FREQ 1000000.000", None), ("FREQ 1000000.000", None)]) as mw:
        mw.frequency = "1 MHz"
        mw.frequency = ureg.Quantity(1, "MHz")
        mw.frequency = 1e6


def test_laser_is_a_serial_instrument_with_crlf():
    with sim(Laser, "ASRL3::INSTR", "laser.yaml") as laser:
        assert laser.adapter.connection.write_termination == "\r\n"
        laser.wavelength = "637.21 nm"
        laser.power = "2500 uW"
        laser.emission = True
        assert laser.snapshot() == {"wavelength": 637.21, "power": 2.5, "emission": True}


def test_wavemeter_reads_near_the_zero_phonon_line():
    with sim(Wavemeter, "USB0::0x5154::0x0003::WM0001::INSTR", "wavemeter.yaml") as wm:
        wm.channel = 3
        wm.exposure = "0.05 s"
        assert (wm.channel, wm.exposure) == (3, 50)
        assert 637.18 < wm.wavelength < 637.22
        assert 470.4e12 < wm.frequency_hz() < 470.6e12


def test_time_tagger_counts():
    with sim(TimeTagger, "USB0::0x5154::0x0004::TT0001::INSTR", "time_tagger.yaml") as tt:
        tt.integration_time = "20 ms"
        tt.channel = 2
        tt.trigger_level = "-250 mV"
        assert tt.integration_time == pytest.approx(0.02) and tt.trigger_level == pytest.approx(-0.25)
        assert 900 <= tt.counts <= 1100
        assert 900 / 0.02 <= tt.count_rate() <= 1100 / 0.02


def test_awg_settings_and_sequencer():
    with sim(AWG, "USB0::0x5154::0x0002::AWG0001::INSTR", "awg.yaml") as awg:
        awg.sample_rate = "1.2 GHz"
        awg.ch1_amplitude = "750 mV"
        awg.ch2_offset = -0.1
        awg.run()
        snap = awg.snapshot()
        assert snap["sample_rate"] == 1.2e9 and snap["ch1_amplitude"] == 0.75 and snap["ch2_offset"] == -0.1
        assert "running" not in snap  # a measurement, not a setting


def test_rejected_value_leaves_the_instrument_untouched():
    with sim(MicrowaveSource, MW, "microwave.yaml") as mw:
        before = mw.frequency
        with pytest.raises(ValueError):
            mw.frequency = 25e9
        assert mw.frequency == before


def test_wrong_instrument_is_refused_at_idn():
    with pytest.raises(DeviceFault) as err:
        sim(MicrowaveSource, IMPOSTOR, "microwave.yaml", name="mw-left")
    text = str(err.value)
    assert "mw-left" in text and IMPOSTOR in text and "'*IDN?'" in text and "ACME,OSCILLOSCOPE-4" in text


def test_unopenable_resource_names_instrument_and_resource():
    with pytest.raises(DeviceFault, match=r"Laser: cannot open ASRL/dev/qnodeos-no-such-tty::INSTR"):
        Laser("ASRL/dev/qnodeos-no-such-tty::INSTR", visa_library="@py")


def test_unparsable_reply_names_instrument_and_setting():
    with expected_protocol(MicrowaveSource, [("*IDN?", IDN[MicrowaveSource]), ("POW?", "ERROR")], name="mw2") as mw:
        with pytest.raises(DeviceFault) as err:
            _ = mw.power
    assert "mw2" in str(err.value) and "reading power" in str(err.value) and "'ERROR'" in str(err.value)


# ------------------------------------------------------------------------- validation before I/O
@pytest.mark.parametrize("cls, setting, value, allowed", [
    (MicrowaveSource, "frequency", 21e9, "[9000, 2e+10] Hz"),
    (MicrowaveSource, "frequency", "1 Mhz", "'Mhz' is not defined"),  # a typo in the unit is not a guess
    (MicrowaveSource, "frequency", "3 dBm", "is not in Hz"),
    (MicrowaveSource, "power", float("nan"), "not a finite number of dBm"),
    (MicrowaveSource, "phase", "270 deg", "[-3.14159, 3.14159] rad"),
    (MicrowaveSource, "output", 2, "discrete set"),
    (Laser, "wavelength", "1550 nm", "[636, 638.5] nm"),
    (Laser, "power", "60 mW", "[0, 50] mW"),
    (AWG, "ch1_amplitude", "3 V", "[0.01, 2] V"),
    (AWG, "sample_rate", "5 GHz", "[1e+06, 1.2e+09] Hz"),
    (Wavemeter, "channel", 9, "discrete set"),
    (Wavemeter, "exposure", 2.5, "not a whole number of ms"),
    (TimeTagger, "integration_time", "20 s", "[0.001, 10] s"),
    (TimeTagger, "trigger_level", "four", "not a number"),
])
def test_out_of_range_values_fail_before_any_io(cls, setting, value, allowed):
    with expected_protocol(cls, [("*IDN?", IDN[cls])], name=f"my-{setting}") as inst:  # any write: mismatch
        with pytest.raises(ValueError) as err:
            setattr(inst, setting, value)
    text = str(err.value)
    assert f"my-{setting}.{setting} = {value!r}" in text and allowed in text, text


def test_read_only_settings_refuse_writes():
    with expected_protocol(Wavemeter, [("*IDN?", IDN[Wavemeter])]) as wm:
        with pytest.raises(AttributeError, match="Wavemeter.wavelength is read-only"):
            wm.wavelength = 637.0


# --------------------------------------------------------------------------- scripted protocols
def test_awg_waveform_upload_protocol():
    script = [("*IDN?", IDN[AWG]), ('WLIS:WAV:NEW "pi_pulse",3', None),
              ('WLIS:WAV:DATA "pi_pulse",0,3,0.000000,1.000000,-0.500000', None), ("AWGC:RUN", None),
              ("AWGC:RST?", "1")]
    with expected_protocol(AWG, script) as awg:
        awg.load_waveform("pi_pulse", [0, 1, -0.5])
        awg.run()
        assert awg.running is True


@pytest.mark.parametrize("name, samples, fragment", [
    ("1bad", [0.0], "bad waveform name"),
    ("ok", [], "0 samples"),
    ("ok", [0.0, 1.5], "sample 1 = 1.5 outside"),
    ("ok", [float("inf")], "sample 0"),
])
def test_awg_bad_waveforms_fail_before_io(name, samples, fragment):
    with expected_protocol(AWG, [("*IDN?", IDN[AWG])], name="awg-a") as awg:
        with pytest.raises(ValueError, match=fragment) as err:
            awg.load_waveform(name, samples)
    assert "awg-a.load_waveform" in str(err.value)


def test_io_timeout_names_instrument_setting_and_command():
    """Real pyvisa-py socket I/O to a loopback stub that reads and never answers."""
    from qnodeos.drivers.mock_nv import MockNVDevice
    from qnodeos.firmware_stubs.controller import Controller
    from qnodeos.firmware_stubs.servers import ControllerTCPServer

    controller = Controller(MockNVDevice.from_config(seed=1))
    controller.faults.mute = True
    with ControllerTCPServer(controller) as server:
        with TimeTagger(server.resource, name="apd-tagger", visa_library="@py", timeout=0.2, check_idn=False) as tt:
            with pytest.raises(DeviceTimeout) as err:
                _ = tt.counts
    text = str(err.value)
    assert "apd-tagger" in text and server.resource in text and "reading counts" in text
    assert isinstance(err.value.__cause__, pyvisa.errors.VisaIOError)

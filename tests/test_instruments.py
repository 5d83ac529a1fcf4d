"""Lab instrument drivers against pyvisa-sim twins and scripted protocols.

The rules under test: values are checked (unit and range) before any I/O; the error names the
instrument, the parameter, the value and what is allowed; every I/O error names instrument and
command; an instrument that is not the expected one is refused at ``*IDN?``.
"""
from __future__ import annotations

import pytest
import pyvisa
from protocol_replay import ProtocolMismatch, ReplayResource, ReplayResourceManager

from qnodeos.drivers.instruments import (
    AWG,
    Laser,
    MicrowaveSource,
    TimeTagger,
    Wavemeter,
    parse_quantity,
)
from qnodeos.firmware_stubs.harness import sim_resource_manager
from qnodeos.hal import DeviceFault, DeviceTimeout

MW = "USB0::0x5154::0x0001::MW0001::INSTR"
IMPOSTOR = "USB0::0x5154::0x0999::OSC42::INSTR"
sim = sim_resource_manager


# ----------------------------------------------------------------------------------- pyvisa-sim
def test_microwave_source_settings_round_trip():
    with MicrowaveSource(MW, sim("microwave.yaml"), name="mw1") as mw:
        assert mw.idn.startswith("QNODEOS-SIM,MW-SRC-20G")
        mw.frequency = "2.8775 GHz"
        mw.power = -7.5
        mw.output = True
        assert mw.snapshot() == {"frequency": 2.8775e9, "power": -7.5, "output": True}


def test_laser_is_a_serial_instrument_with_crlf():
    with Laser("ASRL3::INSTR", sim("laser.yaml")) as laser:
        assert laser._res.write_termination == "\r\n"
        laser.wavelength = "637.21 nm"
        laser.power = "2500 uW"
        laser.emission = 1
        assert laser.snapshot() == {"wavelength": 637.21, "power": 2.5, "emission": True}


def test_wavemeter_reads_near_the_zero_phonon_line():
    with Wavemeter("USB0::0x5154::0x0003::WM0001::INSTR", sim("wavemeter.yaml")) as wm:
        wm.channel = 3
        wm.exposure = 50
        assert (wm.channel, wm.exposure) == (3, 50)
        assert 637.18 < wm.wavelength < 637.22
        assert 470.4e12 < wm.frequency_hz() < 470.6e12


def test_time_tagger_counts():
    with TimeTagger("USB0::0x5154::0x0004::TT0001::INSTR", sim("time_tagger.yaml")) as tt:
        tt.integration_time = "20 ms"
        tt.channel = 2
        tt.trigger_level = -0.25
        assert tt.integration_time == pytest.approx(0.02)
        assert 900 <= tt.counts <= 1100
        assert 900 / 0.02 <= tt.count_rate() <= 1100 / 0.02


def test_awg_settings_and_sequencer():
    with AWG("USB0::0x5154::0x0002::AWG0001::INSTR", sim("awg.yaml")) as awg:
        awg.sample_rate = "1.2 GS/s"
        awg.ch1_amplitude = "750 mV"
        awg.ch2_offset = -0.1
        awg.run()
        snap = awg.snapshot()
        assert snap["sample_rate"] == 1.2e9 and snap["ch1_amplitude"] == 0.75 and snap["ch2_offset"] == -0.1


def test_rejected_value_leaves_the_instrument_untouched():
    with MicrowaveSource(MW, sim("microwave.yaml")) as mw:
        before = mw.frequency
        with pytest.raises(ValueError):
            mw.frequency = 25e9
        assert mw.frequency == before


def test_wrong_instrument_is_refused_at_idn():
    with pytest.raises(DeviceFault) as err:
        MicrowaveSource(IMPOSTOR, sim("microwave.yaml"), name="mw-left")
    text = str(err.value)
    assert "mw-left" in text and IMPOSTOR in text and "'*IDN?'" in text and "ACME,OSCILLOSCOPE-4" in text


def test_unopenable_resource_names_instrument_and_resource():
    with pytest.raises(DeviceFault, match=r"Laser: cannot open ASRL/dev/qnodeos-no-such-tty::INSTR"):
        Laser("ASRL/dev/qnodeos-no-such-tty::INSTR", pyvisa.ResourceManager("@py"))


def test_unparsable_reply_names_instrument_and_command():
    script = [("*IDN?", "QNODEOS-SIM,MW-SRC-20G,MW1,1"), ("POW?", "ERROR")]
    with ReplayResourceManager(script) as rm:
        mw = MicrowaveSource(MW, rm, name="mw2")
        with pytest.raises(DeviceFault) as err:
            _ = mw.power
    assert "mw2" in str(err.value) and "'POW?'" in str(err.value) and "'ERROR'" in str(err.value)


# ------------------------------------------------------------------------- validation before I/O
IDN_ONLY = {
    MicrowaveSource: [("*IDN?", "QNODEOS-SIM,MW-SRC-20G,MW1,1.0")],
    Laser: [("*IDN?", "QNODEOS-SIM,LASER-637,L1,1.0")],
    AWG: [("*IDN?", "QNODEOS-SIM,AWG-2CH,A1,1.0")],
    Wavemeter: [("*IDN?", "QNODEOS-SIM,WAVEMETER-8,W1,1.0")],
    TimeTagger: [("*IDN?", "QNODEOS-SIM,TAGGER-4,T1,1.0")],
}


@pytest.mark.parametrize("cls, param, value, allowed", [
    (MicrowaveSource, "frequency", 21e9, "[9000, 2e+10] Hz"),
    (MicrowaveSource, "frequency", "3 dBm", "[9000, 2e+10] Hz"),
    (MicrowaveSource, "power", float("nan"), "[-120, 25] dBm"),
    (MicrowaveSource, "output", 2, "True or False"),
    (Laser, "wavelength", 1550.0, "[636, 638.5] nm"),
    (Laser, "power", "60 mW", "[0, 50] mW"),
    (AWG, "ch1_amplitude", "3 V", "[0.01, 2] V"),
    (AWG, "sample_rate", 5e9, "S/s"),
    (Wavemeter, "channel", 9, "integers in [1, 8]"),
    (Wavemeter, "exposure", 2.5, "integers in [1, 10000] ms"),
    (TimeTagger, "integration_time", "20 s", "[0.001, 10] s"),
    (TimeTagger, "trigger_level", "four", "[-2.5, 2.5] V"),
])
def test_out_of_range_values_fail_before_any_io(cls, param, value, allowed):
    with ReplayResourceManager(IDN_ONLY[cls]) as rm:  # any write would be a protocol mismatch
        inst = cls("TCPIP::lab::INSTR", rm, name=f"my-{param}")
        with pytest.raises(ValueError) as err:
            setattr(inst, param, value)
        assert rm.sent == ["*IDN?"]
    text = str(err.value)
    assert f"my-{param}.{param}" in text and repr(value) in text and allowed in text


def test_read_only_parameters_refuse_writes():
    with ReplayResourceManager(IDN_ONLY[Wavemeter]) as rm:
        wm = Wavemeter("TCPIP::lab::INSTR", rm)
        with pytest.raises(AttributeError, match="read-only"):
            wm.wavelength = 637.0


def test_parse_quantity():
    assert parse_quantity("2.87GHz", "Hz") == 2.87e9
    assert parse_quantity("-3.5", "dBm") == -3.5
    assert parse_quantity("750 mV", "V") == 0.75
    assert parse_quantity("2500 uW", "mW") == 2.5
    assert parse_quantity("1.5 um", "nm") == 1500.0
    with pytest.raises(ValueError, match="expected dBm"):
        parse_quantity("3 mdBm", "dBm")  # no SI prefixes on logarithmic units


# --------------------------------------------------------------------------- scripted protocols
def test_awg_waveform_upload_protocol():
    script = [*IDN_ONLY[AWG], ('WLIS:WAV:NEW "pi_pulse",3', None),
              ('WLIS:WAV:DATA "pi_pulse",0,3,0.000000,1.000000,-0.500000', None), ("AWGC:RUN", None),
              ("AWGC:RST?", "1")]
    with ReplayResourceManager(script) as rm:
        awg = AWG("TCPIP::awg::INSTR", rm)
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
    with ReplayResourceManager(IDN_ONLY[AWG]) as rm:
        awg = AWG("TCPIP::awg::INSTR", rm, name="awg-a")
        with pytest.raises(ValueError, match=fragment) as err:
            awg.load_waveform(name, samples)
    assert "awg-a.load_waveform" in str(err.value)


def test_raw_calls_skip_validation_public_calls_do_not():
    script = [*IDN_ONLY[MicrowaveSource], ("FREQ 1.000", None)]
    with ReplayResourceManager(script) as rm:
        mw = MicrowaveSource("TCPIP::mw::INSTR", rm)
        MicrowaveSource.frequency.set_raw(mw, 1.0)  # below range, but raw means "just do the I/O"
        with pytest.raises(ValueError):
            MicrowaveSource.frequency.set(mw, 1.0)


class _TimeoutResource(ReplayResource):
    def query(self, message: str) -> str:
        if message == "*IDN?":
            return super().query(message)
        raise pyvisa.errors.VisaIOError(pyvisa.constants.StatusCode.error_timeout)


class _TimeoutRM(ReplayResourceManager):
    def open_resource(self, name, **options):
        res = _TimeoutResource(name, self._scripts.popleft(), **options)
        self.resources.append(res)
        return res


def test_io_timeout_names_instrument_parameter_and_command():
    rm = _TimeoutRM(IDN_ONLY[TimeTagger])
    tt = TimeTagger("USB0::0x5154::0x0004::TT0001::INSTR", rm, name="apd-tagger")
    with pytest.raises(DeviceTimeout) as err:
        _ = tt.counts
    text = str(err.value)
    assert "apd-tagger" in text and "'COUN?'" in text and "reading counts" in text
    assert isinstance(err.value.__cause__, pyvisa.errors.VisaIOError)


def test_replay_helper_catches_unexpected_and_missing_messages():
    rm = ReplayResourceManager([("*IDN?", "QNODEOS-SIM,MW-SRC-20G,MW1,1.0"), ("OUTP 1", None)])
    mw = MicrowaveSource("TCPIP::mw::INSTR", rm)
    with pytest.raises(DeviceFault, match="expected 'OUTP 1'"):
        mw.output = False  # sends OUTP 0: wrapped as an I/O failure that names the command
    rm2 = ReplayResourceManager([("*IDN?", "QNODEOS-SIM,MW-SRC-20G,MW1,1.0"), ("OUTP 1", None)])
    MicrowaveSource("TCPIP::mw::INSTR", rm2)
    with pytest.raises(ProtocolMismatch, match="never sent: 'OUTP 1'"):
        rm2.assert_done()

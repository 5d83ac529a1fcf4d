"""Wavemeter: reads the wavelength of one of its fibre-switch channels."""
from __future__ import annotations

from pymeasure.instruments.validators import strict_discrete_set

from .lab_instrument import LabInstrument
from .units import quantity, ureg

SPEED_OF_LIGHT_M_S = 299_792_458.0


class Wavemeter(LabInstrument):
    """An SCPI wavemeter with a channel switch; readings are vacuum wavelengths in nm."""

    idn_pattern = r"QNODEOS-SIM,WAVEMETER-8,"

    channel = LabInstrument.control("CHAN?", "CHAN %d", "Fibre-switch channel measured (1-8).",
                                    validator=strict_discrete_set, values=range(1, 9), cast=int)
    exposure = LabInstrument.control("EXP?", "EXP %d", "Exposure time per reading in ms (whole ms).",
                                     validator=quantity("ms", integer=True), values=(1, 10_000), cast=int)
    wavelength = LabInstrument.measurement("MEAS:WAV?", "Latest wavelength reading in nm.")

    def frequency_hz(self) -> float:
        """The latest reading as an optical frequency."""
        return float((ureg.speed_of_light / ureg.Quantity(self.wavelength, "nm")).to("Hz").magnitude)

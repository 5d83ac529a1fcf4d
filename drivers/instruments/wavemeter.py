"""Wavemeter: reads the wavelength of one of its fibre-switch channels."""
from __future__ import annotations

from .base import VisaInstrument
from .parameter import Ints, Parameter

SPEED_OF_LIGHT_M_S = 299_792_458.0


class Wavemeter(VisaInstrument):
    """An SCPI wavemeter with a channel switch; readings are vacuum wavelengths in nm."""

    idn_pattern = r"QNODEOS-SIM,WAVEMETER-8,"

    channel = Parameter(get_cmd="CHAN?", set_cmd="CHAN {:d}", vals=Ints(1, 8), parser=int,
                        doc="Fibre-switch channel measured")
    exposure = Parameter(unit="ms", get_cmd="EXP?", set_cmd="EXP {:d}", vals=Ints(1, 10_000), parser=int,
                         doc="Exposure time per reading")
    wavelength = Parameter(unit="nm", get_cmd="MEAS:WAV?", doc="Latest wavelength reading (read-only)")

    def frequency_hz(self) -> float:
        """The latest reading as an optical frequency."""
        return SPEED_OF_LIGHT_M_S / (self.wavelength * 1e-9)

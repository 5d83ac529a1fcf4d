"""Tunable laser on a serial line (NV resonant excitation near the 637.2 nm zero-phonon line)."""
from __future__ import annotations

from .base import VisaInstrument
from .parameter import Bool, Numbers, Parameter, parse_bool


class Laser(VisaInstrument):
    """A serial (VISA ``ASRL``) diode laser controller; commands end in CR LF as on most such units."""

    idn_pattern = r"QNODEOS-SIM,LASER-637,"
    write_termination = "\r\n"
    read_termination = "\n"

    wavelength = Parameter(unit="nm", get_cmd="WAV?", set_cmd="WAV {:.4f}", vals=Numbers(636.0, 638.5),
                           doc="Set wavelength (vacuum)")
    power = Parameter(unit="mW", get_cmd="POW?", set_cmd="POW {:.3f}", vals=Numbers(0.0, 50.0),
                      doc="Output power set point")
    emission = Parameter(get_cmd="EMIS?", set_cmd="EMIS {:d}", vals=Bool(), parser=parse_bool,
                         doc="Laser emission on/off")

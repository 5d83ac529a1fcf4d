"""Microwave source (NV electron-spin drive, ~2.87 GHz): frequency, power, output."""
from __future__ import annotations

from .base import VisaInstrument
from .parameter import Bool, Numbers, Parameter, parse_bool


class MicrowaveSource(VisaInstrument):
    """A 9 kHz–20 GHz SCPI signal generator."""

    idn_pattern = r"QNODEOS-SIM,MW-SRC-20G,"

    frequency = Parameter(unit="Hz", get_cmd="FREQ?", set_cmd="FREQ {:.3f}", vals=Numbers(9e3, 20e9),
                          doc="CW output frequency")
    power = Parameter(unit="dBm", get_cmd="POW?", set_cmd="POW {:.2f}", vals=Numbers(-120.0, 25.0),
                      doc="Output level")
    output = Parameter(get_cmd="OUTP?", set_cmd="OUTP {:d}", vals=Bool(), parser=parse_bool,
                       doc="RF output on/off")

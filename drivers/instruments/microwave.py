"""Microwave source (NV electron-spin drive, ~2.87 GHz): frequency, power, phase, output."""
from __future__ import annotations

import math

from pymeasure.instruments.validators import strict_discrete_set

from .lab_instrument import LabInstrument
from .units import quantity


class MicrowaveSource(LabInstrument):
    """A 9 kHz–20 GHz SCPI signal generator."""

    idn_pattern = r"QNODEOS-SIM,MW-SRC-20G,"

    frequency = LabInstrument.control("FREQ?", "FREQ %.3f", "CW output frequency in Hz (or any frequency: '2.87 GHz').",
                                      validator=quantity("Hz"), values=(9e3, 20e9))
    power = LabInstrument.control("POW?", "POW %.2f", "Output level in dBm (or any power: '0.1 mW').",
                                  validator=quantity("dBm"), values=(-120.0, 25.0))
    phase = LabInstrument.control("PHAS?", "PHAS %.6f", "Output phase in rad (or any angle: '90 deg').",
                                  validator=quantity("rad"), values=(-math.pi, math.pi))
    output = LabInstrument.control("OUTP?", "OUTP %d", "RF output on (True) or off (False).",
                                   validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True)

"""Tunable laser on a serial line (NV resonant excitation near the 637.2 nm zero-phonon line)."""
from __future__ import annotations

from pymeasure.instruments.validators import strict_discrete_set

from .lab_instrument import LabInstrument
from .units import quantity


class Laser(LabInstrument):
    """A serial (VISA ``ASRL``) diode laser controller; commands end in CR LF as on most such units."""

    idn_pattern = r"QNODEOS-SIM,LASER-637,"
    write_termination = "\r\n"

    wavelength = LabInstrument.control("WAV?", "WAV %.4f", "Set wavelength (vacuum) in nm.",
                                       validator=quantity("nm"), values=(636.0, 638.5))
    power = LabInstrument.control("POW?", "POW %.3f", "Output power set point in mW.",
                                  validator=quantity("mW"), values=(0.0, 50.0))
    emission = LabInstrument.control("EMIS?", "EMIS %d", "Laser emission on (True) or off (False).",
                                     validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True)

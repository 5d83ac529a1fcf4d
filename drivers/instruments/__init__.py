"""Lab instrument drivers on pyvisa: AWG, microwave source, laser, wavemeter, photon counter.

Each is a short declarative class (``Parameter`` class attributes on :class:`VisaInstrument`);
``firmware_stubs/instruments/*.yaml`` are pyvisa-sim twins for tests without hardware.
"""
from .awg import AWG
from .base import VisaInstrument
from .laser import Laser
from .microwave import MicrowaveSource
from .parameter import Bool, Enum, Ints, Numbers, Parameter, parse_quantity
from .time_tagger import TimeTagger
from .wavemeter import Wavemeter

__all__ = ["AWG", "Bool", "Enum", "Ints", "Laser", "MicrowaveSource", "Numbers", "Parameter", "TimeTagger",
           "VisaInstrument", "Wavemeter", "parse_quantity"]

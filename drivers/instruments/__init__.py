"""Lab instrument drivers on PyMeasure with pint units: AWG, microwave source, laser, wavemeter, time tagger.

Each is a short declarative PyMeasure ``Instrument`` (``Instrument.control`` class attributes); a
setting takes a number in its unit or any pint quantity (``"2.87 GHz"``, ``"0.5 deg"`` for a radian
setting, ``"2500 uW"``), checked before any I/O. ``firmware_stubs/instruments/*.yaml`` are pyvisa-sim
twins for tests without hardware (:func:`qnodeos.firmware_stubs.harness.sim_library`). Needs the
``instruments`` extra: ``pip install 'qnodeos[instruments]'``.

Why PyMeasure rather than QCoDeS: its drivers are exactly this shape (commands as class attributes),
its units are pint, its ``expected_protocol`` replays exchanges in tests, and it is light — QCoDeS
brings a dataset and database stack (xarray, h5py, pyarrow, dask, ipykernel, opentelemetry) and pins
pyvisa below 1.17. A lab's existing PyMeasure classes (or its large instrument library) plug in as they
are; :class:`LabInstrument` only adds the identity check and errors that name the instrument.
"""
try:
    import pymeasure  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("qnodeos.drivers.instruments needs PyMeasure and pint: pip install 'qnodeos[instruments]'") from exc

from .awg import AWG
from .lab_instrument import LabInstrument
from .laser import Laser
from .microwave import MicrowaveSource
from .time_tagger import TimeTagger
from .units import quantity, ureg
from .wavemeter import Wavemeter

__all__ = ["AWG", "LabInstrument", "Laser", "MicrowaveSource", "TimeTagger", "Wavemeter", "quantity", "ureg"]

"""Two-channel arbitrary waveform generator (pulse sequences for spin control)."""
from __future__ import annotations

import math
import re
from typing import Sequence

from pymeasure.instruments.validators import strict_discrete_set

from .lab_instrument import LabInstrument
from .units import quantity

_WAVE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
_ON_OFF = {"validator": strict_discrete_set, "values": {True: 1, False: 0}, "map_values": True}


class AWG(LabInstrument):
    """An SCPI AWG: per-channel amplitude/offset/output, a sample clock and a run/stop sequencer."""

    idn_pattern = r"QNODEOS-SIM,AWG-2CH,"
    max_samples = 1 << 20

    sample_rate = LabInstrument.control("FREQ:RAST?", "FREQ:RAST %.0f", "Sample clock in samples/s ('1.2 GHz').",
                                        validator=quantity("Hz"), values=(1e6, 1.2e9))
    ch1_amplitude = LabInstrument.control("SOUR1:VOLT?", "SOUR1:VOLT %.4f", "Channel 1 amplitude in Vpp.",
                                          validator=quantity("V"), values=(0.01, 2.0))
    ch2_amplitude = LabInstrument.control("SOUR2:VOLT?", "SOUR2:VOLT %.4f", "Channel 2 amplitude in Vpp.",
                                          validator=quantity("V"), values=(0.01, 2.0))
    ch1_offset = LabInstrument.control("SOUR1:VOLT:OFFS?", "SOUR1:VOLT:OFFS %.4f", "Channel 1 DC offset in V.",
                                       validator=quantity("V"), values=(-1.0, 1.0))
    ch2_offset = LabInstrument.control("SOUR2:VOLT:OFFS?", "SOUR2:VOLT:OFFS %.4f", "Channel 2 DC offset in V.",
                                       validator=quantity("V"), values=(-1.0, 1.0))
    ch1_output = LabInstrument.control("OUTP1?", "OUTP1 %d", "Channel 1 output on/off.", **_ON_OFF)
    ch2_output = LabInstrument.control("OUTP2?", "OUTP2 %d", "Channel 2 output on/off.", **_ON_OFF)
    running = LabInstrument.measurement("AWGC:RST?", "Whether the sequencer runs.", cast=lambda s: int(s) != 0)

    def run(self) -> None:
        self.write("AWGC:RUN")

    def stop(self) -> None:
        self.write("AWGC:STOP")

    def load_waveform(self, name: str, samples: Sequence[float]) -> None:
        """Create waveform ``name`` from normalised samples in [-1, 1] (validated before any I/O)."""
        if not _WAVE_NAME.match(name):
            raise ValueError(f"{self.name}.load_waveform: bad waveform name {name!r} "
                             f"(letters, digits, '_'; at most 32; starts with a letter)")
        values = [float(s) for s in samples]
        if not 1 <= len(values) <= self.max_samples:
            raise ValueError(f"{self.name}.load_waveform: {len(values)} samples; allowed: 1 to {self.max_samples}")
        bad = next((i for i, v in enumerate(values) if not (math.isfinite(v) and -1.0 <= v <= 1.0)), None)
        if bad is not None:
            raise ValueError(f"{self.name}.load_waveform: sample {bad} = {values[bad]!r} outside [-1, 1]")
        self.write(f'WLIS:WAV:NEW "{name}",{len(values)}')
        self.write(f'WLIS:WAV:DATA "{name}",0,{len(values)},' + ",".join(f"{v:.6f}" for v in values))

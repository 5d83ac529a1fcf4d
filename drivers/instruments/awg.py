"""Two-channel arbitrary waveform generator (pulse sequences for spin control)."""
from __future__ import annotations

import math
import re
from typing import Sequence

from .base import VisaInstrument
from .parameter import Bool, Numbers, Parameter, parse_bool

_WAVE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")


class AWG(VisaInstrument):
    """An SCPI AWG: per-channel amplitude/offset/output, a sample clock and a run/stop sequencer."""

    idn_pattern = r"QNODEOS-SIM,AWG-2CH,"
    max_samples = 1 << 20

    sample_rate = Parameter(unit="S/s", get_cmd="FREQ:RAST?", set_cmd="FREQ:RAST {:.0f}",
                            vals=Numbers(1e6, 1.2e9), doc="Sample clock")
    ch1_amplitude = Parameter(unit="V", get_cmd="SOUR1:VOLT?", set_cmd="SOUR1:VOLT {:.4f}",
                              vals=Numbers(0.01, 2.0), doc="Channel 1 amplitude (Vpp)")
    ch2_amplitude = Parameter(unit="V", get_cmd="SOUR2:VOLT?", set_cmd="SOUR2:VOLT {:.4f}",
                              vals=Numbers(0.01, 2.0), doc="Channel 2 amplitude (Vpp)")
    ch1_offset = Parameter(unit="V", get_cmd="SOUR1:VOLT:OFFS?", set_cmd="SOUR1:VOLT:OFFS {:.4f}",
                           vals=Numbers(-1.0, 1.0), doc="Channel 1 DC offset")
    ch2_offset = Parameter(unit="V", get_cmd="SOUR2:VOLT:OFFS?", set_cmd="SOUR2:VOLT:OFFS {:.4f}",
                           vals=Numbers(-1.0, 1.0), doc="Channel 2 DC offset")
    ch1_output = Parameter(get_cmd="OUTP1?", set_cmd="OUTP1 {:d}", vals=Bool(), parser=parse_bool)
    ch2_output = Parameter(get_cmd="OUTP2?", set_cmd="OUTP2 {:d}", vals=Bool(), parser=parse_bool)
    running = Parameter(get_cmd="AWGC:RST?", parser=lambda s: int(s) != 0, doc="Sequencer running (read-only)")

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
        self.write(f'WLIS:WAV:NEW "{name}",{len(values)}', context=f"creating waveform {name}")
        data = ",".join(f"{v:.6f}" for v in values)
        self.write(f'WLIS:WAV:DATA "{name}",0,{len(values)},{data}', context=f"loading waveform {name}")

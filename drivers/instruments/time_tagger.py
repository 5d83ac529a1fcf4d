"""Photon counter / time tagger: click counts per channel over an integration window."""
from __future__ import annotations

from pymeasure.instruments.validators import strict_discrete_set

from .lab_instrument import LabInstrument
from .units import quantity


class TimeTagger(LabInstrument):
    """A 4-channel SCPI photon counter (the heralding station's detector read-out)."""

    idn_pattern = r"QNODEOS-SIM,TAGGER-4,"

    channel = LabInstrument.control("COUN:CHAN?", "COUN:CHAN %d", "Input channel counted (1-4).",
                                    validator=strict_discrete_set, values=range(1, 5), cast=int)
    integration_time = LabInstrument.control("COUN:INT?", "COUN:INT %.4f", "Counting window in s ('20 ms').",
                                             validator=quantity("s"), values=(1e-3, 10.0))
    trigger_level = LabInstrument.control("TRIG:LEV?", "TRIG:LEV %.3f", "Input discriminator level in V.",
                                          validator=quantity("V"), values=(-2.5, 2.5))
    counts = LabInstrument.measurement("COUN?", "Clicks in the last integration window.", cast=lambda s: int(float(s)))

    def count_rate(self) -> float:
        """Clicks per second on the selected channel."""
        return self.counts / self.integration_time

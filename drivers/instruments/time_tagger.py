"""Photon counter / time tagger: click counts per channel over an integration window."""
from __future__ import annotations

from .base import VisaInstrument
from .parameter import Ints, Numbers, Parameter


class TimeTagger(VisaInstrument):
    """A 4-channel SCPI photon counter (the heralding station's detector read-out)."""

    idn_pattern = r"QNODEOS-SIM,TAGGER-4,"

    channel = Parameter(get_cmd="COUN:CHAN?", set_cmd="COUN:CHAN {:d}", vals=Ints(1, 4), parser=int,
                        doc="Input channel counted")
    integration_time = Parameter(unit="s", get_cmd="COUN:INT?", set_cmd="COUN:INT {:.4f}",
                                 vals=Numbers(1e-3, 10.0), doc="Counting window")
    trigger_level = Parameter(unit="V", get_cmd="TRIG:LEV?", set_cmd="TRIG:LEV {:.3f}",
                              vals=Numbers(-2.5, 2.5), doc="Input discriminator level")
    counts = Parameter(get_cmd="COUN?", parser=lambda s: int(float(s)),
                       doc="Clicks in the last integration window (read-only)")

    def count_rate(self) -> float:
        """Clicks per second on the selected channel."""
        window = self.integration_time
        return self.counts / window

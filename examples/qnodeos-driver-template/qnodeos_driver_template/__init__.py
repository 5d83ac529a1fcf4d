"""qnodeos driver for the (fictitious) ACME SEQ-9000 sequencer: a thin configuration of the VISA shim."""
from .device import AcmeSequencerDevice

__all__ = ["AcmeSequencerDevice"]
__version__ = "0.1.0"

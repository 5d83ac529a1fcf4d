"""qnodeos driver for the (fictitious) ACME SEQ-9000 sequencer, which has a command set of its own.

``device.Seq9000Device`` is the driver, ``protocol`` its command set, ``stub`` the emulated firmware for
CI and ``plugin`` its registration; nothing is imported here, so listing drivers stays cheap.
"""
__version__ = "0.2.0"

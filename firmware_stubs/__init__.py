"""qnodeos.firmware_stubs: emulated controller firmware for testing lab drivers without hardware.

``stub.FirmwareStub`` is the base (a command table around a QDevice) that a driver author extends with
their own command set; ``controller.Controller`` is qnodeos's controller protocol on it; ``servers``
puts any stub on a loopback TCP port, a ``socket://`` port or a pty, all served by the one bounded
loop of ``serving``; ``harness`` wires stub, server and shim in one line; ``faults`` are the knobs that
make a stub misbehave like a real link. ``python -m qnodeos.firmware_stubs`` serves one by hand.
"""

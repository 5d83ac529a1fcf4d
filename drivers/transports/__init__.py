"""How a controller shim reaches its controller: pluggable transports, each moving one request and its reply.

* :class:`~.visa.VisaTransport` — text lines through pyvisa (``TCPIP::host::port::SOCKET`` through
  pyvisa-py, or any message-based VISA resource);
* :class:`~.serial.FramedSerialTransport` — CRC-checked binary frames through pyserial (a device path,
  a pty, ``socket://host:port``), re-sending the same frame after a lost reply;
* :class:`~.replay.ReplayTransport` — a scripted exchange for tests, with the lower-level fakes
  :class:`~.replay.ReplayResourceManager` (for pyvisa) and :class:`~.replay.ReplaySerial` (for pyserial).

A driver with its own command set can use them as well: they turn every I/O failure into a
:class:`~.base.LinkError` that says what went wrong, with the timeouts already applied.
"""
from .base import LinkError, Transport

__all__ = ["LinkError", "Transport"]

"""The lab's controller as a QDevice.

The ACME SEQ-9000 firmware speaks the qnodeos controller protocol over a raw TCP socket, so the
driver is the stock VISA shim told which instrument to expect. A controller with a different
command set would override the shim's lowering instead (see docs/writing-a-driver.md).
"""
from __future__ import annotations

from qnodeos.drivers.visa_shim import VisaControllerDevice

#: What the controller answers to *IDN? (maker, model); the shim refuses anything else.
MAKER, MODEL = "ACMELAB", "SEQ-9000"


class AcmeSequencerDevice(VisaControllerDevice):
    """ACME SEQ-9000 at ``resource`` (e.g. ``TCPIP::192.168.1.50::5025::SOCKET``)."""

    driver_name = "template-visa"
    expected_maker = MAKER
    expected_model = MODEL

    def __init__(self, resource: str, *, timeout: float = 5.0, node: str = "node", **options) -> None:
        # The sequencer uploads long programs slowly: a longer default timeout, one reconnect.
        options.setdefault("retries", 1)
        super().__init__(resource, timeout=timeout, node=node, **options)

"""One-line test rigs: a QDevice behind an emulated controller, reached through a real shim.

>>> from qnodeos.drivers.mock_nv import MockNVDevice
>>> from qnodeos.hal import Init
>>> with served_visa(MockNVDevice.from_config(seed=1)) as link:
...     link.shim.execute(Init(0)).status.value
...     link.controller.executed                                      # what really ran
'ok'
[Init(qubit=0)]

Used by the shim tests, the conformance runs, the benchmarks and the driver template; lab engineers
can use it the same way to test their own driver before the hardware arrives. :func:`served` puts any
:class:`~.stub.FirmwareStub` (a driver author's own command set too) on a link.
"""
from __future__ import annotations

import importlib.util
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from qnodeos.hal import QDevice

from .controller import Controller
from .servers import SERVERS, address_of
from .stub import FirmwareStub

#: The pyvisa-sim definitions of the simulated lab instruments (AWG, microwave source, laser, …).
INSTRUMENTS_DIR = Path(__file__).with_name("instruments")


def sim_library(definition: str) -> str:
    """The pyvisa library spec (``"<path>.yaml@sim"``) of simulated instrument ``instruments/<definition>``
    (pyvisa-sim, the backend that reads it, comes with the ``sim`` extra)."""
    if importlib.util.find_spec("pyvisa_sim") is None:
        raise ImportError("simulated instruments need pyvisa-sim: pip install 'qnodeos[sim]'")

    path = INSTRUMENTS_DIR / definition
    if not path.is_file():
        known = sorted(p.name for p in INSTRUMENTS_DIR.glob("*.yaml"))
        raise FileNotFoundError(f"no simulated instrument definition {definition!r}; have {known}")
    return f"{path}@sim"


@dataclass
class StubLink:
    """A running rig: the emulated ``controller``, its ``server`` and the connected ``shim``."""

    controller: FirmwareStub
    server: Any
    shim: QDevice


@contextmanager
def served(stub: FirmwareStub, link: str = "tcp") -> Iterator[Any]:
    """``stub`` served on a ``link`` (``tcp`` text, ``socket`` or ``pty`` framed); yields the server,
    whose address (:func:`~.servers.address_of`) a driver opens."""
    if link not in SERVERS:
        raise ValueError(f"link must be one of {sorted(SERVERS)}, got {link!r}")
    with SERVERS[link](stub) as server:
        yield server


@contextmanager
def served_visa(device: QDevice, *, timeout: float = 5.0, shim_class: type | None = None,
                controller_options: dict[str, Any] | None = None, **shim_options: Any) -> Iterator[StubLink]:
    """``device`` behind a TCP stub, driven through :class:`VisaControllerDevice` (or ``shim_class``)."""
    from qnodeos.drivers.controller_shim import VisaControllerDevice

    controller = Controller(device, **(controller_options or {}))
    with served(controller, "tcp") as server:
        cls = shim_class or VisaControllerDevice
        shim = cls(server.resource, timeout=timeout, node=device.node, **shim_options)
        try:
            yield StubLink(controller, server, shim)
        finally:
            shim.close()


@contextmanager
def served_serial(device: QDevice, *, transport: str = "pty", timeout: float = 5.0,
                  controller_options: dict[str, Any] | None = None, **shim_options: Any) -> Iterator[StubLink]:
    """``device`` behind a framed-protocol stub on a pty (``transport="pty"``) or a loopback socket
    (``"socket"``), driven through :class:`SerialControllerDevice`."""
    from qnodeos.drivers.controller_shim import SerialControllerDevice

    if transport not in ("pty", "socket"):
        raise ValueError(f"transport must be one of ['pty', 'socket'], got {transport!r}")
    controller = Controller(device, **(controller_options or {}))
    with served(controller, transport) as server:
        shim = SerialControllerDevice(address_of(server), timeout=timeout, node=device.node, **shim_options)
        try:
            yield StubLink(controller, server, shim)
        finally:
            shim.close()

"""One-line test rigs: a QDevice behind an emulated controller, reached through a real shim.

>>> from qnodeos.drivers.mock_nv import MockNVDevice
>>> from qnodeos.hal import Init
>>> with served_visa(MockNVDevice.from_config(seed=1)) as link:
...     link.shim.execute(Init(0)).status.value
...     link.controller.executed                                      # what really ran
'ok'
[Init(qubit=0)]

Used by the shim tests, the conformance runs, the benchmarks and the driver template; lab engineers
can use it the same way to test their own subclass of a shim before the hardware arrives.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from qnodeos.hal import QDevice

from .controller import Controller
from .serial_server import PtyControllerServer, SocketControllerServer
from .tcp_server import ControllerTCPServer


#: The pyvisa-sim definitions of the simulated lab instruments (AWG, microwave source, laser, …).
INSTRUMENTS_DIR = Path(__file__).with_name("instruments")


def sim_resource_manager(definition: str):  # -> pyvisa.ResourceManager
    """A pyvisa ResourceManager on the pyvisa-sim backend loaded with ``instruments/<definition>``."""
    import pyvisa

    path = INSTRUMENTS_DIR / definition
    if not path.is_file():
        known = sorted(p.name for p in INSTRUMENTS_DIR.glob("*.yaml"))
        raise FileNotFoundError(f"no simulated instrument definition {definition!r}; have {known}")
    return pyvisa.ResourceManager(f"{path}@sim")


@dataclass
class StubLink:
    """A running rig: the emulated ``controller``, its ``server`` and the connected ``shim``."""

    controller: Controller
    server: Any
    shim: QDevice


@contextmanager
def served_visa(device: QDevice, *, timeout: float = 5.0, shim_class: type | None = None,
                controller_options: dict[str, Any] | None = None, **shim_options: Any) -> Iterator[StubLink]:
    """``device`` behind a TCP stub, driven through :class:`VisaControllerDevice` (or ``shim_class``)."""
    from qnodeos.drivers.visa_shim import VisaControllerDevice

    controller = Controller(device, **(controller_options or {}))
    with ControllerTCPServer(controller) as server:
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
    from qnodeos.drivers.serial_shim import SerialControllerDevice

    servers = {"pty": PtyControllerServer, "socket": SocketControllerServer}
    if transport not in servers:
        raise ValueError(f"transport must be one of {sorted(servers)}, got {transport!r}")
    controller = Controller(device, **(controller_options or {}))
    with servers[transport](controller) as server:
        shim = SerialControllerDevice(server.url, timeout=timeout, node=device.node, **shim_options)
        try:
            yield StubLink(controller, server, shim)
        finally:
            shim.close()

"""The simulated world of a network run, built from its :class:`~qnodeos.network.spec.NetworkSpec`.

Every node, whatever its driver, is simulated by a mock device of one shared world (one state space,
a heralding station per link, the network schedule and the timeline: :mod:`qnodeos.drivers.mock_network`).
What differs between nodes is only how a node reaches its device:

* a **mock node** drives its mock device directly (threads mode) or through the world process's
  device socket (:class:`~qnodeos.drivers.remote_device.RemoteQDevice`, processes mode);
* a **shim node** loads its controller shim (``visa-controller``, ``serial-controller``) by name, and
  the shim talks — over real pyvisa / pyserial I/O on loopback — to the emulated controller firmware
  (:class:`~qnodeos.firmware_stubs.controller.Controller`) that the world serves over that node's mock
  device. The emulated controller reports a simulated clock, so the shim says ``simulated=True`` and
  the node takes part in the world's timeline exactly like a mock node.

The world's device and timeline sockets admit only the run's per-node keys; the controller protocol
has no authentication of its own (nor has a lab controller's raw socket), so each emulated controller
admits only its node's process (:mod:`qnodeos.firmware_stubs.admission`).
"""
from __future__ import annotations

import os
from typing import Any

from qnodeos.drivers.mock_network import MockWorld, build_mock_world
from qnodeos.hal import QDevice

from .spec import EMULATED_DRIVERS, NetworkSpec
from .timing import NetworkTiming


class SimulatedWorld:
    """The mock world of ``spec`` and the emulated controllers of its shim nodes (started at once;
    :meth:`close` stops them)."""

    def __init__(self, spec: NetworkSpec, *, seed: int | None = None, preset: str = "realistic",
                 timing: NetworkTiming | None = None, admit_this_process: bool = True) -> None:
        """``admit_this_process``: whether this process's own shims may connect to the emulated
        controllers (nodes in this process); otherwise :meth:`admit` names each node's process."""
        timing = timing or spec.timing or NetworkTiming()
        self.spec = spec
        self.mock: MockWorld = build_mock_world(seed=seed, preset=preset, bin_ns=timing.bin_ns, duty=timing.duty,
                                                **spec.world_arguments())
        self.controllers: dict[str, Any] = {}  # node -> the server of its emulated controller
        self._admission: dict[str, Any] = {}
        try:
            for name, node in spec.nodes.items():
                if node.emulator is not None:
                    from qnodeos.firmware_stubs.admission import ProcessAdmission

                    self._admission[name] = ProcessAdmission({os.getpid()} if admit_this_process else set())
                    self.controllers[name] = _serve_controller(node.driver, self.mock.devices[name],
                                                               self._admission[name])
        except BaseException:
            self.close()
            raise

    def admit(self, node: str, pid: int) -> None:
        """Let process ``pid`` (``node``'s own) reach ``node``'s emulated controller; no other process
        can (each controller admits only the processes named for it)."""
        if node in self._admission:
            self._admission[node].allow(pid)

    @property
    def mock_nodes(self) -> list[str]:
        """Nodes that drive their mock device directly (not through a controller shim)."""
        return [n for n in self.spec.nodes if n not in self.controllers]

    def access(self, node: str) -> dict[str, Any] | None:
        """How a shim node's own process reaches its device: ``{"driver": name, "config": options}``
        with the emulated controller's address filled in; None for a mock node (its device is served
        by the world's device socket)."""
        server = self.controllers.get(node)
        if server is None:
            return None
        spec = self.spec.nodes[node]
        from qnodeos.firmware_stubs.servers import address_of

        return {"driver": spec.driver, "config": {**spec.config, EMULATED_DRIVERS[spec.driver]: address_of(server)}}

    def connect(self, node: str) -> QDevice:
        """``node``'s device for a node in this process: its mock device, or its shim."""
        access = self.access(node)
        return self.mock.devices[node] if access is None else open_device(node, access)

    def close(self) -> None:
        for server in self.controllers.values():
            server.stop()
        self.controllers.clear()
        self.mock.timeline.leave_all()


def open_device(node: str, access: dict[str, Any]) -> QDevice:
    """Load the driver ``access["driver"]`` for ``node`` with its options (a shim node's device)."""
    from qnodeos.hal.registry import build_device

    return build_device(access["driver"], access["config"], node=node)


def _serve_controller(driver: str, device: QDevice, admit: Any) -> Any:
    """Serve ``device`` through emulated controller firmware on the link ``driver`` speaks, to the
    processes ``admit`` lets in."""
    from qnodeos.firmware_stubs.controller import Controller
    from qnodeos.firmware_stubs.servers import ControllerTCPServer, SocketControllerServer

    server_class = {"visa-controller": ControllerTCPServer, "serial-controller": SocketControllerServer}[driver]
    return server_class(Controller(device), admit=admit).start()

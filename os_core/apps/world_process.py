"""The world of a mock network in its own OS process (processes mode).

The world (:class:`qnodeos.network.world.SimulatedWorld`) holds the mock devices, their heralding
stations and the network's timeline, and serves each node over three ZeroMQ sockets
(:class:`qnodeos.drivers.device_server.DeviceServer`) that admit only that node's per-run CURVE key: the
keys are made here for every run, never written anywhere, and reach the child by ``fork``. A shim node
reaches its device through the emulated controller the world serves for it instead, which admits only
that node's process (:meth:`WorldProcess.admit`). The child dies with its parent (removing the run's scratch directory
first, since a parent killed by SIGKILL cannot), leaves Ctrl-C to it, and stops when told or when its
pipe to the parent closes.

    world = WorldProcess("nv", ["alice", "bob"], seed=1).start(deadline=time.monotonic() + 30)
    world.addresses["alice"]["device"]      # tcp://127.0.0.1:…, for alice's key only
    world.stop()
"""
from __future__ import annotations

import multiprocessing
import os
import time
from typing import Any

from ..errors import QNodeOSError
from ..network.spec import NetworkSpec
from ..network.timing import NetworkTiming
from .local_network import APP_DEVICE_SIZE
from .supervision import close_inherited, die_with_parent, leave_interrupts_to_parent

_CTX = multiprocessing.get_context("fork")


class WorldProcess:
    """Start, address and stop the world of one run (see the module docstring)."""

    def __init__(self, platform: str, nodes: list[str], *, seed: int | None = None, preset: str = "realistic",
                 device_config: dict[str, Any] | None = None, timing: NetworkTiming | None = None,
                 scratch_dir: str | None = None, network: NetworkSpec | None = None) -> None:
        """``network``: the nodes' drivers and the links' physics (default: every node on
        ``platform``'s mock device, with ``device_config``)."""
        from qnodeos.drivers.world_auth import run_keys

        self.nodes = list(nodes)
        if network is None:
            network = NetworkSpec.uniform(platform, self.nodes, {**APP_DEVICE_SIZE[platform], **(device_config or {})})
        self.network = network.for_nodes(self.nodes)
        self.seed, self.preset = seed, preset
        self.timing = timing or self.network.timing or NetworkTiming()
        self.scratch_dir = scratch_dir  # the run's scratch directory: removed here if the parent is killed
        self.server_keys, self.client_keys = run_keys(self.nodes)
        self.addresses: dict[str, dict[str, str]] = {}
        self.schedule: dict[str, list[int]] = {}
        self.access: dict[str, dict[str, Any] | None] = {}  # shim nodes: how their process reaches its device
        self.process: Any = None
        self._end: Any = None

    @property
    def pipe(self) -> Any:
        """The parent's end of the pipe to the world (children close it: see ``supervision``)."""
        return self._end

    def start(self, deadline: float) -> "WorldProcess":
        """Fork the world and wait (until the monotonic ``deadline``) for its addresses."""
        self._end, child = _CTX.Pipe()
        self.process = _CTX.Process(target=_world_main, name="qnodeos-world", daemon=True,
                                    args=(self, child, [self._end], os.getpid()))
        self.process.start()
        child.close()  # only the child keeps it: its death then reads as EOF here
        left = deadline - time.monotonic()
        if left <= 0 or not self._end.poll(left):
            raise QNodeOSError("world process: no answer before the deadline")
        try:
            ready = self._end.recv()
        except EOFError:
            raise QNodeOSError("world process: it died while starting (killed or crashed)") from None
        if "error" in ready:
            raise QNodeOSError(f"world process: {ready['error']}")
        self.addresses, self.schedule, self.access = ready["addresses"], ready["schedule"], ready["access"]
        return self

    def admit(self, node_pids: dict[str, int], deadline: float) -> None:
        """Name each node's process to the world (before any node reaches its device): each emulated
        controller admits only its own node's process."""
        self._end.send(("admit", node_pids))
        left = deadline - time.monotonic()
        if left <= 0 or not self._end.poll(left):
            raise QNodeOSError("world process: no answer to the list of node processes before the deadline")
        try:
            answer = self._end.recv()
        except EOFError:
            raise QNodeOSError("world process: it died (killed or crashed)") from None
        if answer != "admitted":
            raise QNodeOSError("world process: unexpected answer to the list of node processes")

    def wait_quiet(self, timeout_s: float) -> bool:
        """Wait until the world's timeline is at rest (nothing scheduled anywhere: a series' next run
        may register its hosts); False if it was not within ``timeout_s``."""
        self._end.send(("quiet", timeout_s))
        if not self._end.poll(timeout_s + 10):
            raise QNodeOSError("world process: no answer while waiting for the network to come to rest")
        try:
            return bool(self._end.recv())
        except EOFError:
            raise QNodeOSError("world process: it died (killed or crashed)") from None

    def node_gone(self, node: str) -> None:
        """A node's process died: its peers must stop waiting for it on the timeline."""
        try:
            self._end.send(("gone", node))
        except (OSError, ValueError):
            pass

    def stop(self, wait_s: float = 2.0) -> None:
        """Ask the world to stop; kill it if it has not within ``wait_s``."""
        if self._end is not None:
            try:
                self._end.send("stop")
            except (OSError, ValueError):
                pass
        if self.process is not None:
            self.process.join(timeout=wait_s)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(timeout=wait_s)
        if self._end is not None:
            self._end.close()


def _world_main(world: WorldProcess, channel: Any, parent_ends: list[Any], parent_pid: int) -> None:
    import shutil
    import sys

    from qnodeos.drivers.device_server import DeviceServer

    from ..network.world import SimulatedWorld

    scratch = world.scratch_dir
    die_with_parent(parent_pid, None if scratch is None else lambda: shutil.rmtree(scratch, ignore_errors=True))
    leave_interrupts_to_parent()
    close_inherited(parent_ends)
    sys.setswitchinterval(1e-4)  # its threads mostly wait on sockets: hand over quickly when one wakes
    simulated = None
    try:
        simulated = SimulatedWorld(world.network, seed=world.seed, preset=world.preset, timing=world.timing,
                                   admit_this_process=False)
        server = DeviceServer(simulated.mock, keys=world.server_keys, device_nodes=simulated.mock_nodes).start()
        schedule = {f"{a}|{b}": [s.period_ns, s.bin_ns, s.offset_ns, s.attempt_ns, s.overhead_ns]
                    for (a, b), s in simulated.mock.schedule.links.items()}
        channel.send({"addresses": server.addresses, "schedule": schedule,
                      "access": {n: simulated.access(n) for n in world.network.nodes}})
    except BaseException as exc:
        channel.send({"error": f"{type(exc).__name__}: {exc}"})
        if simulated is not None:
            simulated.close()
        return
    try:
        while True:  # serve until the parent says stop or goes away (EOF)
            command = channel.recv()
            if isinstance(command, tuple) and len(command) == 2 and command[0] == "gone":
                simulated.mock.timeline.leave(command[1])  # a node process died: its peers must not wait for it
            elif isinstance(command, tuple) and len(command) == 2 and command[0] == "quiet":
                channel.send(simulated.mock.timeline.wait_quiet(command[1]))  # before a series' next run
            elif isinstance(command, tuple) and len(command) == 2 and command[0] == "admit":
                for node, pid in command[1].items():  # each emulated controller: only its node's process
                    simulated.admit(node, pid)
                channel.send("admitted")
            else:
                break
    except (EOFError, OSError):
        pass
    server.close()
    simulated.close()

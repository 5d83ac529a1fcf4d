"""The emulated controllers a simulated network serves to its shim nodes admit only their node's
process: another process on this machine is refused at accept, before a byte is read."""
from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.firmware_stubs.admission import ProcessAdmission
from qnodeos.firmware_stubs.controller import Controller
from qnodeos.firmware_stubs.servers import ControllerTCPServer
from qnodeos.network.spec import NetworkSpec
from qnodeos.network.world import SimulatedWorld

IDN = "QNODEOS,QCTRL-EMU,SN0001,1.0"

#: a foreign process: connects, asks *IDN? and prints the answer ('' when the link is closed on it)
ASK = """
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"*IDN?\\n")
data = b""
try:
    while not data.endswith(b"\\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except ConnectionResetError:  # closed on us with our request unread
    pass
print(repr(data.decode().strip()))
"""


def ask_here(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"*IDN?\n")
        data = b""
        try:
            while not data.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:  # closed on us with our request unread
            pass
    return data.decode().strip()


def ask_from_another_process(port: int) -> str:
    out = subprocess.run([sys.executable, "-c", ASK, str(port)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return eval(out.stdout.strip())


def test_only_the_allowed_process_is_admitted():
    admission = ProcessAdmission()
    with ControllerTCPServer(Controller(MockNVDevice.from_config(seed=1)), admit=admission) as server:
        assert ask_here(server.port) == ""  # nobody allowed yet
        import os

        admission.allow(os.getpid())
        assert ask_here(server.port) == IDN
        assert ask_from_another_process(server.port) == ""
        assert admission.refused == 2 and server.loop.refused == 2


def test_a_simulated_worlds_emulated_controller_refuses_a_stranger():
    spec = NetworkSpec.from_dict({"nodes": {
        "alice": {"driver": "visa-controller", "emulator": {"driver": "mock-nv"}},
        "bob": {"driver": "mock-nv"}}}, source="test")
    world = SimulatedWorld(spec, seed=1)
    try:
        server = world.controllers["alice"]
        shim = world.connect("alice")  # this process runs the node: admitted
        assert shim.simulated and shim.capabilities.platform.value == "nv"
        assert ask_from_another_process(server.port) == ""
        assert server.loop.refused == 1
        shim.close()
    finally:
        world.close()


@pytest.mark.parametrize("driver", ["visa-controller", "serial-controller"])
def test_a_world_served_to_other_processes_admits_none_until_told(driver):
    spec = NetworkSpec.from_dict({"nodes": {"alice": {"driver": driver, "emulator": {"driver": "mock-nv"}}}},
                                 source="test")
    world = SimulatedWorld(spec, seed=1, admit_this_process=False)
    try:
        port = world.controllers["alice"].port
        if driver == "visa-controller":
            assert ask_here(port) == ""
        world.admit("alice", __import__("os").getpid())
        device = world.connect("alice")
        assert device.simulated
        device.close()
    finally:
        world.close()

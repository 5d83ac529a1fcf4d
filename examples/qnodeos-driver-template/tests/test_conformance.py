"""The SEQ-9000 driver passes the qnodeos HAL conformance kit against its emulated firmware.

The emulator (``qnodeos_driver_template.stub``) speaks the SEQ-9000's own command set on qnodeos's
firmware-stub base and is backed by qnodeos's mock NV physics, so the whole driver — VISA I/O included
— runs without hardware, single device and linked pair alike.
"""
from __future__ import annotations

import json
from contextlib import ExitStack, contextmanager
from importlib import metadata

import pytest

from qnodeos.drivers.heralding import HeraldingStation
from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.drivers.state_space import SharedStateSpace
from qnodeos.firmware_stubs.harness import served
from qnodeos.hal import DeviceFault, Init, Measure, Rotate, Axis, Status
from qnodeos.hal.conformance.kit import QDeviceConformance
from qnodeos_driver_template import plugin
from qnodeos_driver_template.device import Seq9000Device
from qnodeos_driver_template.stub import Seq9000Stub, calibration_of


@contextmanager
def seq9000(device, tmp_path, **options):
    """``device`` behind an emulated SEQ-9000 on loopback TCP, and the driver connected to it."""
    cal = tmp_path / f"cal-{device.node}.json"
    cal.write_text(json.dumps(calibration_of(device)))
    stub = Seq9000Stub(device)
    with served(stub, "tcp") as server:
        with Seq9000Device(server.resource, calibration=cal, node=device.node, **options) as driver:
            yield stub, driver


class TestSeq9000(QDeviceConformance):
    @pytest.fixture
    def qdevice(self, tmp_path):
        with seq9000(MockNVDevice.from_config(node="lab-a", seed=1), tmp_path) as (_, driver):
            yield driver

    @pytest.fixture
    def qdevice_pair(self, tmp_path):
        space = SharedStateSpace(seed=5)
        a = MockNVDevice.from_config(node="lab-a", seed=1, preset="ideal", state_space=space)
        b = MockNVDevice.from_config(node="lab-b", seed=2, preset="ideal", state_space=space)
        HeraldingStation(a, b, seed=3, sync_timeout_s=0.3)
        with ExitStack() as stack:
            yield (stack.enter_context(seq9000(a, tmp_path))[1], stack.enter_context(seq9000(b, tmp_path))[1])


def test_own_command_set_on_the_wire(tmp_path):
    with seq9000(MockNVDevice.from_config(seed=1, preset="ideal"), tmp_path) as (stub, driver):
        assert driver.instrument == "ACMELAB SEQ-9000 (SN SEQ-0042, fw 3.1)" and driver.simulated
        r = driver.execute_many([Init(0), Rotate(0, Axis.X, 3.141592653589793), Measure(0)])
        assert [x.status for x in r] == [Status.OK, Status.OK, Status.MEASURED] and r[2].outcome == 1
        assert stub.commands[-3:] == ["OP? PREP 0", "OP? PULSE 0 X 180.0", "OP? READ 0"]
        assert stub.executed == [Init(0), Rotate(0, Axis.X, 3.141592653589793), Measure(0)]


def test_refuses_another_controller(tmp_path):
    from qnodeos.firmware_stubs.controller import Controller

    cal = tmp_path / "cal.json"
    device = MockNVDevice.from_config(seed=1)
    cal.write_text(json.dumps(calibration_of(device)))
    with served(Controller(device), "tcp") as server:  # the stock qnodeos emulator: QNODEOS,QCTRL-EMU
        with pytest.raises(DeviceFault, match="this is not a ACMELAB SEQ-9000"):
            Seq9000Device(server.resource, calibration=cal, timeout=2.0)


def test_plugin_hook_builds_a_working_device(tmp_path):
    (info,) = plugin.qnodeos_drivers()
    assert info.name == "template-seq9000" and not info.accepts("seed")
    device = MockNVDevice.from_config(seed=1)
    cal = tmp_path / "cal.json"
    cal.write_text(json.dumps(calibration_of(device)))
    with served(Seq9000Stub(device), "tcp") as server:
        with info.create(resource=server.resource, calibration=str(cal), node="lab-a") as dev:
            assert dev.node == "lab-a" and dev.execute(Init(0)).status is Status.OK


def test_listed_by_qnodeos_drivers_when_installed():
    import subprocess
    import sys

    try:
        dist = metadata.distribution("qnodeos-driver-template")
    except metadata.PackageNotFoundError:
        pytest.skip("package not installed (pip install -e examples/qnodeos-driver-template)")
    (ep,) = [e for e in dist.entry_points if e.group == "qnodeos.drivers"]
    assert (ep.name, ep.value) == ("template-seq9000", "qnodeos_driver_template.plugin")
    out = subprocess.run([sys.executable, "-m", "qnodeos.cli", "drivers", "--json"], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    listed = {d["name"]: d for d in json.loads(out)["drivers"]}
    assert "qnodeos-driver-template" in listed["template-seq9000"]["origin"]

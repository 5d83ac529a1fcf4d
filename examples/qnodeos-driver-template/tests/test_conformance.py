"""The driver passes the qnodeos HAL conformance kit against an emulated SEQ-9000.

The emulated controller (qnodeos.firmware_stubs) identifies itself as the real one would and is
backed by qnodeos's mock NV physics, so the whole driver — VISA I/O included — runs without hardware.
"""
from __future__ import annotations

from importlib import metadata

import pytest

from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.firmware_stubs.harness import served_visa
from qnodeos.hal import DeviceFault, Init, Status
from qnodeos.hal.conformance.kit import QDeviceConformance
from qnodeos_driver_template import AcmeSequencerDevice, plugin
from qnodeos_driver_template.device import MAKER, MODEL

SEQ_9000 = {"maker": MAKER, "model": MODEL, "serial": "SEQ-0042", "firmware": "3.1"}


def serve(device):
    return served_visa(device, shim_class=AcmeSequencerDevice, controller_options=SEQ_9000)


class TestAcmeSequencer(QDeviceConformance):
    @pytest.fixture
    def qdevice(self):
        with serve(MockNVDevice.from_config(node="lab-a", seed=1)) as link:
            yield link.shim


def test_identifies_the_controller():
    with serve(MockNVDevice.from_config(seed=1)) as link:
        assert link.shim.instrument == "ACMELAB SEQ-9000 (SN SEQ-0042, fw 3.1)"


def test_refuses_another_controller():
    with pytest.raises(DeviceFault, match="not a ACMELAB SEQ-9000 controller"):
        with served_visa(MockNVDevice.from_config(seed=1), shim_class=AcmeSequencerDevice):
            pass  # the stock emulator says QNODEOS,QCTRL-EMU


def test_plugin_hook_builds_a_working_device():
    (info,) = plugin.qnodeos_drivers()
    assert info.name == "template-visa"
    with serve(MockNVDevice.from_config(seed=1)) as link:
        with info.create(resource=link.server.resource, timeout=2.0, node="lab-a") as dev:
            assert dev.execute(Init(0)).status is Status.OK


def test_entry_point_is_declared_when_installed():
    try:
        dist = metadata.distribution("qnodeos-driver-template")
    except metadata.PackageNotFoundError:
        pytest.skip("package not installed (pip install -e examples/qnodeos-driver-template)")
    (ep,) = [e for e in dist.entry_points if e.group == "qnodeos.drivers"]
    assert (ep.name, ep.value) == ("template-visa", "qnodeos_driver_template.plugin")


def test_listed_by_qnodeos_drivers_when_installed():
    import json
    import subprocess
    import sys

    try:
        metadata.distribution("qnodeos-driver-template")
    except metadata.PackageNotFoundError:
        pytest.skip("package not installed (pip install -e examples/qnodeos-driver-template)")
    out = subprocess.run([sys.executable, "-m", "qnodeos.cli", "drivers", "--json"], capture_output=True,
                         text=True, check=True).stdout
    listed = {d["name"]: d for d in json.loads(out)["drivers"]}
    assert "template-visa" in listed
    assert "qnodeos-driver-template" in listed["template-visa"]["origin"]

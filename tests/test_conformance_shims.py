"""The HAL conformance kit run through both controller shims, over real I/O, against emulated
controllers wrapping the mock devices — what the OS sees through a shim must obey the same contract
as the device behind it."""
from __future__ import annotations

from contextlib import ExitStack

import pytest

from qnodeos.drivers.heralding import HeraldingStation
from qnodeos.drivers.mock_device import MockDevice
from qnodeos.drivers.mock_ion import MockIonDevice
from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.drivers.state_space import SharedStateSpace
from qnodeos.firmware_stubs.harness import served_serial, served_visa
from qnodeos.hal.conformance.kit import QDeviceConformance


class _ShimConformance(QDeviceConformance):
    device_class: type[MockDevice]
    preset: str
    transport: str  # "visa", or a served_serial transport ("pty", "socket")

    def _serve(self, device: MockDevice):
        if self.transport == "visa":
            return served_visa(device, timeout=10.0)
        return served_serial(device, transport=self.transport, timeout=10.0)

    @pytest.fixture
    def qdevice(self):
        with self._serve(self.device_class.from_config(node="alice", seed=11, preset=self.preset)) as link:
            yield link.shim

    @pytest.fixture
    def qdevice_pair(self):
        space = SharedStateSpace(seed=5)
        a = self.device_class.from_config(node="alice", seed=1, preset=self.preset, state_space=space)
        b = self.device_class.from_config(node="bob", seed=2, preset=self.preset, state_space=space)
        HeraldingStation(a, b, seed=3, sync_timeout_s=0.3)
        with ExitStack() as stack:
            yield stack.enter_context(self._serve(a)).shim, stack.enter_context(self._serve(b)).shim


class TestVisaShimNV(_ShimConformance):
    device_class, preset, transport = MockNVDevice, "realistic", "visa"


class TestVisaShimIon(_ShimConformance):
    device_class, preset, transport = MockIonDevice, "ideal", "visa"


class TestSerialShimNV(_ShimConformance):
    device_class, preset, transport = MockNVDevice, "ideal", "pty"


class TestSerialShimIon(_ShimConformance):
    device_class, preset, transport = MockIonDevice, "realistic", "pty"

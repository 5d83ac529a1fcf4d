"""The HAL conformance kit run on the built-in mock devices, realistic and ideal presets."""
from __future__ import annotations

import pytest

from qnodeos.drivers.heralding import HeraldingStation
from qnodeos.drivers.mock_device import MockDevice
from qnodeos.drivers.mock_ion import MockIonDevice
from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.drivers.state_space import SharedStateSpace
from qnodeos.hal.conformance.kit import QDeviceConformance


class _MockConformance(QDeviceConformance):
    device_class: type[MockDevice]
    preset: str

    @pytest.fixture
    def qdevice(self) -> MockDevice:
        return self.device_class.from_config(node="alice", seed=11, preset=self.preset)

    @pytest.fixture
    def qdevice_pair(self) -> tuple[MockDevice, MockDevice]:
        space = SharedStateSpace(seed=5)
        a = self.device_class.from_config(node="alice", seed=1, preset=self.preset, state_space=space)
        b = self.device_class.from_config(node="bob", seed=2, preset=self.preset, state_space=space)
        HeraldingStation(a, b, seed=3, sync_timeout_s=0.3)
        return a, b


class TestMockNVRealistic(_MockConformance):
    device_class, preset = MockNVDevice, "realistic"


class TestMockNVIdeal(_MockConformance):
    device_class, preset = MockNVDevice, "ideal"


class TestMockIonRealistic(_MockConformance):
    device_class, preset = MockIonDevice, "realistic"


class TestMockIonIdeal(_MockConformance):
    device_class, preset = MockIonDevice, "ideal"

"""The conformance kit as one test class over a device the runner builds (see :mod:`.runner`).

Not collected by a project's own test run (the file name does not start with ``test_``); the runner
passes it to pytest explicitly, with a plugin providing the ``conformance_target`` fixture.
"""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from qnodeos.hal.device import QDevice

from .kit import QDeviceConformance


class TestInstalledDriver(QDeviceConformance):
    """Every check of the kit, each on a fresh device from the target."""

    @pytest.fixture
    def qdevice(self, request: pytest.FixtureRequest, conformance_target: Any) -> Iterator[QDevice]:
        if conformance_target.shots is not None:
            request.instance.shots = conformance_target.shots
        device = conformance_target.make()
        try:
            yield device
        finally:
            device.close()

"""The examples in the docstrings of the driver-kit modules run as written."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "qnodeos.hal.options",
    "qnodeos.hal.conformance.runner",
    "qnodeos.drivers.transports.replay",
    "qnodeos.drivers.instruments.units",
    "qnodeos.firmware_stubs.stub",
    "qnodeos.firmware_stubs.controller",
    "qnodeos.firmware_stubs.harness",
    "qnodeos.drivers.world_links",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result

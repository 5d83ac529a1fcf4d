"""Mock quantum hardware in a lab's own test suite.

Installing qnodeos gives pytest a plugin (entry point ``pytest11``: :mod:`qnodeos.testing.plugin`)
with fixtures for mock nodes and networks, a helper that runs an application directory many times,
and statistical assertions that neither flake nor pass vacuously:

>>> from qnodeos.testing import assert_proportion
>>> assert_proportion(498, 1000, 0.5)            # within the interval at the default false-alarm rate
>>> assert_proportion(0, 10, 0.5)                 # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
AssertionError: 0 of 10 ...

See docs/testing.md for a walk-through with netqasm's teleport example on NV and ion.
"""
from .runs import AppRuns, run_app
from .stats import FALSE_ALARM, assert_mean, assert_proportion, proportion_interval

__all__ = ["AppRuns", "run_app", "FALSE_ALARM", "assert_mean", "assert_proportion", "proportion_interval"]

"""qnodeos's pytest plugin and statistical assertions (what a lab's own test suite gets)."""
from __future__ import annotations

import numpy as np
import pytest

from qnodeos.testing import assert_mean, assert_proportion, proportion_interval


def test_a_fair_coin_passes_and_a_biased_one_fails():
    rng = np.random.default_rng(1)
    assert_proportion(int((rng.random(2000) < 0.5).sum()), 2000, 0.5)
    with pytest.raises(AssertionError, match="not compatible with p = 0.5000"):
        assert_proportion(int((rng.random(2000) < 0.6).sum()), 2000, 0.5)


def test_the_false_alarm_rate_is_what_it_says():
    """At a false-alarm rate of 5 %, about 5 % of correct samples fail (exact test: at most 5 %)."""
    rng = np.random.default_rng(2)
    fails = 0
    for _ in range(2000):
        try:
            assert_proportion(int(rng.binomial(200, 0.3)), 200, 0.3, false_alarm=0.05)
        except AssertionError:
            fails += 1
    assert 0.02 < fails / 2000 <= 0.06, fails


def test_too_few_trials_cannot_pass_vacuously():
    with pytest.raises(AssertionError, match="cannot resolve"):
        assert_proportion(5, 10, 0.5, resolution=0.05)
    assert_proportion(5000, 10_000, 0.5, resolution=0.05)


def test_the_interval_covers_the_estimate():
    low, high = proportion_interval(30, 100)
    assert low < 0.3 < high and 0 <= low and high <= 1


def test_means():
    rng = np.random.default_rng(3)
    assert_mean(rng.normal(0.8, 0.05, 100), 0.8)
    with pytest.raises(AssertionError, match="not compatible"):
        assert_mean(rng.normal(0.9, 0.05, 100), 0.8)
    assert_mean([0.9, 0.9, 0.9], 0.9)  # no spread: exact
    with pytest.raises(AssertionError):
        assert_mean([0.9, 0.9, 0.9], 0.8)
    with pytest.raises(ValueError):
        assert_mean([1.0], 1.0)


def test_bad_counts_are_refused():
    for args in ((11, 10, 0.5), (-1, 10, 0.5), (1, 0, 0.5), (1, 10, 1.5)):
        with pytest.raises(ValueError):
            assert_proportion(*args)


def test_the_plugin_fixtures(qnodeos_node, qnodeos_assert):
    node = qnodeos_node("trapped_ion", preset="ideal", seed=1)
    pid = node.submit("# NETQASM 1.0\n# APPID 0\nset Q0 0\nqalloc Q0\ninit Q0\nx Q0\nmeas Q0 M0\nret_reg M0\nqfree Q0\n")
    node.run()
    assert node.result(pid).registers == {"M0": 1}
    qnodeos_assert.proportion(1, 1, 1.0)

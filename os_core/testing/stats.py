"""Statistical assertions for tests of probabilistic applications.

A test of a quantum application compares counts or averages with what the physics predicts. A fixed
tolerance either flakes (too tight) or passes whatever happens (too loose); these assertions test at a
stated false-alarm rate instead — the probability that a correct implementation fails the test — and
refuse sample sizes too small to detect anything (``min_power``).
"""
from __future__ import annotations

import math
from typing import Iterable

from scipy import stats as _stats

#: Default false-alarm rate: one spurious failure in a million runs of a correct test.
FALSE_ALARM = 1e-6


def proportion_interval(successes: int, trials: int, false_alarm: float = FALSE_ALARM) -> tuple[float, float]:
    """Clopper–Pearson interval for a proportion at confidence ``1 - false_alarm``."""
    _check_counts(successes, trials)
    ci = _stats.binomtest(successes, trials).proportion_ci(confidence_level=1 - false_alarm, method="exact")
    return float(ci.low), float(ci.high)


def assert_proportion(successes: int, trials: int, expected: float, false_alarm: float = FALSE_ALARM,
                      *, resolution: float | None = None) -> None:
    """Fail if ``successes`` of ``trials`` is incompatible with probability ``expected`` (two-sided
    exact binomial test at ``false_alarm``). ``resolution``: also fail if the test is too coarse to
    tell ``expected`` from ``expected ± resolution`` (too few trials to mean anything)."""
    _check_counts(successes, trials)
    if not 0.0 <= expected <= 1.0:
        raise ValueError(f"expected probability {expected!r} is outside [0, 1]")
    p_value = _stats.binomtest(successes, trials, expected).pvalue
    if p_value < false_alarm:
        low, high = proportion_interval(successes, trials, false_alarm)
        raise AssertionError(f"{successes} of {trials} ({successes / trials:.4f}) is not compatible with "
                             f"p = {expected:.4f} at false-alarm rate {false_alarm:g} "
                             f"(p-value {p_value:.3g}; the data allow [{low:.4f}, {high:.4f}])")
    if resolution is not None:
        low, high = proportion_interval(successes, trials, false_alarm)
        if high - low > 2 * resolution:
            raise AssertionError(f"{trials} trials cannot resolve {resolution:g} at false-alarm rate "
                                 f"{false_alarm:g} (interval width {high - low:.4f}): use more trials")


def assert_mean(samples: Iterable[float], expected: float, false_alarm: float = FALSE_ALARM,
                *, resolution: float | None = None) -> None:
    """Fail if the mean of ``samples`` is incompatible with ``expected`` (two-sided Student t test at
    ``false_alarm``; needs at least 3 samples and some spread). ``resolution`` as in
    :func:`assert_proportion`."""
    values = [float(x) for x in samples]
    n = len(values)
    if n < 3:
        raise ValueError(f"a mean test needs at least 3 samples, got {n}")
    mean = sum(values) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in values) / (n - 1))
    if sd == 0.0:
        if mean != expected:
            raise AssertionError(f"all {n} samples are {mean!r}, expected mean {expected!r}")
        return
    sem = sd / math.sqrt(n)
    t = (mean - expected) / sem
    p_value = 2 * _stats.t.sf(abs(t), n - 1)
    half = _stats.t.isf(false_alarm / 2, n - 1) * sem
    if p_value < false_alarm:
        raise AssertionError(f"mean {mean:.6g} of {n} samples (± {sem:.3g}) is not compatible with {expected:.6g} "
                             f"at false-alarm rate {false_alarm:g} (p-value {p_value:.3g}; the data allow "
                             f"[{mean - half:.6g}, {mean + half:.6g}])")
    if resolution is not None and half > resolution:
        raise AssertionError(f"{n} samples cannot resolve {resolution:g} at false-alarm rate {false_alarm:g} "
                             f"(half-width {half:.3g}): use more samples")


def _check_counts(successes: int, trials: int) -> None:
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials={trials!r} must be a positive integer")
    if isinstance(successes, bool) or not isinstance(successes, int) or not 0 <= successes <= trials:
        raise ValueError(f"successes={successes!r} must be an integer in [0, {trials}]")

"""Run the conformance kit against a driver from a program (``qnodeos conformance`` uses it).

>>> from qnodeos.hal.registry import default_registry
>>> report = run_conformance(lambda: default_registry().build("mock-nv", {"preset": "ideal"}), label="mock-nv")
>>> report.failed, report.passed > 10
(0, True)

The kit is a set of pytest tests (:mod:`.kit`); this runs them in-process without pytest's own output
and returns a :class:`ConformanceReport`. Needs pytest (``pip install qnodeos[conformance]``).
"""
from __future__ import annotations

import contextlib
import io
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from qnodeos.hal.device import QDevice


@dataclass(frozen=True)
class CheckResult:
    """One check of the kit: its name, ``passed`` / ``failed`` / ``skipped``, seconds and why."""

    name: str
    outcome: str
    seconds: float
    detail: str = ""


@dataclass
class ConformanceReport:
    """The kit's verdict on one driver."""

    label: str
    checks: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, outcome: str) -> int:
        return sum(c.outcome == outcome for c in self.checks)

    @property
    def passed(self) -> int:
        return self.count("passed")

    @property
    def failed(self) -> int:
        return self.count("failed")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def ok(self) -> bool:
        """Conformant: something was checked and nothing failed."""
        return self.failed == 0 and self.passed > 0

    def to_dict(self) -> dict[str, Any]:
        return {"driver": self.label, "ok": self.ok, "passed": self.passed, "failed": self.failed,
                "skipped": self.skipped, "seconds": round(self.seconds, 3),
                "checks": [asdict(c) for c in self.checks]}


class _Target:
    """What the kit's ``qdevice`` fixture builds from, and where the outcomes are collected."""

    def __init__(self, make: Callable[[], QDevice], shots: int | None) -> None:
        self.make = make
        self.shots = shots
        self.checks: list[CheckResult] = []
        self._setup_seconds: dict[str, float] = {}

    def record(self, report: Any) -> None:
        name = report.nodeid.rsplit("::", 1)[-1]
        if report.when == "setup" and report.outcome == "passed":
            self._setup_seconds[name] = report.duration
            return
        if report.when == "teardown" and report.outcome == "passed":
            return
        if report.when == "call" or report.outcome != "passed":
            self.checks.append(CheckResult(name, report.outcome, self._setup_seconds.pop(name, 0.0) + report.duration,
                                           _detail(report)))


def _detail(report: Any) -> str:
    """One line saying why a check failed or was skipped."""
    if report.outcome == "skipped" and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    if report.outcome == "failed":
        crash = getattr(report.longrepr, "reprcrash", None)
        text = crash.message if crash is not None else str(report.longrepr)
        where = "" if report.when == "call" else f"(in {report.when}) "
        return where + " ".join(text.split())[:400]
    return ""


def run_conformance(make_device: Callable[[], QDevice], *, label: str, shots: int | None = None) -> ConformanceReport:
    """Run every check of the kit, each on a fresh ``make_device()`` (closed afterwards).

    ``shots`` overrides the repetitions of the statistical checks (lower it for slow hardware). The
    two-node checks are skipped: they need two linked devices, which only a driver's own test suite
    can set up (see ``docs/writing-a-driver.md``).
    """
    import pytest  # the kit's engine; an optional dependency of qnodeos

    target = _Target(make_device, shots)

    class Plugin:
        @pytest.fixture
        def conformance_target(self) -> _Target:
            return target

        def pytest_runtest_logreport(self, report: Any) -> None:
            target.record(report)

    path = Path(__file__).with_name("installed_driver.py")
    args = [str(path), "-p", "no:cacheprovider", "-p", "no:terminal", "-c", os.devnull,
            "--rootdir", str(path.parent), "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    start = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        pytest.main(args, plugins=[Plugin()])
    report = ConformanceReport(label, target.checks, time.monotonic() - start)
    return report

"""Published figures, mock measurements, and when the two agree."""
from __future__ import annotations

import math
from dataclasses import dataclass

#: How sure we are that a published value is what the source says.
STATUSES = {
    "read": "read in a public source (abstract, caption, public code)",
    "summary": "from a public summary of the paper",
    "derived": "computed from read values",
    "unverified": "from the project's notes; not found in a readable source yet",
}

#: How far apart two values may be, in combined standard deviations, and still agree.
SIGMAS = 2.0


@dataclass(frozen=True)
class Published:
    """A figure as a paper gives it: its ``value`` in ``unit``, the paper (``source``), how sure we are
    of it (``status``, one of :data:`STATUSES`) and, in ``reported``, how the paper states it when that
    differs. ``error`` is its one-sigma error bar (None: none given; then ``tolerance`` — absolute,
    same unit — is used and ``tolerance_why`` says why that much)."""

    value: float
    error: float | None
    unit: str
    source: str
    status: str
    reported: str = ""
    tolerance: float | None = None
    tolerance_why: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {sorted(STATUSES)}")
        if self.error is None and self.tolerance is None:
            raise ValueError(f"{self.source}: a figure without an error bar needs a stated tolerance")


@dataclass(frozen=True)
class Measured:
    """A figure measured on the mocks: its ``value``; ``error`` is its statistical one-sigma error (0 =
    exact, from the density matrix); ``method`` says how it was obtained."""

    value: float
    error: float
    method: str


def agrees(published: Published, measured: Measured) -> bool:
    """Within ``SIGMAS`` combined standard deviations; for a figure without an error bar, within
    its stated tolerance plus ``SIGMAS`` of the mock's own statistical error."""
    gap = abs(measured.value - published.value)
    if published.error is not None:
        return bool(gap <= SIGMAS * math.hypot(published.error, measured.error))
    assert published.tolerance is not None
    return bool(gap <= published.tolerance + SIGMAS * measured.error)

"""When a pair stops being good, as the dashboard shows it: the request's expiry or the table's
fidelity cut-off, whichever comes first, against the decay law solved by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from qnodeos.entanglement import EntanglementRecord, EntanglementTable


def record(fidelity: float = 0.9, t2_ns: float = 1e6, expires_ns: float = math.inf) -> EntanglementRecord:
    return EntanglementRecord(0, "bob", None, 7, 1_000, fidelity, t2_ns, expires_ns)


def test_the_cut_off_is_reached_where_the_estimated_fidelity_crosses_it():
    table = EntanglementTable(min_fidelity=0.8)
    r = record()
    at = table.expires_ns(r)
    # F(t) = 1/2 + (F0 - 1/2) exp(-t/T2) = 0.8  =>  t = T2 ln(0.4 / 0.3)
    assert at == pytest.approx(1_000 + 1e6 * np.log(0.4 / 0.3))
    assert r.fidelity_at(int(at) - 10) > 0.8 > r.fidelity_at(int(at) + 10)
    table.add(r)
    assert table.expired(int(at) - 10) == [] and table.expired(int(at) + 10) == [r]


def test_the_earlier_of_the_request_expiry_and_the_cut_off_wins():
    table = EntanglementTable(min_fidelity=0.8)
    assert table.expires_ns(record(expires_ns=5_000)) == 5_000
    assert table.expires_ns(record(expires_ns=1e9)) == pytest.approx(1_000 + 1e6 * math.log(0.4 / 0.3))


@pytest.mark.parametrize("floor, t2, fidelity, expected", [
    (0.0, 1e6, 0.9, math.inf),      # no cut-off
    (0.8, math.inf, 0.9, math.inf),  # no decay
    (0.95, 1e6, 0.9, 1_000),         # below the cut-off from the start
])
def test_pairs_that_never_expire_or_start_expired(floor, t2, fidelity, expected):
    assert EntanglementTable(floor).expires_ns(record(fidelity, t2)) == expected

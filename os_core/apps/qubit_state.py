"""``get_qubit_state`` for applications on mock hardware (simulation-only introspection)."""
from __future__ import annotations

from typing import Any

import numpy as np


def get_qubit_state(qubit: Any, reduced_dm: bool = True) -> np.ndarray | None:
    """The density matrix of an SDK ``Qubit`` on a mock device: reduced, or with every qubit it is
    entangled with (``reduced_dm=False``). ``None`` where the device cannot show its state."""
    conn = qubit._conn
    return conn._service.qubit_state(conn._host, conn.pid, qubit.qubit_id, reduced_dm)

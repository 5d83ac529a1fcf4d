"""``get_qubit_state`` for applications on mock hardware (simulation-only introspection)."""
from __future__ import annotations

from typing import Any

import numpy as np


def get_qubit_state(qubit: Any, reduced_dm: bool = True) -> np.ndarray | None:
    """The density matrix of an SDK ``Qubit`` on a mock device: reduced, or with every qubit it is
    entangled with (``reduced_dm=False``). ``None`` where the device cannot show its state."""
    conn = qubit._conn
    service, pid = conn._service, conn.pid

    def read() -> np.ndarray | None:
        node = service.node
        phys = node.memory.physical(pid, qubit.qubit_id)
        device = node.device
        if not hasattr(device, "density_matrix"):
            return None
        if reduced_dm or not hasattr(device, "joint_density_matrix"):
            return device.density_matrix([phys])
        return device.joint_density_matrix(phys)

    return service.read_state(conn._host, read)

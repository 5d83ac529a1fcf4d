"""Telling applications they run in a simulator, as netqasm's simulators do.

Some netqasm applications inspect quantum states only "in simulation": they ask
``netqasm.runtime.settings.get_simulator()`` whether they run on NetSquid and then call
``get_qubit_state`` and the helpers of ``netqasm.sdk.toolbox.sim_states`` (``qubit_from``, ``to_dm``,
``get_fidelity``), which need NetSquid. On a mock network qnodeos can show states, so it answers
"netsquid" and supplies numpy versions of those three helpers (same meaning: a qubit state from
(phi, theta), its density matrix, the fidelity of a state to a density matrix). On real drivers
nothing changes: applications keep to their hardware branch.
"""
from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

SIMULATOR_ENV = "NETQASM_SIMULATOR"


def qubit_from(phi: float, theta: float) -> np.ndarray:
    """The ket cos(theta/2)|0> + e^{i phi} sin(theta/2)|1> (netqasm's convention: R_z(phi) R_y(theta)|0>)."""
    return np.array([math.cos(theta / 2), np.exp(1j * phi) * math.sin(theta / 2)], dtype=np.complex128)


def to_dm(state: Any) -> np.ndarray:
    """Density matrix of a ket (or a density matrix, returned as it is)."""
    arr = np.asarray(state, dtype=np.complex128)
    return arr if arr.ndim == 2 else np.outer(arr, arr.conj())


def get_fidelity(state: Any, rho: Any) -> float:
    """<psi|rho|psi> for a ket ``state`` (Tr(sigma rho) for a density matrix)."""
    sigma = to_dm(state)
    return float(np.real(np.trace(sigma @ np.asarray(rho, dtype=np.complex128))))


def report_simulator(simulated: bool) -> None:
    """Make ``get_simulator()`` say NetSquid on mock networks (helpers patched first), "debug" otherwise.

    Must run after ``netqasm.sdk.external`` has chosen its (qnodeos) classes under "debug"."""
    from netqasm.sdk.toolbox import sim_states  # imported under "debug": no NetSquid import

    if simulated:
        sim_states.qubit_from = qubit_from
        sim_states.to_dm = to_dm
        sim_states.get_fidelity = get_fidelity
        os.environ[SIMULATOR_ENV] = "netsquid"
    else:
        os.environ[SIMULATOR_ENV] = "debug"

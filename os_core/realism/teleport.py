"""Run netqasm's own teleport example, unchanged, and read the teleported state.

netqasm's receiver reports the state it received only "in simulation": when
``netqasm.runtime.settings.get_simulator()`` says NetSquid, its sender also sends (phi, theta) and the
receiver compares with helpers from ``netqasm.sdk.toolbox.sim_states`` that need NetSquid. The
example's source is loaded untouched; in each loaded module the simulator check says "netsquid" and
the three helpers (``qubit_from``, ``to_dm``, ``get_fidelity``) are numpy equivalents, so its own
simulation branch runs on qnodeos and returns ``received_state``.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import netqasm
import numpy as np

from qnodeos.errors import QNodeOSError

if TYPE_CHECKING:
    from qnodeos.network.timing import NetworkTiming

TELEPORT_DIR = Path(netqasm.__file__).parent / "examples" / "apps" / "teleport"

_WRAPPER = '''"""netqasm's teleport example ({role}), loaded unchanged by qnodeos.realism.teleport."""
from qnodeos.realism.teleport import load_netqasm_teleport

main = load_netqasm_teleport("{role}").main
'''


def qubit_from(phi: float, theta: float) -> np.ndarray:
    """The ket cos(theta/2)|0> + e^{i phi} sin(theta/2)|1> (netqasm's set_qubit_state convention)."""
    return np.array([math.cos(theta / 2), np.exp(1j * phi) * math.sin(theta / 2)], dtype=np.complex128)


def to_dm(ket: np.ndarray) -> np.ndarray:
    return np.outer(ket, ket.conj())


def get_fidelity(ket: np.ndarray, rho: Any) -> float:
    """<psi|rho|psi>: the teleportation fidelity papers report."""
    return float(np.real(ket.conj() @ np.asarray(rho, dtype=np.complex128) @ ket))


def load_netqasm_teleport(role: str) -> ModuleType:
    """netqasm's ``app_<role>.py`` as a fresh module, told it runs in a simulator (see module doc)."""
    from netqasm.runtime.settings import Simulator

    if "netqasm.sdk.external" not in sys.modules:
        # the SDK picks its backend when first imported (NetSquid by default, not installed here); the
        # runner rebinds it to qnodeos before every run (qnodeos.apps.runner.bind_netqasm)
        os.environ["NETQASM_SIMULATOR"] = "debug"
    path = TELEPORT_DIR / f"app_{role}.py"
    spec = importlib.util.spec_from_file_location(f"netqasm_teleport_{role}", path)
    if spec is None or spec.loader is None:
        raise QNodeOSError(f"cannot load netqasm's teleport example {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.get_simulator = lambda: Simulator.NETSQUID  # type: ignore[attr-defined]
    for name, helper in (("qubit_from", qubit_from), ("to_dm", to_dm), ("get_fidelity", get_fidelity)):
        if hasattr(module, name):
            setattr(module, name, helper)
    return module


def app_dir() -> Path:
    """A temporary application directory whose two roles are netqasm's teleport example (caller removes it)."""
    root = Path(tempfile.mkdtemp(prefix="qnodeos-netqasm-teleport-"))
    for role in ("sender", "receiver"):
        (root / f"app_{role}.py").write_text(_WRAPPER.format(role=role))
    return root


def run_netqasm_teleport(platform: str, preset: str, phi: float, theta: float, seed: int, *,
                         timing: "NetworkTiming | None" = None,
                         device_config: dict[str, Any] | None = None) -> float:
    """Teleport (phi, theta) with netqasm's example on two mock nodes; the fidelity at the receiver.

    ``timing`` (default: the documented lab-like latencies) and ``device_config`` (mock-device
    settings on top of ``preset``) switch parts of the noise off one at a time, which is how the
    fidelity's losses are told apart (docs/realism.md, "netqasm's teleport example")."""
    from qnodeos.apps.runner import run_app_dir

    root = app_dir()
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the example narrates each step
            run = run_app_dir(root, platform, seed=seed, preset=preset, timing=timing, device_config=device_config,
                              overrides={"sender": {"phi": phi, "theta": theta}})
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if run.errors:
        raise QNodeOSError(f"netqasm's teleport example failed on {platform}/{preset}: {run.errors}")
    received = run.results["receiver"]["received_state"]
    return get_fidelity(qubit_from(phi, theta), received)

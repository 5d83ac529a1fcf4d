"""Checking a submission before it is queued: the unpacked application against the served network,
its inputs against the roles' ``main`` signatures, and the job's numbers against the service's limits.

Nothing of the application runs here (inputs are checked from the source, see
:mod:`qnodeos.apps.inputs`): a job that is queued is one the network can run.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..apps.inputs import InputError, check_inputs
from ..apps.runner import AppDir, load_app_dir
from ..errors import QNodeOSError
from .archive import UploadError
from .network import NetworkConfig

MAX_INPUTS_BYTES = 64 << 10


@dataclass(frozen=True)
class JobLimits:
    """What a submission may ask for (the service's maximums) and the defaults it gets."""

    max_runs: int = 1000
    max_run_timeout_s: float = 600.0
    default_run_timeout_s: float = 60.0
    max_wall_time_s: float = 3600.0
    default_wall_time_s: float = 600.0
    max_cpu_time_s: float = 3600.0
    default_cpu_time_s: float = 600.0
    max_memory_mb: int = 4096
    default_memory_mb: int = 2048
    min_memory_mb: int = 1536  # a worker (Python, numpy, netqasm, ZeroMQ threads) maps about 1.4 GB


def parse_inputs(text: str | None) -> dict[str, dict[str, Any]]:
    """``{"role": {"name": value}}`` from JSON text (empty: no inputs)."""
    if text is None or not text.strip():
        return {}
    if len(text.encode()) > MAX_INPUTS_BYTES:
        raise UploadError(f"inputs: more than {MAX_INPUTS_BYTES} bytes of JSON", 413)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UploadError(f"inputs: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise UploadError('inputs: must be a JSON object of roles, each an object of inputs, e.g. '
                          '{"sender": {"theta": 1.2}}')
    for role, values in data.items():
        for name, value in values.items():
            _check_value(value, f"inputs {role}.{name}")
    return data


def _check_value(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):  # (json.loads reads NaN/Infinity)
        raise UploadError(f"{where}: {value} is not a finite number")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_value(v, f"{where}.{k}")
    elif isinstance(value, list):
        for v in value:
            _check_value(v, where)


def parse_number(text: str | None, what: str, default: float, low: float, high: float, *,
                 integer: bool = False) -> float:
    """A form field as a number in ``[low, high]`` (the default when absent), or an UploadError naming it."""
    if text is None or not str(text).strip():
        return default
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise UploadError(f"{what}: {text!r} is not {'an integer' if integer else 'a number'}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise UploadError(f"{what}: {text!r} is outside {low:g}..{high:g}")
    return value


def check_app(path: Path, network: NetworkConfig, inputs: dict[str, dict[str, Any]]) -> AppDir:
    """The application directory at ``path``, checked against ``network``; UploadError otherwise."""
    try:
        app = load_app_dir(path)
    except (QNodeOSError, OSError, UnicodeDecodeError) as exc:
        raise UploadError(f"not a runnable application directory: {exc}") from None
    for role in app.roles:
        if not role.isidentifier():
            raise UploadError(f"app_{role}.py: {role!r} is not a valid role name (a Python identifier)")
    for role, data in app.inputs.items():
        if not isinstance(data, dict):
            raise UploadError(f"{role}.yaml: must map input names to values")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in app.node_of_role.items()):
        raise UploadError("roles.yaml: must map role names to node names")
    nodes = network.nodes
    for role in app.roles:
        node = network.node_of(role, app.node_of_role[role])
        if node not in nodes:
            raise UploadError(f"role {role!r} runs on node {node!r}, which is not a node of this network "
                              f"(nodes: {', '.join(nodes)}; place roles on nodes with roles.yaml)")
        if network.fixed_roles and network.placement and network.placement.get(role) != node:
            known = ", ".join(f"{r} on {n}" for r, n in network.placement.items())
            raise UploadError(f"role {role!r} (on node {node!r}) is not an application the served nodes were "
                              f"started with (they route messages for: {known})")
    try:
        check_inputs(app, inputs)
    except InputError as exc:
        raise UploadError(str(exc)) from None
    return app

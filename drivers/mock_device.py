"""Shared machinery of the simulated QDevices: clock, refusals, lazy idle noise, measurement.

Timing follows QNodeOS's tick-based QDevice: an instruction starts on the first tick boundary at or
after the device clock and ends ``duration`` later (the capabilities' nominal duration), so even a
5 ns pulse occupies one tick. Refused instructions (``UNSUPPORTED`` / ``INVALID_QUBIT``) leave the
clock and the state untouched.

Idle decoherence is lazy: each qubit remembers when it was last brought up to date and, whenever it
is touched (or read with :meth:`MockDevice.density_matrix`), receives one T1/T2 channel for the time
since. A ``Wait`` therefore only advances the clock. One-qubit gates apply their depolarising noise
fused with the unitary as one superoperator (one pass over the register).

Randomness: measurements and readout errors draw from the device's own generator (seeded from
``seed`` and the node name), never from the shared engine, so two devices in two threads reproduce.
"""
from __future__ import annotations

import abc
import array
import math
import operator
import threading
import zlib
from functools import lru_cache
from typing import Any, Callable, ClassVar, Sequence, TypeVar

import numpy as np

from qnodeos.hal.capabilities import Capabilities, NativeOperation
from qnodeos.hal.device import QDevice
from qnodeos.hal.errors import ConfigError, InvalidQubit, UnsupportedInstruction
from qnodeos.hal.instructions import (
    INSTRUCTION_NAMES,
    Axis,
    ControlledRotate,
    EntangleAttempt,
    Init,
    Measure,
    MolmerSorensen,
    PhysicalInstruction,
    Rotate,
    Wait,
)
from qnodeos.hal.responses import Response, Status

from . import channels
from .config import _DeviceConfig
from .fast_path import SequencePlans
from .heralding import HeraldingStation
from .link_physics import LinkParams
from .state_space import SharedStateSpace

_ROTATIONS: dict[Axis, Callable[[float], np.ndarray]] = {Axis.X: channels.rx, Axis.Y: channels.ry, Axis.Z: channels.rz}
_XX = np.kron(channels.X, channels.X)


def rotation(axis: Axis, angle: float) -> np.ndarray:
    """R_axis(angle) = exp(-i angle/2 sigma_axis)."""
    return _ROTATIONS[axis](angle)


def controlled_rotation(axis: Axis, angle: float) -> np.ndarray:
    """The NV conditional rotation |0><0| (x) R(angle) + |1><1| (x) R(-angle), control first."""
    u = np.zeros((4, 4), dtype=np.complex128)
    u[:2, :2] = rotation(axis, angle)
    u[2:, 2:] = rotation(axis, -angle)
    return u


def molmer_sorensen(angle: float) -> np.ndarray:
    """exp(-i angle/2 X(x)X)."""
    return math.cos(angle / 2) * np.eye(4, dtype=np.complex128) - 1j * math.sin(angle / 2) * _XX


#: Distinct (gate kind, angle, error) matrices each cache keeps; a program's loop body has a handful.
GATE_CACHE_SIZE = 4096


def _frozen(m: np.ndarray) -> np.ndarray:
    m.setflags(write=False)  # shared between calls: nobody may change it in place
    return m


@lru_cache(maxsize=GATE_CACHE_SIZE)
def _noisy_rotation(axis: Axis, angle: float, error: float) -> np.ndarray:
    return _frozen(channels.noisy_gate_superop(rotation(axis, angle), depolarize=error))


@lru_cache(maxsize=GATE_CACHE_SIZE)
def _controlled_rotation(axis: Axis, angle: float) -> np.ndarray:
    return _frozen(controlled_rotation(axis, angle))


@lru_cache(maxsize=GATE_CACHE_SIZE)
def _molmer_sorensen(angle: float) -> np.ndarray:
    return _frozen(molmer_sorensen(angle))


def noisy_rotation_superop(axis: Axis, angle: float, error: float) -> np.ndarray:
    """The superoperator of R_axis(angle) fused with depolarising ``error``, computed once per
    (axis, angle, error) and then shared (read-only). Angles of ±0.0 bypass the cache: they compare
    equal but their matrices differ in the sign of zeros, and the physics must stay bit-for-bit."""
    if angle == 0.0:
        return channels.noisy_gate_superop(rotation(axis, angle), depolarize=error)
    return _noisy_rotation(axis, angle, error)


def two_qubit_unitary(instr: "ControlledRotate | MolmerSorensen") -> np.ndarray:
    """The unitary of a native two-qubit gate, computed once per (kind, axis, angle) (see
    :func:`noisy_rotation_superop` for ±0.0)."""
    if isinstance(instr, ControlledRotate):
        if instr.angle == 0.0:
            return controlled_rotation(instr.axis, instr.angle)
        return _controlled_rotation(instr.axis, instr.angle)
    if instr.angle == 0.0:
        return molmer_sorensen(instr.angle)
    return _molmer_sorensen(instr.angle)


def device_rng(seed: int | None, node: str) -> np.random.Generator:
    """The device's generator: ``seed`` mixed with the node name, so two nodes given the same seed
    still draw independent streams (None = fresh entropy)."""
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed={seed!r} must be a non-negative integer or None")
    return np.random.default_rng([seed, zlib.crc32(node.encode())])


_Device = TypeVar("_Device", bound="MockDevice")  # from_config builds the class it is called on

#: Handlers the fast path reproduces; a subclass that overrides one keeps the ordinary path.
_PLANNED_HANDLERS = ("_init", "_rotate", "_two_qubit", "_measure", "_touch", "_occupy", "_next_tick",
                     "_note_fresh_state")


class MockDevice(QDevice):
    """A simulated QDevice on a :class:`SharedStateSpace`; subclasses declare the hardware."""

    CONFIG_CLASS: ClassVar[type[_DeviceConfig]]
    simulated = True  # the OS idles this device with Wait instead of sleeping

    def __init__(self, config: _DeviceConfig, *, node: str = "node", seed: int | None = None,
                 state_space: SharedStateSpace | None = None) -> None:
        if not isinstance(config, self.CONFIG_CLASS):
            raise ConfigError(f"{type(self).__name__} needs a {self.CONFIG_CLASS.__name__}, got {type(config).__name__}")
        if not isinstance(node, str) or not node:
            raise ConfigError(f"node={node!r} must be a non-empty string")
        self.config = config
        self.node = node
        self._rng = device_rng(seed, node)
        self._space = state_space if state_space is not None else SharedStateSpace(seed)
        self._caps = self._build_capabilities()
        self._lock = threading.RLock()
        self._now = 0
        self._links: dict[str, HeraldingStation] = {}
        self._handles = [self._space.add_qubit() for _ in self._caps.qubits]
        # per qubit, when it was last brought up to date and when it last started afresh (see _idle);
        # typed arrays, shared with the fast path's runner (which reads and writes them in C)
        self._last = array.array("q", [0] * len(self._handles))
        self._reset_at = array.array("q", [0] * len(self._handles))
        self._coherence = [(q.t1_ns, q.t2_ns) for q in self._caps.qubits]
        self._handlers: dict[type, Callable[[Any, NativeOperation | None], Response]] = {
            Init: self._init, Rotate: self._rotate, ControlledRotate: self._two_qubit,
            MolmerSorensen: self._two_qubit, Measure: self._measure, EntangleAttempt: self._entangle,
            Wait: self._wait,
        }
        cls = type(self)
        fast_class = cls.execute is MockDevice.execute and all(
            getattr(cls, name) is getattr(MockDevice, name) for name in _PLANNED_HANDLERS)
        self._plans = SequencePlans(self, fast_class)
        if cls.execute_sequence is MockDevice.execute_sequence:
            # the executor calls this once per NetQASM instruction: the runner's own method, no
            # Python frame in between (the same behaviour as the method below)
            self.execute_sequence = self._plans.execute_sequence  # type: ignore[method-assign]
        if cls.measure_sequence is MockDevice.measure_sequence:
            self.measure_sequence = self._plans.measure_sequence  # type: ignore[method-assign]

    @classmethod
    def from_config(cls: type[_Device], node: str = "node", seed: int | None = None,
                    config_file: str | None = None, preset: str = "realistic",
                    state_space: SharedStateSpace | None = None,
                    **overrides: Any) -> _Device:
        """The registry's factory: defaults -> ``preset`` -> ``config_file`` -> ``overrides``."""
        config = cls.CONFIG_CLASS.load(preset=preset, config_file=config_file, **overrides)
        if state_space is not None and not isinstance(state_space, SharedStateSpace):
            raise ConfigError(f"state_space must be a SharedStateSpace, not {type(state_space).__name__}")
        return cls(config, node=node, seed=seed, state_space=state_space)

    # -- what subclasses provide -------------------------------------------------------------------
    @abc.abstractmethod
    def _build_capabilities(self) -> Capabilities:
        """The device description built from ``self.config``."""

    @abc.abstractmethod
    def link_params(self) -> LinkParams:
        """The heralded-link physics this device's config implies."""

    def _on_attempts(self, attempts: int, link: LinkParams) -> None:
        """Hook: side effects of ``attempts`` entanglement attempts on ``link`` on the other qubits."""

    def after_attempt_batch(self, attempts: int, rng: np.random.Generator | None = None) -> str | None:
        """Check the device after a batch of ``attempts`` entanglement attempts (the heralding
        station calls this at the end of each batch, ``rng`` = its own generator for
        reproducibility). None when the device is fine; otherwise the reason of a hardware failure,
        which the station reports as ``Status.HARDWARE_FAILURE`` (the stored states are then lost).
        Safe to call from the station's resolving thread: it does not take the device's lock."""
        return None

    def _idle(self, q: int, t_from: int, t_to: int) -> None:
        """Idle decoherence of qubit ``q`` from ``t_from`` to ``t_to`` (Markovian T1/T2 here;
        subclasses may use ``self._reset_at[q]`` for noise that remembers when the qubit started)."""
        t1, t2 = self._coherence[q]
        if not (math.isinf(t1) and math.isinf(t2)):
            self._space.idle(self._handles[q], t_to - t_from, t1, t2)

    def _idle_model(self) -> list[tuple[str, float, float]]:
        """Per qubit, what :meth:`_idle` does, for the fast path's compiled runner: ("none" or
        "markov", t1, t2). A subclass that overrides ``_idle`` describes it here too (or the runner
        calls its ``_idle`` back)."""
        return [("none" if math.isinf(t1) and math.isinf(t2) else "markov", t1, t2) for t1, t2 in self._coherence]

    # -- QDevice -----------------------------------------------------------------------------------
    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    # a property whose getter is C (attrgetter), not a Python frame: the executor reads the clock
    # after every quantum instruction
    now_ns = property(operator.attrgetter("_now"), doc="The device clock (ns).")

    @property
    def state_space(self) -> SharedStateSpace:
        return self._space

    @property
    def peers(self) -> tuple[str, ...]:
        """Node names this device has a heralding link to."""
        return tuple(self._links)

    def state_handle(self, qubit: int) -> int:
        """The state-space handle of ``qubit`` (to read joint states of qubits on several nodes
        with ``state_space.density_matrix``; call :meth:`density_matrix` first on each node so
        their idle noise is up to date)."""
        if not (isinstance(qubit, int) and 0 <= qubit < len(self._handles)):
            raise InvalidQubit(f"{self._caps.name}: no qubit {qubit!r} (device has {len(self._handles)})")
        return self._handles[qubit]

    def attach_link(self, peer: str, station: HeraldingStation) -> None:
        """Called by :class:`HeraldingStation`: route attempts with ``peer`` to ``station``."""
        with self._lock:
            if self._links.get(peer, station) is not station:
                raise ConfigError(f"node {self.node!r} already has a heralding link to {peer!r}")
            self._links[peer] = station

    def execute(self, instruction: PhysicalInstruction) -> Response:
        with self._lock:
            if type(instruction) not in INSTRUCTION_NAMES:
                return self._refuse(instruction, Status.UNSUPPORTED,
                                    f"{instruction!r} is not a physical instruction of HAL {self._caps.hal_version}")
            try:
                op = self._caps.check(instruction)
            except InvalidQubit as exc:
                return self._refuse(instruction, Status.INVALID_QUBIT, str(exc))
            except UnsupportedInstruction as exc:
                return self._refuse(instruction, Status.UNSUPPORTED, str(exc))
            angle = getattr(instruction, "angle", 0.0)
            if not math.isfinite(angle):
                return self._refuse(instruction, Status.UNSUPPORTED, f"{self._caps.name}: angle {angle!r} is not finite")
            response = self._handlers[type(instruction)](instruction, op)
            self._note_fresh_state(instruction, response)
            return response

    def execute_sequence(self, instructions: Sequence[PhysicalInstruction],
                         respond: bool = True) -> tuple[Response | None, int] | None:
        """Mock-only fast path: perform ``instructions`` exactly as :meth:`execute` would, one after
        the other, and return the last response (None with ``respond=False``) with the busy time of
        all of them in whole ticks; None (nothing done) when they need the ordinary path — a
        refusal, a wait, an entanglement attempt, or ``execute`` replaced by a subclass or on this
        instance (so whatever wraps it still sees every instruction). See
        :mod:`qnodeos.drivers.fast_path`."""
        return self._plans.execute_sequence(instructions, respond)

    def measure_sequence(self, instructions: Sequence[PhysicalInstruction]) -> tuple[int, int] | None:
        """Mock-only fast path: :meth:`execute_sequence` for instructions that end in a
        measurement, returning (reported outcome, busy time in whole ticks) rather than a response
        (which the OS would only read the outcome of); None (nothing done) when they need the
        ordinary path or do not end in a measurement."""
        return self._plans.measure_sequence(instructions)

    def _note_fresh_state(self, instr: PhysicalInstruction, response: Response) -> None:
        """Record when a qubit's state started afresh (initialised, measured, newly heralded)."""
        if (isinstance(instr, (Init, Measure)) and response.ok) or (
                isinstance(instr, EntangleAttempt) and response.status in (Status.ENTANGLED, Status.ENT_FAILURE)):
            self._reset_at[instr.qubit] = response.end_ns

    def reset(self) -> None:
        with self._lock:
            for i, h in enumerate(self._handles):
                self._space.reset(h)
                self._last[i] = self._reset_at[i] = self._now

    def density_matrix(self, qubits: Sequence[int]) -> np.ndarray:
        """Reduced state of ``qubits`` at the current clock (mock-only API, for tests and the SDK's
        ``get_qubit_state``); first listed = most significant."""
        with self._lock:
            qs = list(qubits)
            for q in qs:
                if not (isinstance(q, int) and 0 <= q < len(self._handles)):
                    raise InvalidQubit(f"{self._caps.name}: no qubit {q!r} (device has {len(self._handles)})")
            for q in qs:
                self._touch(q, self._now)
            return self._space.density_matrix([self._handles[q] for q in qs])

    def joint_density_matrix(self, qubit: int) -> np.ndarray:
        """``qubit``'s state together with every qubit (on any node) it shares a register with, in the
        state space's order; call on each involved node first for up-to-date idle noise."""
        with self._lock:
            self.density_matrix([qubit])
            return self._space.density_matrix(list(self._space.register_of(self._handles[qubit])))

    # -- helpers -----------------------------------------------------------------------------------
    def _refuse(self, instr: Any, status: Status, why: str) -> Response:
        message = why if repr(instr) in why else f"{why} [{instr!r}]"
        return Response(instr, status, self._now, self._now, message=message)

    def _next_tick(self) -> int:
        tick = self._caps.tick_ns
        return -(-self._now // tick) * tick

    def _occupy(self, duration_ns: int) -> tuple[int, int]:
        start = self._next_tick()
        self._now = start + duration_ns
        return start, self._now

    def _touch(self, q: int, t: int) -> None:
        """Bring qubit ``q``'s idle decoherence up to time ``t``."""
        if t > self._last[q]:
            self._idle(q, self._last[q], t)
        self._last[q] = max(self._last[q], t)

    # -- instruction handlers ----------------------------------------------------------------------
    def _init(self, instr: Init, op: NativeOperation | None) -> Response:
        assert op is not None
        start, end = self._occupy(op.duration_ns)
        h = self._handles[instr.qubit]
        self._space.reset(h)
        if op.error > 0:
            self._space.depolarize_1q(h, op.error)
        self._last[instr.qubit] = end
        return Response(instr, Status.OK, start, end)

    def _rotate(self, instr: Rotate, op: NativeOperation | None) -> Response:
        assert op is not None
        start, end = self._occupy(op.duration_ns)
        self._touch(instr.qubit, start)
        superop = noisy_rotation_superop(instr.axis, instr.angle, op.error)
        self._space.apply_superop_1q(self._handles[instr.qubit], superop)
        self._last[instr.qubit] = end
        return Response(instr, Status.OK, start, end)

    def _two_qubit(self, instr: ControlledRotate | MolmerSorensen, op: NativeOperation | None) -> Response:
        assert op is not None
        u = two_qubit_unitary(instr)
        if isinstance(instr, ControlledRotate):
            q0, q1 = instr.control, instr.target
        else:
            q0, q1 = instr.qubits
        start, end = self._occupy(op.duration_ns)
        self._touch(q0, start)
        self._touch(q1, start)
        self._space.apply_unitary_2q(self._handles[q0], self._handles[q1], u, op.error)
        self._last[q0] = self._last[q1] = end
        return Response(instr, Status.OK, start, end)

    def _measure(self, instr: Measure, op: NativeOperation | None) -> Response:
        assert op is not None
        start, end = self._occupy(op.duration_ns)
        q = instr.qubit
        self._touch(q, start)
        u, v = self._rng.random(2)  # always two draws: the outcome stream is independent of readout errors
        true = self._space.measure(self._handles[q], float(u))
        reported = true ^ int(v < self._caps.qubits[q].readout_error[true])
        self._last[q] = end
        return Response(instr, Status.MEASURED, start, end, outcome=reported)

    def _wait(self, instr: Wait, op: NativeOperation | None) -> Response:
        start, end = self._occupy(instr.duration_ns)
        return Response(instr, Status.OK, start, end)

    def _entangle(self, instr: EntangleAttempt, op: NativeOperation | None) -> Response:
        station = self._links.get(instr.peer)
        if station is None:
            known = ", ".join(repr(p) for p in self._links) or "none"
            return self._refuse(instr, Status.UNSUPPORTED,
                                f"{self._caps.name} node {self.node!r}: no heralding link to peer {instr.peer!r} "
                                f"(linked peers: {known})")
        q = instr.qubit
        h = self._handles[q]
        if station.on_timeline:
            result = station.collect(self, instr, h)
        else:
            self._space.reset(h)  # each attempt starts by re-initialising the communication qubit
            result = station.attempt(self, instr, h, self._next_tick())
        self._now = max(self._now, result.end_ns)
        self._last[q] = self._now if result.state_since_ns is None else result.state_since_ns
        if result.attempts:
            self._on_attempts(result.attempts, station.params)
        return Response(instr, result.status, result.start_ns, result.end_ns, attempts=result.attempts,
                        pair_id=result.pair_id, bell_state=result.bell_state, message=result.message)

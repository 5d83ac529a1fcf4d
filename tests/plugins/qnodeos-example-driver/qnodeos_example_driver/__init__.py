"""An example third-party qnodeos driver: an ideal, noiseless two-qubit device.

Its native operations are ``Init``, X rotations by any angle and ``Measure`` (plus ``Wait``). Without
two-qubit gates the state stays a product of single-qubit states, and X rotations keep each of those
on the Y-Z great circle of the Bloch sphere, so one angle per qubit describes the device exactly: no
state vector needed. Everything ``Capabilities.check`` refuses comes back as a refusal response, as
the QDevice contract demands. Each instruction takes one 1000 ns tick of a simulated clock.

Small as it is, it is a complete driver: the registry finds it through the ``qnodeos.drivers`` entry
point ``example-ideal`` and it passes the HAL conformance kit.
"""
from __future__ import annotations

import math
import random
from typing import Any

from qnodeos.hal import (
    Axis,
    Capabilities,
    ConfigError,
    DriverInfo,
    Init,
    InvalidQubit,
    Measure,
    NativeOperation,
    PhysicalInstruction,
    Platform,
    QDevice,
    QubitInfo,
    QubitRole,
    Response,
    Rotate,
    Status,
    UnsupportedInstruction,
    Wait,
    hookimpl,
    single_targets,
)

__version__ = "0.1.0"

DRIVER_NAME = "example-ideal"
TICK_NS = 1000
NUM_QUBITS = 2


def _capabilities() -> Capabilities:
    qubits = range(NUM_QUBITS)
    return Capabilities(
        name=DRIVER_NAME,
        platform=Platform.GENERIC,
        tick_ns=TICK_NS,
        qubits=tuple(QubitInfo(q, frozenset({QubitRole.MEMORY})) for q in qubits),
        operations=(
            NativeOperation("init", single_targets(qubits), TICK_NS),
            NativeOperation("rotate", single_targets(qubits), TICK_NS, axes=frozenset({Axis.X})),
            NativeOperation("measure", single_targets(qubits), TICK_NS),
        ),
    )


class IdealDevice(QDevice):
    """Noiseless product-state device; its clock advances only by executing instructions."""

    simulated = True

    def __init__(self, node: str = "node", seed: int | None = None) -> None:
        self.node = node
        self._caps = _capabilities()
        self._rng = random.Random(seed)
        self._theta = [0.0] * NUM_QUBITS  # qubit q is Rx(theta[q])|0>
        self._now_ns = 0

    @classmethod
    def from_config(cls, **config: Any) -> "IdealDevice":
        """Build from keyword configuration: ``node`` (non-empty string) and ``seed`` (int or None)."""
        unknown = sorted(set(config) - {"node", "seed"})
        if unknown:
            raise ConfigError(f"{DRIVER_NAME}: unknown configuration key(s) {', '.join(unknown)}; known: node, seed")
        node = config.get("node", "node")
        if not isinstance(node, str) or not node:
            raise ConfigError(f"{DRIVER_NAME}: 'node' must be a non-empty string, got {node!r}")
        seed = config.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ConfigError(f"{DRIVER_NAME}: 'seed' must be an integer or None, got {seed!r}")
        return cls(node=node, seed=seed)

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    @property
    def now_ns(self) -> int:
        return self._now_ns

    def execute(self, instruction: PhysicalInstruction) -> Response:
        try:
            self._caps.check(instruction)
        except InvalidQubit as exc:
            return self._refuse(instruction, Status.INVALID_QUBIT, str(exc))
        except UnsupportedInstruction as exc:
            return self._refuse(instruction, Status.UNSUPPORTED, str(exc))
        except (KeyError, TypeError, AttributeError):  # not a HAL instruction at all
            return self._refuse(instruction, Status.UNSUPPORTED,
                                f"{DRIVER_NAME}: {type(instruction).__name__} is not a physical instruction")

        outcome = None
        status = Status.OK
        if isinstance(instruction, Init):
            self._theta[instruction.qubit] = 0.0
        elif isinstance(instruction, Rotate):  # check() admitted only the X axis
            q = instruction.qubit
            self._theta[q] = (self._theta[q] + instruction.angle) % (2 * math.pi)
        elif isinstance(instruction, Measure):
            outcome = self._measure(instruction.qubit)
            status = Status.MEASURED
        elif not isinstance(instruction, Wait):  # check() admits nothing else; defend anyway
            return self._refuse(instruction, Status.UNSUPPORTED, f"{DRIVER_NAME}: cannot perform {instruction!r}")

        start = -(-self._now_ns // TICK_NS) * TICK_NS  # next tick boundary
        end = start + self._caps.ticks(self._caps.duration_ns(instruction)) * TICK_NS
        self._now_ns = end
        return Response(instruction, status, start, end, outcome=outcome)

    def _measure(self, q: int) -> int:
        """Z measurement of Rx(theta)|0>: P(1) = sin^2(theta/2); the qubit collapses to the outcome."""
        p1 = math.sin(self._theta[q] / 2) ** 2
        if p1 < 1e-12 or p1 > 1 - 1e-12:  # basis states are deterministic, not merely likely
            outcome = round(p1)
        else:
            outcome = int(self._rng.random() < p1)
        self._theta[q] = math.pi * outcome
        return outcome

    def _refuse(self, instruction: Any, status: Status, message: str) -> Response:
        """Refusals take no device time and touch no qubit: nothing reached the hardware."""
        return Response(instruction, status, self._now_ns, self._now_ns, message=message)

    def reset(self) -> None:
        self._theta = [0.0] * NUM_QUBITS


@hookimpl
def qnodeos_drivers() -> list[DriverInfo]:
    return [
        DriverInfo(
            name=DRIVER_NAME,
            version=__version__,
            platform=Platform.GENERIC.value,
            factory=IdealDevice.from_config,
            description="Ideal 2-qubit basis-state device (example third-party plugin)",
        )
    ]

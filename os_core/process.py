"""A process: one application instance with its own registers, arrays and virtual qubits."""
from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from netqasm.lang.encoding import RegisterName

REGISTERS_PER_NAME = 16
REGISTER_NAMES = [RegisterName.R, RegisterName.C, RegisterName.Q, RegisterName.M]


def register_slot(name: RegisterName, index: int) -> int:
    """Flat index of a NetQASM register in a process's register file."""
    return name.value * REGISTERS_PER_NAME + index


def register_label(slot: int) -> str:
    return f"{RegisterName(slot // REGISTERS_PER_NAME).name}{slot % REGISTERS_PER_NAME}"


class ProcessState(str, enum.Enum):
    READY = "ready"
    WAITING = "waiting"
    IDLE = "idle"  # a persistent process waiting for its host's next subroutine
    DONE = "done"
    FAILED = "failed"


@dataclass
class SubroutineResult:
    """What one subroutine returned (``ret_reg`` / ``ret_arr``) and when it ran (device time)."""

    index: int
    registers: dict[str, int] = field(default_factory=dict)
    arrays: dict[int, list[Any]] = field(default_factory=dict)
    start_ns: int = 0
    end_ns: int = 0


@dataclass
class Process:
    """Scheduling and execution state of one application instance."""

    pid: int
    name: str
    priority: int
    pending: deque  # compiled subroutines not yet started
    host_delay_ns: int = 0
    max_qubits: int | None = None
    regs: list = field(default_factory=lambda: [None] * (len(REGISTER_NAMES) * REGISTERS_PER_NAME))
    arrays: dict[int, list] = field(default_factory=dict)
    array_entries: int = 0  # entries over all its arrays (kept by the executor, which bounds them)
    state: ProcessState = ProcessState.READY
    current: Any = None  # the compiled subroutine running now
    pc: int = 0
    subroutine_index: int = -1
    instructions: int = 0  # NetQASM instructions executed so far (for time slices and the budget)
    scratch_qubits: set = field(default_factory=set)  # virtual ids given implicitly for this subroutine
    results: list[SubroutineResult] = field(default_factory=list)
    error: Exception | None = None
    wake_at_ns: int | None = None
    wait_condition: Callable[[], bool] | None = None
    wait_reason: str = ""
    submitted_ns: int = 0
    finished_ns: int | None = None
    #: Persistent processes (an application host feeding subroutines one by one) stay alive between
    #: subroutines until closed; ``on_subroutine_done(proc, result_or_error)`` reports each one.
    persistent: bool = False
    on_subroutine_done: Callable[["Process", Any], None] | None = None
    kind: str = "user"  # or "network": the node's network process (see qnodeos.network_process)
    blocked_ns: int | None = None  # since when it waits (traced as a wait when it resumes)

    @property
    def finished(self) -> bool:
        return self.state in (ProcessState.DONE, ProcessState.FAILED)

    def register(self, label: str) -> Any:
        """Read a register by its NetQASM name (``"M0"``), for scripts and tests."""
        name, index = RegisterName[label[0]], int(label[1:])
        return self.regs[register_slot(name, index)]

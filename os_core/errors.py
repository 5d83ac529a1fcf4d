"""Errors the OS reports to applications and experiment scripts; each message names its cause."""
from __future__ import annotations


class QNodeOSError(Exception):
    """Base class of OS-level errors."""


class ProgramError(QNodeOSError):
    """A NetQASM program is malformed (cannot be parsed, decoded or validated)."""


class PlatformError(ProgramError):
    """A NetQASM instruction cannot run on the loaded device's platform (or on the qubits it names)."""


class QubitAccessError(QNodeOSError):
    """A process named a virtual qubit it does not own (never allocated, freed, or another's)."""


class OutOfQubits(QNodeOSError):
    """No physical qubit of the required role is free."""


class ExecutionError(QNodeOSError):
    """An instruction failed while running (device refusal, undefined register, bad array index …)."""


class DeadlockError(QNodeOSError):
    """A process waits for something that can never happen (no peer, no pending event)."""


class QubitsReclaimed(QNodeOSError):
    """A process held qubits across a host wait longer than the memory policy allows while others
    waited for them (see :class:`qnodeos.moves.MovePolicy`)."""

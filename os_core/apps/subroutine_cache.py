"""Host side: each distinct SDK subroutine is compiled by netqasm once, not at every ``flush()``.

An application that flushes the same code again and again (one entanglement request per pair, a
repeated measurement) hands netqasm's compiler the same proto-subroutine each time; assembling and
transpiling it costs about a millisecond, more than the OS needs to run it. The compiled
:class:`~netqasm.lang.subroutine.Subroutine` depends only on the proto-subroutine's content (its
commands, operands and host lines) and the transpiler, so it is kept under that key and handed on
again (the same object for the same application; nothing downstream changes a subroutine it was
given). The OS side then recognises it without compiling it again either (``Node.compile``).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable

from netqasm.lang.ir import BranchLabel, ICmd, ProtoSubroutine
from netqasm.lang.operand import Address, ArrayEntry, ArraySlice, Immediate, Label, Register, Template
from netqasm.lang.subroutine import Subroutine

#: Distinct compiled subroutines kept (least recently used go first).
CACHE_SIZE = 512


def _operand_key(op: Any) -> Hashable:
    # Plain ints and strings only: hashing netqasm's dataclasses and enums runs Python code per
    # field, which made the key cost a fifth of the compile it saves.
    kind = type(op)
    if kind is int:
        return op
    if kind is Register:
        return ("R", op.name._value_, op.index)
    if kind is Immediate:
        return ("I", op.value)
    if kind is Address:
        return ("A", op.address)
    if kind is ArrayEntry:
        return ("E", op.address.address, _operand_key(op.index))
    if kind is ArraySlice:
        return ("S", op.address.address, _operand_key(op.start), _operand_key(op.stop))
    if kind is Label:
        return ("L", op.name)
    if kind is Template:
        return ("T", op.name)
    return (kind, op)  # anything else by its own equality


def _line_key(line: Any) -> Hashable:
    return None if line is None else (line.filename, line.lineno)


def proto_key(proto: ProtoSubroutine) -> Hashable:
    """Everything of ``proto`` that its compiled subroutine depends on, as a hashable value."""
    cmds: list[Hashable] = []
    for cmd in proto.commands:
        if type(cmd) is ICmd:
            cmds.append((cmd.instruction._name_, tuple(cmd.args), tuple([_operand_key(o) for o in cmd.operands]),
                         _line_key(cmd.lineno)))
        elif type(cmd) is BranchLabel:
            cmds.append(("branch-label", cmd.name, _line_key(cmd.lineno)))
        else:  # something this module does not know: never share its compilation
            cmds.append((object(),))
    return (tuple(proto.arguments), proto.netqasm_version, tuple(cmds))


class CompiledSubroutines:
    """A bounded, thread-safe map from (transpiler, proto content) to the compiled subroutine.

    The application id is not part of the key: instantiating only stamps it on the subroutine, so a
    later application (the next run of a series gets a new id) receives a copy with its own id."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, Subroutine] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, proto: ProtoSubroutine, app_id: int, compiler: Any,
            compile_: Callable[[ProtoSubroutine], Subroutine]) -> Subroutine:
        """The subroutine of ``proto`` instantiated for ``app_id``, compiled with ``compile_`` the
        first time only.

        Args:
            proto: what the SDK built for one ``flush()``.
            app_id: the application the subroutine is for.
            compiler: the transpiler ``compile_`` applies (part of the key; None for vanilla).
            compile_: netqasm's compile step for ``proto`` (assemble, then ``compiler``).
        """
        key = (compiler, proto_key(proto))
        try:
            hash(key)
        except TypeError:  # an operand netqasm added that cannot be hashed: compile, do not keep
            sub = compile_(proto)
            sub.instantiate(app_id)
            return sub
        with self._lock:
            sub = self._items.get(key)
            if sub is not None:
                self._items.move_to_end(key)
                self.hits += 1
        if sub is not None:
            if sub.app_id == app_id:
                return sub
            return Subroutine(instructions=list(sub.instructions), arguments=list(sub.arguments),
                              netqasm_version=sub.netqasm_version, app_id=app_id)
        sub = compile_(proto)
        sub.instantiate(app_id)
        with self._lock:
            self.misses += 1
            self._items[key] = sub
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        return sub


#: One cache per process: hosts of every run in it share what was compiled.
COMPILED = CompiledSubroutines()

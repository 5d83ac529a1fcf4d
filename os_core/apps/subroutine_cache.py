"""Host side: each distinct SDK subroutine is compiled by netqasm once, not at every ``flush()``.

An application that flushes the same code again and again (one entanglement request per pair, a
repeated measurement) hands netqasm's compiler the same proto-subroutine each time; assembling and
transpiling it costs about a millisecond, more than the OS needs to run it. The compiled
:class:`~netqasm.lang.subroutine.Subroutine` depends only on the proto-subroutine's content (its
commands, operands and host lines), the transpiler and the application id, so it is kept under
that key and the same object is handed on again (nothing downstream changes a subroutine it was
given). The OS side then recognises it without compiling it again either (``Node.compile``).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable

from netqasm.lang.ir import BranchLabel, ICmd, ProtoSubroutine
from netqasm.lang.operand import ArrayEntry, ArraySlice
from netqasm.lang.subroutine import Subroutine

#: Distinct compiled subroutines kept (least recently used go first).
CACHE_SIZE = 512


def _operand_key(op: Any) -> Hashable:
    # ArrayEntry and ArraySlice are mutable dataclasses (unhashable): key them by their fields.
    if isinstance(op, ArrayEntry):
        return (ArrayEntry, op.address, type(op.index), op.index)
    if isinstance(op, ArraySlice):
        return (ArraySlice, op.address, type(op.start), op.start, type(op.stop), op.stop)
    return (type(op), op)


def _line_key(line: Any) -> Hashable:
    return None if line is None else (line.filename, line.lineno)


def proto_key(proto: ProtoSubroutine) -> Hashable:
    """Everything of ``proto`` that its compiled subroutine depends on, as a hashable value."""
    cmds: list[Hashable] = []
    for cmd in proto.commands:
        if isinstance(cmd, ICmd):
            cmds.append((cmd.instruction, tuple(cmd.args), tuple(_operand_key(o) for o in cmd.operands),
                         _line_key(cmd.lineno)))
        elif isinstance(cmd, BranchLabel):
            cmds.append((BranchLabel, cmd.name, _line_key(cmd.lineno)))
        else:  # something this module does not know: never share its compilation
            cmds.append((object(),))
    return (tuple(proto.arguments), proto.netqasm_version, tuple(cmds))


class CompiledSubroutines:
    """A bounded, thread-safe map from (transpiler, app id, proto content) to the compiled subroutine."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, Subroutine] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, proto: ProtoSubroutine, app_id: int, compiler: Any,
            compile_: Callable[[ProtoSubroutine], Subroutine]) -> Subroutine:
        """The instantiated subroutine of ``proto``, compiled with ``compile_`` the first time only."""
        key = (compiler, app_id, proto_key(proto))
        with self._lock:
            sub = self._items.get(key)
            if sub is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return sub
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

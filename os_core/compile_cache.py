"""Compiled subroutines shared by every node of this process that has the same device description.

Compiling and validating a subroutine depends only on its content, the flavour it was read in and the
device's capabilities, so nodes of one kind (the two NV nodes of a network, the nodes of one run
after another's in a warm interpreter) need not compile the same subroutine again. Bounded (least
recently used go first) and thread-safe: nodes in threads mode compile from their own threads.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Hashable

#: Compiled subroutines kept over all nodes of the process.
CACHE_SIZE = 1024


class CompileCache:
    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        """The compiled subroutine under ``key``, or None."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            if len(self._items) > self._size:
                self._items.popitem(last=False)


#: The process's cache (see :meth:`qnodeos.node.Node.compile`).
COMPILED = CompileCache()

"""The public API documents itself: ``help()`` on a public class or function shows a docstring that
names every parameter (a class's docstring, or its ``__init__``'s, names the constructor's)."""
from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

import pytest

#: The documented public API: the Node, the application runner, the driver registry, the HAL types
#: and the Python equivalents of the CLI's commands.
API_MODULES = [
    "qnodeos", "qnodeos.hal", "qnodeos.node", "qnodeos.node_config", "qnodeos.apps.runner",
    "qnodeos.hal.registry", "qnodeos.hal.device", "qnodeos.hal.instructions", "qnodeos.hal.responses",
    "qnodeos.hal.capabilities", "qnodeos.hal.options", "qnodeos.hal.driver_info", "qnodeos.hal.errors",
    "qnodeos.trace", "qnodeos.trace_plot", "qnodeos.trace_events", "qnodeos.network.keys", "qnodeos.serve",
    "qnodeos.realism", "qnodeos.apps.repeat", "qnodeos.run_stats",
]


def _parameters(func: Any) -> list[str]:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return []
    return [name for name, p in signature.parameters.items()
            if name not in ("self", "cls") and not name.startswith("_")
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _unnamed(doc: str, names: list[str]) -> list[str]:
    return [n for n in names if not re.search(rf"\b{re.escape(n)}\b", doc)]


def _own_doc(obj: Any) -> str:
    """The docstring written for ``obj`` (a dataclass's generated signature does not count)."""
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
    if inspect.isclass(obj) and doc and doc.startswith(f"{obj.__name__}("):
        return ""
    return doc or ""


def _public_members(module_name: str) -> list[tuple[str, Any]]:
    """The classes and functions a module defines, or (a package with ``__all__``) exports."""
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)
    names = exported or [n for n in vars(module) if not n.startswith("_")]
    out = []
    for name in names:
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if obj.__module__ == module_name or (exported and obj.__module__.startswith("qnodeos.")):
            out.append((f"{module_name}.{name}", obj))
    return out


def _problems(module_name: str) -> list[str]:
    problems = []
    for qualname, obj in _public_members(module_name):
        if inspect.isfunction(obj):
            doc = _own_doc(obj)
            if not doc:
                problems.append(f"{qualname}: no docstring")
            elif missing := _unnamed(doc, _parameters(obj)):
                problems.append(f"{qualname}: docstring does not name {missing}")
            continue
        if issubclass(obj, BaseException) or issubclass(obj, str) and hasattr(obj, "__members__"):
            if not _own_doc(obj):
                problems.append(f"{qualname}: no docstring")
            continue  # exceptions and enums take no documented constructor parameters
        init = obj.__dict__.get("__init__")
        class_doc = _own_doc(obj) + (init.__doc__ or "" if init is not None else "")
        if not _own_doc(obj):
            problems.append(f"{qualname}: no docstring")
        elif init is not None and (missing := _unnamed(class_doc, _parameters(init))):
            problems.append(f"{qualname}(): docstrings do not name {missing}")
        for name, member in vars(obj).items():
            if name.startswith("_"):
                continue
            is_property = isinstance(member, property)
            func = member.fget if is_property else getattr(member, "__func__", member)
            if not inspect.isfunction(func):
                continue
            if not func.__doc__:
                problems.append(f"{qualname}.{name}: no docstring")
            elif not is_property and (missing := _unnamed(func.__doc__, _parameters(func))):
                problems.append(f"{qualname}.{name}: docstring does not name {missing}")
    return problems


@pytest.mark.parametrize("module_name", API_MODULES)
def test_public_api_is_documented_with_its_parameters(module_name: str) -> None:
    assert _public_members(module_name), f"{module_name} exports nothing: the list above is stale"
    assert _problems(module_name) == []


def test_the_check_catches_an_undocumented_parameter() -> None:
    def documented(a: int, b: int) -> None:
        """Adds ``a`` to the total."""

    def bare(a: int) -> None:
        pass

    assert _unnamed(_own_doc(documented), _parameters(documented)) == ["b"]
    assert _own_doc(bare) == ""


def test_help_on_node_shows_its_parameters_not_source_comments() -> None:
    import pydoc

    import qnodeos

    text = pydoc.render_doc(qnodeos.Node, renderer=pydoc.plaintext)
    assert "Args:" in text and "move_policy:" in text
    assert not [line for line in text.splitlines() if line.strip(" |").startswith("#")]

"""Read and check the files of an application directory before anything runs.

An application directory holds ``app_<role>.py`` (one per role), optionally ``<role>.yaml`` (the
role's inputs: a mapping of ``main()`` parameter names to values), ``roles.yaml`` (a mapping of role
to node name) and ``network.yaml`` (netqasm's network description: only its shape is checked here;
:mod:`qnodeos.apps.app_network` reads it when the run's network is chosen). Every problem is an :class:`AppDirError` whose
one-line message names the file and, where there is one, the field or line — never a traceback, and
never a role that silently vanishes or runs without its inputs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import QNodeOSError
from ..network.keys import check_node_name


class AppDirError(QNodeOSError):
    """A file of an application directory is missing, unreadable or malformed (the message names it)."""


def read_text(path: Path) -> str:
    """The file's text (UTF-8), or an :class:`AppDirError` naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise AppDirError(f"{path.name}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except OSError as exc:
        raise AppDirError(f"{path.name}: cannot read it ({exc.strerror or exc})") from None


def read_yaml(path: Path) -> Any:
    """The YAML document in ``path`` (None when empty), or an :class:`AppDirError` naming the file,
    line and column of the first problem."""
    text = read_text(path)
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise AppDirError(f"{path.name}: invalid YAML{where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise AppDirError(f"{path.name}: invalid YAML: {' '.join(str(exc).split())}") from None


def _mapping(path: Path, data: Any, what: str) -> dict[Any, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AppDirError(f"{path.name}: expected a mapping of {what}, got a {_kind(data)}")
    return data


def _kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value),
                                                                                              type(value).__name__)


def role_inputs(path: Path) -> dict[str, Any]:
    """A ``<role>.yaml`` file: parameter name -> value (names must be Python identifiers)."""
    data = _mapping(path, read_yaml(path), "input names to values")
    for name in data:
        if not isinstance(name, str) or not name.isidentifier():
            raise AppDirError(f"{path.name}: input {name!r} is not a parameter name of main()")
    return data


def role_placement(path: Path, roles: list[str]) -> dict[str, str]:
    """``roles.yaml``: role -> node name, for roles of this directory only."""
    data = _mapping(path, read_yaml(path), "roles to node names")
    placement: dict[str, str] = {}
    for role, node in data.items():
        if role not in roles:
            raise AppDirError(f"{path.name}: {role!r} is not a role of this directory "
                              f"(roles, from the app_<role>.py files: {', '.join(roles)})")
        if not isinstance(node, str):
            raise AppDirError(f"{path.name}: {role}: the node name must be a string, got a {_kind(node)} ({node!r})")
        try:
            check_node_name(node)
        except ValueError as exc:
            raise AppDirError(f"{path.name}: {role}: {exc}") from None
        placement[role] = node
    return placement


def check_network_file(path: Path) -> None:
    """``network.yaml`` must at least be a YAML mapping (its contents: :mod:`qnodeos.apps.app_network`)."""
    _mapping(path, read_yaml(path), "network settings")


def check_source(path: Path) -> None:
    """``app_<role>.py`` must compile (no code runs): a syntax error is named with its line."""
    try:
        compile(read_text(path), str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        if exc.lineno is None:  # e.g. a NUL byte in the source (Python 3.11 and later)
            raise AppDirError(f"{path.name}: not Python source ({exc.msg})") from None
        raise AppDirError(f"{path.name}: syntax error on line {exc.lineno}: {exc.msg}") from None
    except ValueError as exc:  # a NUL byte in the source (Python 3.10)
        raise AppDirError(f"{path.name}: not Python source ({exc})") from None

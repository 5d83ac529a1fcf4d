"""Check application inputs against the roles of a directory and their ``main`` signatures, before
anything starts.

A role's ``main(app_config=None, **inputs)`` names the inputs it takes. Reading them from the source
(``ast``) instead of importing the module means no application code runs and no SDK backend is bound:
a misspelt input is refused at once instead of after a peer's time-out.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, Mapping

from ..errors import QNodeOSError
from .runner import AppDir


class InputError(QNodeOSError):
    """An input names a role the directory does not have, or a parameter the role's ``main`` lacks."""


def main_parameters(source_file: Path) -> set[str] | None:
    """Keyword parameters of the module's top-level ``def main``; ``None`` when it takes ``**kwargs``
    or is not a plain top-level ``def`` (imported, assigned, defined under an ``if``: not knowable
    without running the module)."""
    try:
        tree = ast.parse(source_file.read_text(encoding="utf-8"), filename=str(source_file))
    except SyntaxError as exc:
        raise InputError(f"{source_file.name}: syntax error on line {exc.lineno}: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {source_file}: {exc}") from None
    found: ast.FunctionDef | ast.AsyncFunctionDef | None = None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "main":
            found = node
        elif _binds_main(node):
            return None
    if found is None:
        return None
    args = found.args
    if args.kwarg is not None:
        return None
    return {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs} - {"app_config"}


def _binds_main(node: ast.stmt) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return any((alias.asname or alias.name) == "main" for alias in node.names)
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(t, ast.Name) and t.id == "main" for t in targets)
    return False


def check_inputs(app: AppDir, inputs: Mapping[str, Mapping[str, Any]], what: str = "input") -> None:
    """Raise :class:`InputError` naming the first role or input name ``app`` has no place for."""
    for role, values in inputs.items():
        if role not in app.roles:
            raise InputError(f"{what} {role}.{next(iter(values), '?')}: {app.path.name} has no role {role!r} "
                             f"(roles: {', '.join(app.roles)})")
        accepted = main_parameters(app.path / f"app_{role}.py")
        if accepted is None:
            continue
        for name in values:
            if name not in accepted:
                known = ", ".join(sorted(accepted)) or "none"
                raise InputError(f"{what} {role}.{name}: main() of app_{role}.py takes no input {name!r} "
                                 f"(its inputs: {known})")

"""Packaging (issue 12 point 4): the configuration gives setuptools nothing to warn about, shipped
modules import only declared dependencies (optional ones lazily, with their extra named), matplotlib
is optional, and the installed package is visible to type checkers (py.typed, no import hook)."""
from __future__ import annotations

import ast
import functools
import importlib.machinery
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
#: Modules (or packages, with all their modules) that may import an optional dependency at module
#: level, and the extra that brings it: they exist to use it.
OPTIONAL_AT_IMPORT = {"qnodeos.hal.conformance.kit": "conformance",
                      "qnodeos.hal.conformance.installed_driver": "conformance",
                      "qnodeos.drivers.instruments": "instruments",
                      # the job service (HTTP API, database): FastAPI, Starlette, uvicorn, SQLAlchemy
                      "qnodeos.jobs": "service",
                      # pytest loads its plugins itself (entry point pytest11): pytest is there when it runs
                      "qnodeos.testing.plugin": "conformance"}


def extra_allowed_at_import(module: str) -> str | None:
    """The extra ``module`` may import at module level, if any (its own entry, or its package's)."""
    for name, extra in OPTIONAL_AT_IMPORT.items():
        if module == name or module.startswith(name + "."):
            return extra
    return None


def _dist_name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


REQUIRED = {_dist_name(r) for r in PYPROJECT["project"]["dependencies"]}
EXTRAS = {extra: {_dist_name(r) for r in reqs} for extra, reqs in PYPROJECT["project"]["optional-dependencies"].items()}


def shipped_modules() -> dict[str, Path]:
    """Module name -> source file of every module the package installs."""
    modules = {}
    for package in SETUPTOOLS["packages"]:
        for source in folder_of(package).glob("*.py"):
            name = package if source.stem == "__init__" else f"{package}.{source.stem}"
            modules[name] = source
    return modules


def folder_of(package: str) -> Path:
    """Where the source folder of ``package`` is, by the package-dir mapping."""
    if package in SETUPTOOLS["package-dir"]:
        return ROOT / SETUPTOOLS["package-dir"][package]
    parent, _, child = package.rpartition(".")
    return folder_of(parent) / child


def imports(source: Path) -> list[tuple[str, bool]]:
    """(top-level module, imported when the module is) of every absolute import in ``source``."""
    tree = ast.parse(source.read_text())
    found = []

    def visit(node: ast.AST, at_import: bool) -> None:
        for child in ast.iter_child_nodes(node):
            deferred = at_import and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name.split(".")[0], at_import) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.module.split(".")[0], at_import))
            visit(child, deferred)

    visit(tree, True)
    return found


@functools.lru_cache(maxsize=None)
def _providers() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distributions_of(module: str) -> set[str]:
    """Distributions providing ``module``; for one not installed here (a requirement for other Python
    versions, such as tomli), the distribution of the same name."""
    return {d.lower().replace("_", "-") for d in _providers().get(module, [module])}


def test_every_shipped_module_imports_only_declared_dependencies():
    declared = REQUIRED | set().union(*EXTRAS.values())
    problems = []
    for name, source in sorted(shipped_modules().items()):
        for module, at_import in imports(source):
            if module in sys.stdlib_module_names or module in ("qnodeos", "__future__"):
                continue
            dists = distributions_of(module)
            if not dists & declared:
                problems.append(f"{name} imports {module!r} ({', '.join(dists)}): not declared in pyproject.toml")
            elif at_import and not dists & REQUIRED:
                extra = extra_allowed_at_import(name)
                if extra is None or not dists & EXTRAS[extra]:
                    problems.append(f"{name} imports optional {module!r} at import time")
    assert not problems, "\n".join(problems)


def test_pyvisa_sim_and_pytest_are_in_extras_not_requirements():
    assert {"pyvisa-sim", "pytest", "matplotlib"}.isdisjoint(REQUIRED)
    assert "matplotlib" in EXTRAS["plot"] and "pyvisa-sim" in EXTRAS["sim"] and "pytest" in EXTRAS["conformance"]
    shipped = "\n".join(p.read_text() for p in shipped_modules().values())
    assert "@sim" in shipped  # the sim backend is used by a shipped module: hence the extra
    assert "qnodeos[sim]" in (ROOT / "firmware_stubs" / "harness.py").read_text()


def test_the_cli_runs_without_importing_matplotlib(tmp_path):
    program = tmp_path / "x.nqasm"
    program.write_text("# NETQASM 1.0\n# APPID 0\nset R0 1\nret_reg R0\n")
    code = ("import sys; from qnodeos.cli import main; "
            f"rc = main(['run', {str(program)!r}, '--json', '--trace', {str(tmp_path / 't.json')!r}]); "
            f"rc |= main(['trace', 'export', {str(tmp_path / 't.json')!r}]); "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_configuration_gives_setuptools_nothing_to_warn_about():
    """setuptools warns when a folder inside a listed package holds files but is not listed itself
    (package discovery) and when the license is a table (deprecated): neither may happen."""
    assert isinstance(PYPROJECT["project"]["license"], str)
    listed = set(SETUPTOOLS["packages"])
    missing = []
    for package in listed:
        for sub in folder_of(package).iterdir():
            if sub.is_dir() and sub.name.isidentifier() and sub.name != "__pycache__" \
                    and any(f.is_file() for f in sub.iterdir()):  # (bytecode caches are never shipped)
                if f"{package}.{sub.name}" not in listed:
                    missing.append(f"{package}.{sub.name}")
    assert not missing, f"folders shipped but not listed as packages: {missing}"


def test_installed_package_is_typed_and_visible_to_type_checkers():
    """Type checkers find packages through sys.path folders (PEP 561), not import hooks: the installed
    qnodeos must be found that way, with its py.typed marker."""
    spec = importlib.machinery.PathFinder.find_spec("qnodeos", sys.path)
    assert spec is not None and spec.origin, (
        "qnodeos is not on a sys.path folder (an editable install through an import hook?): run `make setup`")
    package_dir = Path(spec.origin).parent
    assert (package_dir / "py.typed").is_file()
    for sub in ("hal", "drivers", "firmware_stubs", "apps", "commands"):
        assert (package_dir / sub / "__init__.py").exists(), sub


def test_every_package_data_file_is_in_git():
    """A data file that exists only in a working copy (e.g. caught by a .gitignore pattern) works
    there and is missing from every clone: each file the package-data globs ship must be tracked."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode != 0:
        import pytest

        pytest.skip("not a git checkout")
    in_git = set(tracked.stdout.splitlines())
    untracked = []
    for package, patterns in SETUPTOOLS.get("package-data", {}).items():
        folder = folder_of(package)
        for pattern in patterns:
            for path in folder.glob(pattern):
                name = str(path.relative_to(ROOT))
                if path.is_file() and name not in in_git and not name.endswith((".c", ".so")):
                    untracked.append(name)
    assert not untracked, f"package data not in git (clones would lack it): {untracked}"

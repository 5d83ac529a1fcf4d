"""Shared pytest fixtures."""
from __future__ import annotations

# --- driver plugin packages (registry / CLI tests) -------------------------------------------------
# The registry tests need *installed* plugin distributions (entry points only exist once installed).
# CI installs them explicitly; this fixture installs them into the running interpreter only when
# importlib.metadata cannot find them or finds them outdated, so repeated runs cost nothing.
import importlib
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PLUGIN_DIR = Path(__file__).parent / "plugins"
#: Plugin distributions the registry tests need installed, and where their sources are (the driver
#: template is the one `make test` also installs and tests on its own).
PLUGIN_PATHS = {
    "qnodeos-example-driver": PLUGIN_DIR / "qnodeos-example-driver",
    "qnodeos-broken-plugins": PLUGIN_DIR / "qnodeos-broken-plugins",
    "qnodeos-driver-template": Path(__file__).parents[1] / "examples" / "qnodeos-driver-template",
}
PLUGIN_PACKAGES = tuple(PLUGIN_PATHS)


def _needs_install(path: Path) -> bool:
    """Not installed, another version, or installed sources differ from the tree (edited since)."""
    project = tomllib.loads((path / "pyproject.toml").read_text())["project"]
    try:
        dist = importlib.metadata.distribution(project["name"])
    except importlib.metadata.PackageNotFoundError:
        return True
    if dist.version != project["version"]:
        return True
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    if direct.get("dir_info", {}).get("editable"):  # `pip install -e`: always current
        return False
    installed = {str(f): f for f in dist.files or () if f.suffix == ".py"}
    for source in path.glob("*/*.py"):
        rel = source.relative_to(path).as_posix()
        if rel not in installed or Path(dist.locate_file(installed[rel])).read_bytes() != source.read_bytes():
            return True
    return False


def _can_build_without_isolation() -> bool:
    """``--no-build-isolation`` (fast, offline) needs setuptools here, at least 77 (the plugins'
    pyproject.toml give their license as an SPDX string); a bare venv (e.g. `make test`'s) has an
    older one, so pip must build in isolation there."""
    try:
        major, minor = (int(x) for x in importlib.metadata.version("setuptools").split(".")[:2])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    return (major, minor) >= (77, 0)


@pytest.fixture(scope="session")
def plugin_packages() -> tuple[str, ...]:
    """Make sure the test plugin packages are pip-installed; returns their distribution names."""
    for name, path in PLUGIN_PATHS.items():
        if not _needs_install(path):
            continue
        isolation = ["--no-build-isolation"] if _can_build_without_isolation() else []
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *isolation, str(path)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.fail(f"could not install test plugin {name}:\n{proc.stdout}\n{proc.stderr}", pytrace=False)
        importlib.invalidate_caches()  # let importlib.metadata and imports see the new distribution
    return PLUGIN_PACKAGES
# --- end driver plugin packages ----------------------------------------------------------------------


# --- a stale editable install ---------------------------------------------------------------------
# `make setup` installs qnodeos as a "strict" editable install: a tree of links to the sources that
# type checkers can read, but that holds only the files that existed when it was made. A module added
# or removed since (e.g. by a rebase) is then missing: say so instead of failing with ImportErrors.
def pytest_sessionstart(session: pytest.Session) -> None:
    import qnodeos

    installed_from = Path(qnodeos.__file__).parent
    if "__editable__" not in str(installed_from):
        return
    source_root = Path(__file__).resolve().parent.parent
    linked = {p.resolve() for p in installed_from.rglob("*.py")}
    sources = {p.resolve() for folder in ("os_core", "hal", "drivers", "firmware_stubs")
               for p in (source_root / folder).rglob("*.py")}
    if sources - linked:
        missing = sorted(str(p.relative_to(source_root)) for p in sources - linked)
        pytest.exit(f"the editable install predates {', '.join(missing[:5])}: run `make setup`", returncode=4)

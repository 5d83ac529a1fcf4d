"""`qnodeos keys generate` and the key files it writes (issue 10 item 13, issue 12 point 3): names are
checked, files round-trip for any node name, secrets are owner-only from the first byte and are never
overwritten without --force."""
from __future__ import annotations

import os
import stat

import pytest

from qnodeos.cli import main
from qnodeos.network.keys import load_node_keys, write_key_files

NAMES = ["alice", "lab a", "lab.b", 'quote"d', "back\\slash?no", "ünï", "x = 1", "[table]"]


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["keys", "generate", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_any_node_name_round_trips(tmp_path):
    names = [n for n in NAMES if "\\" not in n]  # a backslash is a path separator on Windows: refused
    paths = write_key_files(names, tmp_path)
    keys = {name: load_node_keys(path) for name, path in paths.items()}
    for name in names:
        assert paths[name] == tmp_path / f"{name}.toml"
        assert set(keys[name].peers) == set(names) - {name}
        for peer in keys[name].peers:
            assert keys[name].peers[peer] == keys[peer].public


def test_cli_writes_readable_files_for_names_with_spaces_and_dots(tmp_path, capsys):
    code, out, err = _run(capsys, "lab a", "lab.b", "--out", str(tmp_path))
    assert code == 0, err
    a, b = load_node_keys(tmp_path / "lab a.toml"), load_node_keys(tmp_path / "lab.b.toml")
    assert a.peers == {"lab.b": b.public} and b.peers == {"lab a": a.public}


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".", "", "nul\0byte", "new\nline", "x" * 300])
def test_names_that_leave_the_directory_or_break_the_file_are_refused(tmp_path, capsys, name):
    out_dir = tmp_path / "keys"
    code, _, err = _run(capsys, "alice", name, "--out", str(out_dir))
    assert code == 2 and "node name" in err and "Traceback" not in err
    assert not list(tmp_path.rglob("*.toml")), "nothing may be written when one name is refused"


def test_secrets_are_owner_only_from_the_start(tmp_path, monkeypatch):
    created_modes = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *args, **kwargs):
        fd = real_open(path, flags, mode, *args, **kwargs)
        if flags & os.O_CREAT:
            created_modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return fd

    monkeypatch.setattr(os, "open", spy)
    old = os.umask(0)  # a permissive umask must not widen them either
    try:
        paths = write_key_files(["alice", "bob"], tmp_path)
    finally:
        os.umask(old)
    assert created_modes and all(m & 0o077 == 0 for m in created_modes), [oct(m) for m in created_modes]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in paths.values())


def test_existing_secrets_are_kept_unless_forced(tmp_path, capsys):
    assert _run(capsys, "alice", "bob", "--out", str(tmp_path))[0] == 0
    before = {n: (tmp_path / f"{n}.toml").read_text() for n in ("alice", "bob")}
    code, _, err = _run(capsys, "bob", "carol", "--out", str(tmp_path))
    assert code == 2 and "bob.toml" in err and "--force" in err
    assert (tmp_path / "bob.toml").read_text() == before["bob"]
    assert not (tmp_path / "carol.toml").exists(), "all or nothing: no file is written when one exists"
    code, _, err = _run(capsys, "bob", "carol", "--out", str(tmp_path), "--force")
    assert code == 0, err
    assert (tmp_path / "bob.toml").read_text() != before["bob"]
    assert stat.S_IMODE((tmp_path / "bob.toml").stat().st_mode) == 0o600
    assert load_node_keys(tmp_path / "carol.toml").peers == {"bob": load_node_keys(tmp_path / "bob.toml").public}


def test_names_equal_but_for_case_are_refused(tmp_path, capsys):
    code, _, err = _run(capsys, "Alice", "alice", "--out", str(tmp_path))
    assert code == 2 and "Alice" in err

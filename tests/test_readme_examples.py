"""The README's Python examples run as written (documentation that no test runs goes stale)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"README.md example {index}", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert out.strip(), "each example prints what it shows"
    if "[1, 1, 1]" in BLOCKS[index]:
        assert "[1, 1, 1]" in out
    if "repeat_app_dir" in BLOCKS[index]:  # 20 runs of teleport on ideal ions: every one faithful, all kept
        lines = out.splitlines()[-3:]  # after what the applications printed
        assert float(lines[0]) > 0.99 and float(lines[1].split()[0]) > 0.99
        assert lines[2].endswith("results.json") and len(json.loads(Path(lines[2]).read_text())["runs"]) == 20

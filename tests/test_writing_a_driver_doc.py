"""docs/writing-a-driver.md stays true: its Python blocks run, in order, in one namespace."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "writing-a-driver.md"


def test_guide_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 5
    namespace: dict = {"__name__": "writing_a_driver_doc"}
    for n, block in enumerate(blocks):
        exec(compile(block, f"{GUIDE.name}[block {n}]", "exec"), namespace)  # noqa: S102 - our own docs
    (info,) = namespace["qnodeos_drivers"]()
    assert info.name == "acme-visa" and info.platform == "generic"
    assert info.option_set.names == ("resource", "timeout", "node") and not info.accepts("seed")
    assert issubclass(namespace["TestAcmeSequencer"], namespace["QDeviceConformance"])
    assert issubclass(namespace["PulserStub"], namespace["FirmwareStub"])

"""Realism: the mock devices measured against the published experiments their presets reproduce.

``qnodeos validate`` (``qnodeos.commands.validate``) prints, per preset, each published figure (value,
error bar, source, how the paper reports it) next to the same figure measured on the mock devices,
through the OS and network stack where the figure is end-to-end, and says whether they agree.

* :mod:`.figures` — the published figures and the agreement rule;
* :mod:`.measure` — how each figure is measured on the mocks;
* :mod:`.rows` — which figure is checked on which preset (and which are pending);
* :mod:`.report` — running the rows, the table and its JSON form;
* :mod:`.plot` — the NV fidelity-vs-alpha curve against the papers' points (matplotlib).
"""
from .figures import Measured, Published
from .report import RowResult, validate
from .rows import PENDING, ROWS

__all__ = ["Published", "Measured", "RowResult", "validate", "ROWS", "PENDING"]

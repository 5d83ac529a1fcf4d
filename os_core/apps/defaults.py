"""Defaults of an application run, in one place: :func:`qnodeos.apps.runner.run_app_dir` and
``qnodeos run APP_DIR`` both take theirs from here, so the Python API and the command line behave
alike when told nothing.

* ``PRESET = "realistic"``: the mock devices' own default noise (``Node("mock-nv")`` and
  ``qnodeos run PROGRAM`` use it too); pass ``preset="ideal"`` / ``--preset ideal`` for noise-free runs.
* ``MODE = "processes"``: every node in its own OS process, so a role that hangs or exits cannot take
  the caller down; ``mode="threads"`` / ``--mode threads`` runs all nodes in the calling process (faster
  to start).
* Time-outs: the whole run (``TIMEOUT_S``, wall-clock seconds); how long an entanglement request may
  wait to be accepted by its peer (``REQUEST_TIMEOUT_S``, seconds of *simulated* time; None: no limit —
  a request nobody will ever answer still ends as soon as the whole network has nothing left to do);
  and one classical receive waiting for a peer whose process may have died (``RECV_TIMEOUT_S``,
  wall-clock seconds).
"""
from __future__ import annotations

PLATFORM = "nv"
PRESET = "realistic"
MODE = "processes"
TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S: float | None = None
RECV_TIMEOUT_S = 60.0

PLATFORMS = ("nv", "trapped_ion")
PRESETS = ("realistic", "ideal")
MODES = ("processes", "threads")

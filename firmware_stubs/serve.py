"""Command-line serving of an emulated controller: print where it listens, run until Ctrl-C."""
from __future__ import annotations

import time
from typing import Any


def serve_until_interrupted(server: Any, description: str) -> None:
    """``server`` is already started; stop it cleanly on Ctrl-C."""
    print(f"serving {description} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()

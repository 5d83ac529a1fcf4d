import time
from pathlib import Path


def main(app_config=None, marker="", how="spin"):
    """Never returns on its own: spins in Python code, or sleeps inside C code (how="sleep")."""
    if marker:
        Path(marker).write_text("started")
    if how == "sleep":
        time.sleep(20)  # not stoppable from Python in threads mode; bounded so a test process is not held for long
        return "woke up"
    while True:
        pass

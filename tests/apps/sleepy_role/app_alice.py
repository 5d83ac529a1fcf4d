import time


def main(app_config=None, seconds=5.0):
    """Takes longer than the run's time-out (a host stuck in its own code)."""
    time.sleep(seconds)
    return {"slept": seconds}

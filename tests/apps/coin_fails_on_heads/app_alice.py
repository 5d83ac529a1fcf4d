from netqasm.sdk import Qubit
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None):
    """Flips a quantum coin; raises on heads, so that a series of runs has failed runs among good ones."""
    with NetQASMConnection(app_config.app_name, log_config=app_config.log_config) as conn:
        q = Qubit(conn)
        q.H()
        m = q.measure()
        conn.flush()
    if int(m) == 1:
        raise RuntimeError("heads: this run fails on purpose")
    return {"m": int(m)}

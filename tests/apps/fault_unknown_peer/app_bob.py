from netqasm.sdk import Qubit
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None):
    """A healthy neighbour: its node must keep working."""
    with NetQASMConnection(app_config.app_name, log_config=app_config.log_config) as conn:
        q = Qubit(conn)
        q.X()
        m = q.measure()
    return {"m": int(m)}

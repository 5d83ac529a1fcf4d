from netqasm.sdk import Qubit
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None):
    """Local work on alice's node: must not be disturbed by alice's failing request."""
    outcomes = []
    with NetQASMConnection("carol", log_config=app_config.log_config) as conn:
        for _ in range(5):
            q = Qubit(conn)
            q.X()
            outcomes.append(q.measure())
            conn.flush()
    return {"outcomes": [int(m) for m in outcomes]}

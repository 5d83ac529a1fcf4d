"""A local application on alice's node: gates on a memory qubit, subroutine after subroutine."""
from netqasm.sdk import Qubit
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None, rounds=20, gates=10):
    outcomes = []
    with NetQASMConnection("local", log_config=app_config.log_config) as conn:
        for _ in range(int(rounds)):
            q = Qubit(conn, virtual_address=1)  # a memory qubit (NV: a carbon)
            for _ in range(int(gates)):
                q.X()
            outcomes.append(q.measure())
            conn.flush()
    return {"outcomes": [int(m) for m in outcomes]}

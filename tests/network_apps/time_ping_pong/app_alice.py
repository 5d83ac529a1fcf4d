"""alice: a subroutine, then ping bob and wait for his pong, then another subroutine."""
from netqasm.sdk import Qubit
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config=None):
    socket = Socket("alice", "bob")
    with NetQASMConnection("alice", log_config=app_config.log_config) as conn:
        q = Qubit(conn)
        q.X()
        first = q.measure()
        conn.flush()
        socket.send("ping")
        assert socket.recv() == "pong"
        q = Qubit(conn)
        second = q.measure()
        conn.flush()
    return {"first": int(first), "second": int(second)}

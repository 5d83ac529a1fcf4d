"""bob: answers alice's ping with a subroutine of his own, then a pong."""
from netqasm.sdk import Qubit
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config=None):
    socket = Socket("bob", "alice")
    with NetQASMConnection("bob", log_config=app_config.log_config) as conn:
        assert socket.recv() == "ping"
        q = Qubit(conn)
        q.H()
        m = q.measure()
        conn.flush()
        socket.send("pong")
    return {"m": int(m)}

import time
from pathlib import Path

from netqasm.sdk import EPRSocket, Qubit
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config=None, marker="", go=""):
    """One local round trip (after it, every node has joined the timeline), a signal to the test, a
    wait for the test's go, then an entangled pair with the receiver and its outcome sent over."""
    socket = Socket("sender", "receiver")
    epr_socket = EPRSocket("receiver")
    with NetQASMConnection("sender", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        q = Qubit(conn)
        q.X()
        local = q.measure()
        conn.flush()
        if marker:
            Path(marker).write_text("ready")
            end = time.monotonic() + 60
            while go and not Path(go).exists() and time.monotonic() < end:
                time.sleep(0.01)
        epr = epr_socket.create_keep()[0]
        m = epr.measure()
        conn.flush()
    socket.send(str(int(m)))
    return {"local": int(local), "epr": int(m)}

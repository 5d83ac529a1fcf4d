"""Server of the delegated computation: keeps its half, waits for the client's outcome, then applies
the corresponding gate and measures (a second subroutine)."""
from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config=None):
    epr_socket = EPRSocket("client")
    socket = Socket("server", "client")
    with NetQASMConnection("server", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        q = epr_socket.recv_keep()[0]
        conn.flush()
        if socket.recv() == "1":
            q.Z()
        q.H()
        m = q.measure()
        conn.flush()
    return {"m": int(m)}

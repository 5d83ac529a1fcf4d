"""Delegated computation (QNodeOS's two-node demonstration, in shape): the client measures its half
of a pair in a rotated basis and sends the outcome to the server."""
from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config=None, theta=0.5):
    epr_socket = EPRSocket("server")
    socket = Socket("client", "server")
    with NetQASMConnection("client", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        q = epr_socket.create_keep()[0]
        q.rot_Z(angle=float(theta))
        q.H()
        m = q.measure()
        conn.flush()
        socket.send(str(int(m)))
    return {"m": int(m)}

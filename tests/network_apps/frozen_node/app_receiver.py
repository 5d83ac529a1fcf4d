from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config=None):
    socket = Socket("receiver", "sender")
    epr_socket = EPRSocket("sender")
    with NetQASMConnection("receiver", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        epr = epr_socket.recv_keep()[0]
        m = epr.measure()
        conn.flush()
    return {"epr": int(m), "sender_says": int(socket.recv())}

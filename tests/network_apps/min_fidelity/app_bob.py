from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None, min_fidelity=99):
    epr_socket = EPRSocket("alice", min_fidelity=min_fidelity)
    with NetQASMConnection("bob", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        q = epr_socket.recv_keep()[0]
        m = q.measure()
        conn.flush()
    return {"m": int(m)}

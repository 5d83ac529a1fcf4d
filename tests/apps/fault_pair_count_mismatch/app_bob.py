from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None):
    epr_socket = EPRSocket("alice")
    with NetQASMConnection(app_config.app_name, log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        q = epr_socket.recv_keep(number=1)[0]  # alice creates two
        m = q.measure()
        conn.flush()
    return {"m": int(m)}

from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None, peer="nobody"):
    epr_socket = EPRSocket(peer)  # no application of that name in the network
    with NetQASMConnection(app_config.app_name, log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        q = epr_socket.create_keep()[0]
        m = q.measure()
        conn.flush()
    return {"m": int(m)}

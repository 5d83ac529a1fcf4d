from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None):
    epr_socket = EPRSocket("bob")
    with NetQASMConnection(app_config.app_name, log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        qs = epr_socket.create_keep(number=2)
        ms = [q.measure() for q in qs]
        conn.flush()
    return {"m": [int(m) for m in ms]}

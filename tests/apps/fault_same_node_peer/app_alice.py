from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None):
    epr_socket = EPRSocket("carol")  # carol runs on alice's own node (roles.yaml)
    with NetQASMConnection(app_config.app_name, log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        q = epr_socket.create_keep()[0]
        m = q.measure()
        conn.flush()
    return {"m": int(m)}

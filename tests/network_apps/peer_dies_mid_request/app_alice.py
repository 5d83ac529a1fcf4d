from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None, pairs=2000):
    epr_socket = EPRSocket("bob")
    with NetQASMConnection("alice", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        results = epr_socket.create_measure(number=pairs)
        conn.flush()
    return {"pairs": len(results)}

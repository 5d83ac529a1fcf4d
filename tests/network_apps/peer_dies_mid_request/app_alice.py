from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config=None, pairs=2000):
    epr_socket = EPRSocket("bob")
    started = Socket("alice", "bob", log_config=app_config.log_config)
    with NetQASMConnection("alice", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        results = epr_socket.create_measure(number=pairs)
        started.send("requesting")  # bob's node dies a while after this, with the request under way
        conn.flush()
    return {"pairs": len(results)}

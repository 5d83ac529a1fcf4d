"""bob: receives alice's pairs."""
from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None, pairs=3):
    epr_socket = EPRSocket("alice")
    with NetQASMConnection("bob", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        if int(pairs) == 0:  # this run leaves the link idle
            return {"pairs": 0}
        results = epr_socket.recv_measure(number=int(pairs))
        conn.flush()
    return {"pairs": len(results)}

"""bob: per round, receive his half, wait for alice's "go", then measure in the X basis."""
from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config=None, rounds=10):
    epr_socket = EPRSocket("alice")
    socket = Socket("bob", "alice")
    outcomes = []
    with NetQASMConnection("bob", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        for _ in range(int(rounds)):
            q = epr_socket.recv_keep()[0]
            conn.flush()
            assert socket.recv() == "go"
            q.H()
            m = q.measure()
            conn.flush()
            outcomes.append(int(m))
    return {"outcomes": outcomes}

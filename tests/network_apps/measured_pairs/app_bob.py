from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None, pairs=8):
    """Receive ``pairs`` entangled pairs and measure each half at once (racing alice, in wall-clock time)."""
    epr_socket = EPRSocket("alice")
    outcomes = []
    with NetQASMConnection("bob", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        for _ in range(pairs):
            m = epr_socket.recv_keep()[0].measure()
            conn.flush()
            outcomes.append(int(m))
    return outcomes

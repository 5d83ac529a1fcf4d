from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None, pairs=8):
    """Create ``pairs`` entangled pairs one after another and measure each half at once."""
    epr_socket = EPRSocket("bob")
    outcomes = []
    with NetQASMConnection("alice", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        for _ in range(pairs):
            m = epr_socket.create_keep()[0].measure()
            conn.flush()
            outcomes.append(int(m))
    return outcomes

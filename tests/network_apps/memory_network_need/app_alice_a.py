"""alice_a: a pair with bob_a, kept on alice's electron while her host waits for bob_b's "go"; then
both halves are read in the X basis (equal outcomes only if the pair kept its coherence)."""
from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config=None):
    go = Socket("alice_a", "bob_b")
    epr_socket = EPRSocket("bob_a")
    with NetQASMConnection("alice_a", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        epr = epr_socket.create_keep()[0]
        conn.flush()
        assert go.recv() == "go"
        epr.H()
        m = epr.measure()
        conn.flush()
    return {"m": int(m)}

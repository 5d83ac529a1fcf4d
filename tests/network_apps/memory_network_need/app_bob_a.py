"""bob_a: receives alice_a's pair and holds it (the electron) until bob_b got a pair of its own."""
from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config=None):
    to_alice_b, with_bob_b = Socket("bob_a", "alice_b"), Socket("bob_a", "bob_b")
    epr_socket = EPRSocket("alice_a")
    with NetQASMConnection("bob_a", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        epr = epr_socket.recv_keep()[0]
        conn.flush()
        to_alice_b.send("ready")
        with_bob_b.send("ready")
        assert with_bob_b.recv() == "go"
        epr.H()
        m = epr.measure()
        conn.flush()
    return {"m": int(m)}

"""bob_b: receives alice_b's pair (which needs bob's electron, held by bob_a), then says "go"."""
from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config=None):
    with_bob_a, to_alice_a = Socket("bob_b", "bob_a"), Socket("bob_b", "alice_a")
    epr_socket = EPRSocket("alice_b")
    with NetQASMConnection("bob_b", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        assert with_bob_a.recv() == "ready"
        epr = epr_socket.recv_keep()[0]
        m = epr.measure()
        conn.flush()
        to_alice_a.send("go")
        with_bob_a.send("go")
    return {"m": int(m)}

"""alice_b: once bob_a holds its pair, asks bob_b for another one on the same link."""
from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config=None):
    ready = Socket("alice_b", "bob_a")
    epr_socket = EPRSocket("bob_b")
    with NetQASMConnection("alice_b", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        assert ready.recv() == "ready"
        epr = epr_socket.create_keep()[0]
        m = epr.measure()
        conn.flush()
    return {"m": int(m)}

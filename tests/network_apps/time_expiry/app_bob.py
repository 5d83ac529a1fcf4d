"""bob: receives the pairs and measures them all."""
from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None, pairs=2):
    epr_socket = EPRSocket("alice")
    with NetQASMConnection("bob", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        qubits = epr_socket.recv_keep(number=int(pairs))
        outcomes = [q.measure() for q in qubits]
        conn.flush()
    return {"outcomes": [int(m) for m in outcomes]}

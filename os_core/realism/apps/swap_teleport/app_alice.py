"""The receiver: its half of the teleporter comes from a pair with bob that bob swaps onto charlie;
applies the Pauli frame of both Bell-state measurements (bob's swap, charlie's teleportation) and
reports the state it holds (simulation-only introspection, as netqasm's teleport example does)."""
from typing import Any

from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection, Socket, get_qubit_state


def main(app_config: Any = None) -> dict[str, Any]:
    from_bob = Socket("alice", "bob", log_config=app_config.log_config)
    from_charlie = Socket("alice", "charlie", log_config=app_config.log_config)
    epr_bob = EPRSocket("bob")
    with NetQASMConnection("alice", log_config=app_config.log_config, epr_sockets=[epr_bob]) as conn:
        qubit = epr_bob.recv_keep()[0]
        conn.flush()
        b1, b2 = from_bob.recv_structured().payload
        c1, c2 = from_charlie.recv_structured().payload
        # each measurement leaves X^m2 Z^m1 to undo; Paulis commute up to a global phase
        if b2 ^ c2:
            qubit.X()
        if b1 ^ c1:
            qubit.Z()
        conn.flush()
        received = get_qubit_state(qubit)
    return {"swap": [b1, b2], "teleport": [c1, c2], "received_state": received.tolist()}

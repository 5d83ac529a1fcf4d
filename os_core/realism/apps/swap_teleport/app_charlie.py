"""The sender: once its link to bob is heralded (the teleporter is then established: bob swaps
deterministically), prepares the state to teleport, measures it with its half of the teleporter in
the Bell basis and forwards the outcomes to alice. The state never waits for entanglement."""
from typing import Any

from netqasm.sdk import EPRSocket, Qubit
from netqasm.sdk.classical_communication.message import StructuredMessage
from netqasm.sdk.external import NetQASMConnection, Socket
from netqasm.sdk.toolbox import set_qubit_state


def main(app_config: Any = None, phi: float = 0.0, theta: float = 0.0) -> dict[str, Any]:
    to_alice = Socket("charlie", "alice", log_config=app_config.log_config)
    epr_bob = EPRSocket("bob")
    with NetQASMConnection("charlie", log_config=app_config.log_config, epr_sockets=[epr_bob]) as conn:
        teleporter = epr_bob.recv_keep()[0]
        state = Qubit(conn)  # inserted after the teleporter is heralded, in the same subroutine
        set_qubit_state(state, float(phi), float(theta))
        state.cnot(teleporter)
        state.H()
        m1, m2 = state.measure(), teleporter.measure()
        conn.flush()
        outcomes = (int(m1), int(m2))
        to_alice.send_structured(StructuredMessage("teleport", outcomes))
    return {"m1": outcomes[0], "m2": outcomes[1]}

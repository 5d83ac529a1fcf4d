"""Teleportation receiver: applies the corrections and returns the state it holds (mock hardware lets
us look), so the demo can report the teleportation fidelity."""
from typing import Any

from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection, Socket, get_qubit_state


def main(app_config: Any = None) -> dict[str, Any]:
    socket = Socket("receiver", "sender", log_config=app_config.log_config)
    epr_socket = EPRSocket("sender")
    with NetQASMConnection("receiver", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        epr = epr_socket.recv_keep()[0]
        conn.flush()
        m1, m2 = (int(x) for x in socket.recv().split(","))
        if m2 == 1:
            epr.X()
        if m1 == 1:
            epr.Z()
        conn.flush()
        state = get_qubit_state(epr)
        epr.measure()
    return {"state": None if state is None else [[complex(x) for x in row] for row in state]}

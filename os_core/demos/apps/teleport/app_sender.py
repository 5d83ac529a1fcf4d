"""Teleportation sender: prepares R_z(phi) R_y(theta)|0>, Bell-measures it with its EPR half, sends m1, m2.

The pair is made first and the state prepared after: on NV the state would otherwise wait in a carbon
through thousands of entanglement attempts, each of which dephases it."""
from typing import Any

from netqasm.sdk import EPRSocket, Qubit
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config: Any = None, phi: float = 0.0, theta: float = 0.0) -> dict[str, Any]:
    socket = Socket("sender", "receiver", log_config=app_config.log_config)
    epr_socket = EPRSocket("receiver")
    with NetQASMConnection("sender", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        epr = epr_socket.create_keep()[0]
        q = Qubit(conn)
        q.rot_Y(angle=theta)
        q.rot_Z(angle=phi)
        q.cnot(epr)
        q.H()
        m1, m2 = q.measure(), epr.measure()
    socket.send(f"{int(m1)},{int(m2)}")
    return {"m1": int(m1), "m2": int(m2)}

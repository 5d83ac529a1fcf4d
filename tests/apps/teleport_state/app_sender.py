"""Teleport cos(theta/2)|0> + e^{i phi} sin(theta/2)|1> to the receiver (plain NetQASM SDK code)."""
from netqasm.sdk import EPRSocket, Qubit
from netqasm.sdk.classical_communication.message import StructuredMessage
from netqasm.sdk.external import NetQASMConnection, Socket
from netqasm.sdk.toolbox import set_qubit_state


def main(app_config=None, phi=0.0, theta=0.0):
    socket = Socket("sender", "receiver", log_config=app_config.log_config)
    epr_socket = EPRSocket("receiver")
    sender = NetQASMConnection(app_name=app_config.app_name, log_config=app_config.log_config,
                               epr_sockets=[epr_socket])
    with sender:
        q = Qubit(sender)
        set_qubit_state(q, phi, theta)
        epr = epr_socket.create_keep()[0]
        q.cnot(epr)
        q.H()
        m1 = q.measure()
        m2 = epr.measure()
    m1, m2 = int(m1), int(m2)
    socket.send_structured(StructuredMessage("Corrections", (m1, m2)))
    return {"m1": m1, "m2": m2}

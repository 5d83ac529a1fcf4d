"""Receive a teleported qubit, apply the corrections and return its state (simulation-only introspection)."""
from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection, Socket, get_qubit_state


def main(app_config=None):
    socket = Socket("receiver", "sender", log_config=app_config.log_config)
    epr_socket = EPRSocket("sender")
    receiver = NetQASMConnection(app_name=app_config.app_name, log_config=app_config.log_config,
                                 epr_sockets=[epr_socket])
    with receiver:
        epr = epr_socket.recv_keep()[0]
        receiver.flush()
        m1, m2 = socket.recv_structured().payload
        if m2 == 1:
            epr.X()
        if m1 == 1:
            epr.Z()
        receiver.flush()
        dm = get_qubit_state(epr)
    return {"m1": m1, "m2": m2, "state": None if dm is None else dm.tolist()}

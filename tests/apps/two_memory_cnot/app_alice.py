"""One node, three qubits: the first is measured (freed), then a CNOT between the other two.

On NV the SDK's transpiler routes a gate between two memory (carbon) qubits through the electron,
which it addresses as virtual qubit 0 (``swp Q2 Q0``) even though the application freed it.
"""
from netqasm.sdk import Qubit
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None, free_first=True):
    with NetQASMConnection(app_config.app_name, log_config=app_config.log_config) as conn:
        q0 = Qubit(conn)
        q1 = Qubit(conn)
        q2 = Qubit(conn)
        if free_first:
            m0 = q0.measure()
        q1.X()
        q1.cnot(q2)
        m1 = q1.measure()
        m2 = q2.measure()
        if not free_first:
            m0 = q0.measure()
    return {"m0": int(m0), "m1": int(m1), "m2": int(m2)}

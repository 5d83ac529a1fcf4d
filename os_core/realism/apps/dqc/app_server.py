"""Server of the delegated computation (see app_client.py): per repetition, one subroutine that
makes the pair and keeps its half (S1), then, once the client's ``delta`` is in, one that rotates
the kept qubit by ``delta`` and measures it in the X basis (S2). Outcome 0 has probability
cos^2(alpha/2) on ideal hardware: the effective computation, on the server, of a state the client
chose without telling the server ``alpha``."""
from typing import Any

from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config: Any = None, k: int = 1) -> dict[str, Any]:
    socket = Socket("server", "client", log_config=app_config.log_config)
    epr_socket = EPRSocket("client")
    outcomes = []
    with NetQASMConnection("server", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        for _ in range(int(k)):
            q = epr_socket.recv_keep()[0]  # S1
            conn.flush()
            delta_n = int(socket.recv())
            q.rot_Z(n=delta_n, d=2)  # S2
            q.H()
            m = q.measure()
            conn.flush()
            outcomes.append(int(m))
    return {"outcomes": outcomes}

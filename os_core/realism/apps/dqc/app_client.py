"""Client of the delegated computation (QNodeOS's DQC, Delle Donne et al., Nature 639, 321 (2025),
Fig. 4a): per repetition, one subroutine that makes a pair with the server and measures its half in a
basis rotated by ``theta`` (C1), then the angle ``delta`` sent to the server. The server ends up
holding |+_alpha> = (|0> + e^{i alpha}|1>)/sqrt(2) whatever ``theta`` and the outcome were.

Angles are whole multiples of pi/4 (``alpha_n``, ``theta_n``), so every rotation is exact on NV
(whose gates take multiples of pi/16)."""
from typing import Any

from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config: Any = None, k: int = 1, alpha_n: int = 0, theta_n: int = 1) -> dict[str, Any]:
    socket = Socket("client", "server", log_config=app_config.log_config)
    epr_socket = EPRSocket("server")
    outcomes = []
    with NetQASMConnection("client", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        for _ in range(int(k)):
            # C1: the pair, then a measurement of the client's half in the basis |+-_theta>
            q = epr_socket.create_keep()[0]
            q.rot_Z(n=(-int(theta_n)) % 8, d=2)
            q.H()
            m = q.measure()
            conn.flush()
            # the server holds |+_{m pi - theta}>: delta turns it into |+_alpha>
            delta_n = (int(alpha_n) + int(theta_n) - 4 * int(m)) % 8
            socket.send(str(delta_n))
            outcomes.append(int(m))
    return {"outcomes": outcomes}

"""Receiving side of the pair-rate measurement."""
from typing import Any

from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection


def main(app_config: Any = None, n: int = 20) -> dict[str, Any]:
    epr_socket = EPRSocket("alice")
    with NetQASMConnection("bob", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        results = epr_socket.recv_measure(number=int(n))
        conn.flush()
    return {"pairs": len(results)}

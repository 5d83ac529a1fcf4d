from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None, when="before_recv"):
    """Fails on purpose: before it ever connects, after connecting but before ``recv_keep``, or while
    holding its half of the pair."""
    if when == "before_connect":
        raise RuntimeError("bob fails before connecting")
    epr_socket = EPRSocket("alice")
    with NetQASMConnection(app_config.app_name, log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        if when == "before_recv":
            raise RuntimeError("bob fails before recv_keep")
        q = epr_socket.recv_keep()[0]
        conn.flush()
        raise RuntimeError("bob fails holding its qubit")
    return q

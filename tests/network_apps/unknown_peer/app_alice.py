from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None):
    epr_socket = EPRSocket("mallory")  # no such application in the network
    with NetQASMConnection("alice", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        q = epr_socket.create_keep()[0]
        q.measure()
        conn.flush()

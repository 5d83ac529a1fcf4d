import os

from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None, crash=True):
    epr_socket = EPRSocket("alice")
    with NetQASMConnection("bob", log_config=app_config.log_config, epr_sockets=[epr_socket]):
        if crash:
            os._exit(3)  # the whole node process dies before it ever receives
        q = epr_socket.recv_keep()[0]
        q.measure()

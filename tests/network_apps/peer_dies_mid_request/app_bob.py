import os
import threading

from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection


def main(app_config=None, pairs=2000, die_after_s=0.3):
    epr_socket = EPRSocket("alice")
    with NetQASMConnection("bob", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        threading.Timer(die_after_s, os._exit, args=(3,)).start()  # the node process is killed mid-request
        epr_socket.recv_measure(number=pairs)
        conn.flush()

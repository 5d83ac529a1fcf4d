import os
import threading

from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config=None, pairs=2000, die_after_s=0.3):
    epr_socket = EPRSocket("alice")
    started = Socket("bob", "alice", log_config=app_config.log_config)
    with NetQASMConnection("bob", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        started.recv()  # alice is about to submit her request: a slow start cannot make bob die first
        threading.Timer(die_after_s, os._exit, args=(3,)).start()  # the node process is killed mid-request
        epr_socket.recv_measure(number=pairs)
        conn.flush()

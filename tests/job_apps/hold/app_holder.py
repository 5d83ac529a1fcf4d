"""Holds an entangled pair with `partner` and keeps its node busy (one gate per subroutine) until the
file named by `release` exists, or `rounds` subroutines have run: a job that stays running, with an
entry in both nodes' entanglement tables and a utilisation that changes, for as long as a test needs."""
import os

from netqasm.sdk import EPRSocket, Qubit
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config=None, release="", rounds=200_000):
    socket = Socket("holder", "partner", log_config=app_config.log_config)
    epr_socket = EPRSocket("partner")
    with NetQASMConnection("holder", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        epr = epr_socket.create_keep()[0]
        conn.flush()
        q = Qubit(conn)
        done = 0
        while done < rounds and not (release and os.path.exists(release)):
            q.H()
            conn.flush()
            done += 1
        m = q.measure()
        e = epr.measure()
        conn.flush()
    socket.send(str(int(e)))
    return {"rounds": done, "epr": int(e), "m": int(m)}

"""The other half of `holder`'s pair: keeps it until `holder` is done, then measures it."""
from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config=None):
    socket = Socket("partner", "holder", log_config=app_config.log_config)
    epr_socket = EPRSocket("holder")
    with NetQASMConnection("partner", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        epr = epr_socket.recv_keep()[0]
        conn.flush()
        theirs = int(socket.recv())
        mine = epr.measure()
        conn.flush()
    return {"epr": int(mine), "agree": int(mine) == theirs}

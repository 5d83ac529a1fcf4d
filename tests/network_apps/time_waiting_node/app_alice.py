"""alice: per round, measure her half of a fresh pair in the X basis at once, keep the device busy
with ``busy`` gates on another qubit, then tell bob to measure his half."""
from netqasm.sdk import EPRSocket, Qubit
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config=None, rounds=10, busy=0):
    epr_socket = EPRSocket("bob")
    socket = Socket("alice", "bob")
    outcomes = []
    with NetQASMConnection("alice", log_config=app_config.log_config, epr_sockets=[epr_socket]) as conn:
        for _ in range(int(rounds)):
            q = epr_socket.create_keep()[0]
            q.H()
            m = q.measure()
            conn.flush()
            if int(busy):
                other = Qubit(conn)
                for _ in range(int(busy)):
                    other.X()
                other.measure()
                conn.flush()
            outcomes.append(int(m))
            socket.send("go")
    return {"outcomes": outcomes}

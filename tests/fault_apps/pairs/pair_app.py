"""One creator/receiver application pair of the fault-injection tests (plain NetQASM SDK code).

Roles ``alice<k>`` (on node alice) and ``bob<k>`` (on node bob) talk over EPR socket ``k`` and classical
socket ``k``, so several pairs run side by side without sharing a socket. Each pair: ``rounds``
create-and-keep pairs measured in Z (the creator then sends its outcomes to the receiver),
one measure-directly request of ``pairs`` pairs, then the teleportation of |1> (the receiver applies
the corrections and measures). On a perfect Phi+ link (trapped ions, ideal preset) both sides'
outcomes are equal and the teleported bit is 1. A classical message that arrives twice or out of
order makes the receiver raise (it checks each message's header).
"""
import re

from netqasm.sdk import EPRSocket, Qubit
from netqasm.sdk.classical_communication.message import StructuredMessage
from netqasm.sdk.external import NetQASMConnection, Socket


def _k(app_config):
    return int(re.sub(r"\D", "", app_config.app_name))


def creator(app_config, rounds=2, pairs=3):
    k = _k(app_config)
    peer = f"bob{k}"
    socket = Socket(app_config.app_name, peer, socket_id=k, log_config=app_config.log_config)
    epr_socket = EPRSocket(peer, epr_socket_id=k, remote_epr_socket_id=k)
    conn = NetQASMConnection(app_config.app_name, log_config=app_config.log_config, epr_sockets=[epr_socket])
    keep = []
    with conn:
        for _ in range(rounds):
            q = epr_socket.create_keep(1)[0]
            m = q.measure()
            conn.flush()
            keep.append(int(m))
        socket.send_structured(StructuredMessage("keep", keep))  # like QKD sifting: compare notes,
        socket.send_structured(StructuredMessage("rounds", len(keep)))  # two messages back to back
        measured = epr_socket.create_measure(number=pairs)
        conn.flush()
        md = [int(p.measurement_outcome) for p in measured]
        q = Qubit(conn)
        q.X()
        epr = epr_socket.create_keep(1)[0]
        q.cnot(epr)
        q.H()
        m1, m2 = q.measure(), epr.measure()
        conn.flush()
        m1, m2 = int(m1), int(m2)
    socket.send_structured(StructuredMessage("corrections", (m1, m2)))
    ack = socket.recv()
    return {"keep": keep, "md": md, "m": [m1, m2], "ack": ack}


def receiver(app_config, rounds=2, pairs=3):
    k = _k(app_config)
    peer = f"alice{k}"
    socket = Socket(app_config.app_name, peer, socket_id=k, log_config=app_config.log_config)
    epr_socket = EPRSocket(peer, epr_socket_id=k, remote_epr_socket_id=k)
    conn = NetQASMConnection(app_config.app_name, log_config=app_config.log_config, epr_sockets=[epr_socket])
    keep = []
    with conn:
        for _ in range(rounds):
            q = epr_socket.recv_keep(1)[0]
            m = q.measure()
            conn.flush()
            keep.append(int(m))
        theirs = socket.recv_structured()
        count = socket.recv_structured()
        if (theirs.header, count.header) != ("keep", "rounds"):
            raise ValueError(f"expected the creator's outcomes then their count, got {theirs.header}: "
                             f"{theirs.payload} then {count.header}: {count.payload}")
        measured = epr_socket.recv_measure(number=pairs)
        conn.flush()
        md = [int(p.measurement_outcome) for p in measured]
        epr = epr_socket.recv_keep(1)[0]
        conn.flush()
        corrections = socket.recv_structured()
        if corrections.header != "corrections":
            raise ValueError(f"expected the corrections, got {corrections.header}: {corrections.payload}")
        m1, m2 = corrections.payload
        if m2 == 1:
            epr.X()
        if m1 == 1:
            epr.Z()
        t = epr.measure()
        conn.flush()
        t = int(t)
    socket.send("ack")
    return {"keep": keep, "md": md, "teleported": t, "creator_keep": list(theirs.payload)}

"""The middle node of teleportation between non-neighbouring nodes (Hermans et al., Nature 605, 663
(2022)): entangles with alice and keeps its half in memory while it entangles with charlie, then
swaps (Bell-state measurement of its two halves) and forwards the outcomes to alice, who corrects."""
from typing import Any

from netqasm.sdk import EPRSocket
from netqasm.sdk.classical_communication.message import StructuredMessage
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config: Any = None) -> dict[str, Any]:
    to_alice = Socket("bob", "alice", log_config=app_config.log_config)
    epr_alice, epr_charlie = EPRSocket("alice"), EPRSocket("charlie")
    with NetQASMConnection("bob", log_config=app_config.log_config, epr_sockets=[epr_alice, epr_charlie]) as conn:
        with_alice = epr_alice.create_keep()[0]  # held in memory through the second link
        with_charlie = epr_charlie.create_keep()[0]
        with_alice.cnot(with_charlie)
        with_alice.H()
        m1, m2 = with_alice.measure(), with_charlie.measure()
        conn.flush()
        swap = (int(m1), int(m2))
        to_alice.send_structured(StructuredMessage("swap", swap))
    return {"m1": swap[0], "m2": swap[1]}

"""Encoding of HAL objects for RPC (msgpack-friendly dicts): instructions, responses, capabilities."""
from __future__ import annotations

from typing import Any

from qnodeos.hal import BellState, Response, Status
from qnodeos.hal.instructions import from_dict, to_dict


def response_to_wire(resp: Response) -> dict[str, Any]:
    return {"i": to_dict(resp.instruction), "s": resp.status.value, "t0": resp.start_ns, "t1": resp.end_ns,
            "o": resp.outcome, "b": None if resp.bell_state is None else resp.bell_state.value,
            "a": resp.attempts, "p": resp.pair_id, "m": resp.message}


def response_from_wire(data: dict[str, Any]) -> Response:
    return Response(from_dict(data["i"]), Status(data["s"]), data["t0"], data["t1"], data["o"],
                    None if data["b"] is None else BellState(data["b"]), data["a"], data["p"], data["m"])

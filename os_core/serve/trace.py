"""The timeline of one application run on served nodes, from the nodes' own traces."""
from __future__ import annotations

from typing import Any, Mapping

from ..trace import network_trace


def served_trace(links: Mapping[str, Any], since_ns: Mapping[str, int], roles: list[str],
                 meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every node's rows since ``since_ns[node]`` (its device time when the run began) of the
    application's ``roles`` and of the node's network process, as a network trace (what ``qnodeos run
    APP_DIR --trace`` writes). Other applications' rows on the same nodes are left out."""
    traces = {node: link.timeline(since_ns.get(node, 0), list(roles)) for node, link in links.items()}
    return network_trace(traces, meta)

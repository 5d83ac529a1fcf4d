"""Served networks: the world, each node and the application hosts as separate long-lived processes.

``qnodeos world NET`` and ``qnodeos serve NET --node N`` start the parts (:mod:`.processes`),
``qnodeos up NET`` starts them all as its children (:mod:`.launcher`), and ``qnodeos run APP_DIR
--network NET`` runs an application's hosts against the running nodes (:func:`connect_hosts`). Where
each part listens and which keys they trust is the ``[serve]`` table of the network TOML
(:mod:`.deployment`).
"""
from __future__ import annotations

from typing import Any

from .deployment import HOSTS, WORLD, Deployment, DeploymentError, NodePlace, is_served_network

__all__ = ["Deployment", "DeploymentError", "NodePlace", "HOSTS", "WORLD", "connect_hosts", "is_served_network"]


def connect_hosts(deployment: Deployment, nodes: list[str] | None = None, *,
                  timeout_s: float = 600.0) -> dict[str, Any]:
    """One authenticated host link per node of ``nodes`` (default: every node), as the ``hosts`` key of
    ``deployment``: node name -> :class:`~qnodeos.network.host_link.RemoteNodeService`; ``timeout_s``:
    how long (wall clock) a link waits for its node to answer."""
    from ..network.host_link import RemoteNodeService

    keys = deployment.keys(HOSTS)
    links: dict[str, Any] = {}
    try:
        for name in nodes if nodes is not None else list(deployment.nodes):
            links[name] = RemoteNodeService(deployment.nodes[name].hosts, server_key=keys.peers[name],
                                            keys=(keys.public, keys.secret), timeout_s=timeout_s)
    except BaseException:
        for link in links.values():
            link.close()
        raise
    return links

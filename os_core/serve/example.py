"""The network ``qnodeos up`` starts when given none: two mock NV nodes on loopback, with fresh keys.

The nodes are ``alice`` and ``bob``; ``[serve.roles]`` places netqasm's example applications' roles
(``sender``/``receiver``, ``client``/``server``) on them, so those directories run unchanged.
"""
from __future__ import annotations

from pathlib import Path

from ..apps.local_network import APP_DEVICE_SIZE
from ..network.keys import write_key_files
from .deployment import HOSTS, WORLD

NODES = ("alice", "bob")
EXAMPLE_ROLES = {"sender": "alice", "receiver": "bob", "client": "alice", "server": "bob"}
#: as many carbons as `qnodeos run APP_DIR` gives NV nodes (netqasm's blind computations hold 4 qubits)
CARBONS = APP_DEVICE_SIZE["nv"]["carbons"]
#: Ports of the example from ``first_port``: the world's 3 per node, then 2 per node (mailbox, hosts).
PORTS_USED = 20


def example_network_text(first_port: int, keys: str = "keys") -> str:
    if not 1024 <= first_port <= 65535 - PORTS_USED:
        raise ValueError(f"first port {first_port} is outside 1024..{65535 - PORTS_USED}")
    lines = ['description = "two mock NV nodes served on loopback (qnodeos up)"', ""]
    for name in NODES:
        lines += [f"[nodes.{name}]", 'driver = "mock-nv"', f'config = {{ preset = "realistic", carbons = {CARBONS} }}', ""]
    lines += ["[serve]", f'keys = "{keys}"', f'world = "tcp://127.0.0.1:{first_port}"', "seed = 1", "",
              "[serve.roles]", *(f'{role} = "{node}"' for role, node in EXAMPLE_ROLES.items()), ""]
    base = first_port + 3 * len(NODES) + 4
    for i, name in enumerate(NODES):
        lines += [f"[serve.nodes.{name}]", f'mailbox = "tcp://127.0.0.1:{base + 2 * i}"',
                  f'hosts = "tcp://127.0.0.1:{base + 2 * i + 1}"', ""]
    return "\n".join(lines)


def write_example_network(directory: str | Path, first_port: int = 7000) -> Path:
    """``directory/network.toml`` and its keys (``directory/keys``), unless they are there already
    (then they are used as they are: keys are secrets, and the file may have been edited)."""
    directory = Path(directory)
    path = directory / "network.toml"
    keys = directory / "keys"
    names = [*NODES, WORLD, HOSTS]
    if not all((keys / f"{n}.toml").is_file() for n in names):
        write_key_files(names, keys)
    if not path.exists():
        path.write_text(example_network_text(first_port), encoding="utf-8")
    return path

"""``qnodeos keys generate NODE...``: per-node CURVE key files for authenticated node links."""
from __future__ import annotations

import argparse
from pathlib import Path

from . import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("keys", help="generate per-node link keys (CURVE) for a network")
    sub = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    gen = sub.add_parser("generate", help="write one key file per node, each trusting the others")
    gen.add_argument("nodes", nargs="+", metavar="NODE")
    gen.add_argument("--out", type=Path, default=Path("keys"), help="directory for the <node>.toml files")
    gen.set_defaults(handler=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    from qnodeos.network.keys import write_key_files

    if len(set(args.nodes)) != len(args.nodes):
        raise CommandError("node names must be distinct")
    for name, path in write_key_files(args.nodes, args.out).items():
        print(f"{name}: {path}")
    return 0

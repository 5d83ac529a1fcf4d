"""``qnodeos keys generate NODE...``: per-node CURVE key files for authenticated node links.

Any node name that can be a file name inside ``--out`` is fine (spaces, dots, non-ASCII); names that
would leave the directory or break the file are refused, and existing key files (secrets) are kept
unless ``--force`` is given.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from . import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("keys", help="generate per-node link keys (CURVE) for a network")
    sub = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    gen = sub.add_parser("generate", help="write one key file per node, each trusting the others",
                         description="Write <out>/<node>.toml for every NODE: its CURVE key pair (secret, "
                                     "owner-only file) and the public keys of the other nodes.")
    gen.add_argument("nodes", nargs="+", metavar="NODE")
    gen.add_argument("--out", type=Path, default=Path("keys"), help="directory for the <node>.toml files")
    gen.add_argument("--force", action="store_true", help="replace existing key files (their secrets are lost)")
    gen.set_defaults(handler=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    from qnodeos.network.keys import write_key_files

    try:
        paths = write_key_files(args.nodes, args.out, overwrite=args.force)
    except FileExistsError as exc:
        raise CommandError(f"{exc}; pass --force to replace them") from None
    except (ValueError, OSError) as exc:
        raise CommandError(str(exc)) from None
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0

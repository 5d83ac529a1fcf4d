"""Serve an emulated qnodeos controller until Ctrl-C, backed by a registered simulated driver.

    python -m qnodeos.firmware_stubs --link tcp --port 5025 --device mock-nv --seed 1
    python -m qnodeos.firmware_stubs --link pty --device mock-trapped-ion   # prints the pty path

It prints the address to give the shim (a VISA resource for ``tcp``, a pyserial URL otherwise).
"""
from __future__ import annotations

import argparse

from qnodeos.hal.registry import DriverRegistry

from .controller import Controller
from .servers import SERVERS, serve_until_interrupted


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m qnodeos.firmware_stubs", description=__doc__.splitlines()[0])
    parser.add_argument("--link", choices=sorted(SERVERS), default="tcp",
                        help="tcp: text protocol for the VISA shim; socket or pty: framed protocol for the serial shim")
    parser.add_argument("--port", type=int, default=0, help="TCP port for tcp/socket links (0: any free port)")
    parser.add_argument("--device", default="mock-nv", help="a simulated driver behind the controller")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--node", default="node", help="node name of the device")
    args = parser.parse_args(argv)
    device = DriverRegistry.load().build(args.device, {}, node=args.node, seed=args.seed)
    server_cls = SERVERS[args.link]
    options = {} if args.link == "pty" else {"port": args.port}
    serve_until_interrupted(server_cls(Controller(device), **options).start(), args.device)


if __name__ == "__main__":
    main()

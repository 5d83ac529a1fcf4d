"""Emulated SEQ-9000 firmware for CI: the SEQ-9000 command set on qnodeos's FirmwareStub, with a qnodeos
mock device behind it, so the driver is tested over real pyvisa I/O with real (mock) physics.

Serve one by hand (prints the VISA resource and writes the calibration matching the emulated setup)::

    python -m qnodeos_driver_template.stub --port 5025 --calibration seq9000-cal.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from qnodeos.firmware_stubs.stub import CommandError, FirmwareStub, command
from qnodeos.hal import QDevice

from .protocol import MAKER, MODEL, decode_operation, encode_record


class Seq9000Stub(FirmwareStub):
    """The SEQ-9000 firmware: one operation per ``OP?`` line, run on ``device``."""

    program_separator = None  # one command per line, no SCPI program messages

    def __init__(self, device: QDevice, serial: str = "SEQ-0042", firmware: str = "3.1") -> None:
        super().__init__(device, idn=f"{MAKER},{MODEL},{serial},{firmware}")

    @command("CLK?")
    def clock(self, _: str) -> str:
        kind = "SIM" if getattr(self.device, "simulated", False) else "REAL"
        return f"{int(self.device.now_ns)} {kind}"

    @command("OP?")
    def operation(self, arg: str) -> str:
        try:
            instr = decode_operation(arg)
        except ValueError as exc:
            raise CommandError(-224, str(exc)) from None
        (response,) = self.run([instr])
        return encode_record(response)

    @command("RST")
    def reset(self, _: str) -> str:
        self.device.reset()
        return "DONE"


def calibration_of(device: QDevice) -> dict:
    """The calibration file contents describing ``device`` (what a lab measures on its setup)."""
    return device.capabilities.to_dict()


def main(argv: list[str] | None = None) -> None:
    from qnodeos.drivers.mock_nv import MockNVDevice
    from qnodeos.firmware_stubs.servers import ControllerTCPServer, serve_until_interrupted

    parser = argparse.ArgumentParser(description="Serve an emulated ACME SEQ-9000 backed by a mock NV node")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calibration", type=Path, required=True, help="write the setup's calibration here")
    args = parser.parse_args(argv)
    device = MockNVDevice.from_config(seed=args.seed)
    args.calibration.write_text(json.dumps(calibration_of(device)))
    server = ControllerTCPServer(Seq9000Stub(device), port=args.port).start()
    serve_until_interrupted(server, f"an emulated SEQ-9000 (calibration in {args.calibration})")


if __name__ == "__main__":
    main()

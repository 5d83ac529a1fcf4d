"""What a controller shim costs: round-trip latency and instructions/s through the VISA shim (pyvisa-py
over loopback TCP) and the serial shim (pyserial over a pty and over socket://), against the same mock
NV device called in process, all in one run.

    python benchmarks/bench_shims.py [--seconds 0.4] [--batch 500]

Each cell is measured for about ``--seconds`` of wall time; the whole run takes a few seconds.
Latency is the median of single ``execute`` calls; throughput uses ``execute_many`` batches.
"""
from __future__ import annotations

import argparse
import math
import statistics
import time
from contextlib import ExitStack, contextmanager
from typing import Callable, Iterator

from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.firmware_stubs.harness import served_serial, served_visa
from qnodeos.hal import Axis, QDevice, Rotate

INSTR = Rotate(0, Axis.X, math.pi / 2)


def _device() -> MockNVDevice:
    return MockNVDevice.from_config(seed=1, preset="ideal")


@contextmanager
def _in_process() -> Iterator[QDevice]:
    yield _device()


@contextmanager
def _visa() -> Iterator[QDevice]:
    with served_visa(_device()) as link:
        yield link.shim


@contextmanager
def _serial(transport: str) -> Iterator[QDevice]:
    with served_serial(_device(), transport=transport) as link:
        yield link.shim


def latency_us(dev: QDevice, seconds: float) -> float:
    """Median wall time of one ``execute`` round trip, in microseconds."""
    samples: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(samples) < 20:
        t = time.perf_counter()
        dev.execute(INSTR)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e6


def throughput(dev: QDevice, seconds: float, batch: int) -> float:
    """Instructions per second through ``execute_many`` with ``batch``-long sequences."""
    program = [INSTR] * batch
    done = 0
    start = time.perf_counter()
    while True:
        dev.execute_many(program)
        done += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and done >= 2 * batch:
            return done / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.4, help="wall time per measurement")
    parser.add_argument("--batch", type=int, default=500, help="instructions per execute_many call")
    args = parser.parse_args(argv)

    rigs: list[tuple[str, Callable[[], object]]] = [
        ("mock in process", _in_process),
        ("VISA shim (TCP)", _visa),
        ("serial shim (pty)", lambda: _serial("pty")),
        ("serial shim (socket://)", lambda: _serial("socket")),
    ]
    rows = []
    for name, rig in rigs:
        with ExitStack() as stack:
            dev = stack.enter_context(rig())  # type: ignore[arg-type]
            dev.execute(INSTR)  # warm up connections and caches
            rows.append((name, latency_us(dev, args.seconds), throughput(dev, args.seconds, args.batch)))

    base_lat, base_tput = rows[0][1], rows[0][2]
    header = f"{'driver':<26}{'latency (us)':>14}{'x mock':>9}{'instr/s (batched)':>20}{'mock / it':>11}"
    print(header)
    print("-" * len(header))
    for name, lat, tput in rows:
        print(f"{name:<26}{lat:>14.1f}{lat / base_lat:>9.1f}{tput:>20,.0f}{base_tput / tput:>11.1f}")
    print(f"\nlatency: median single execute(); throughput: execute_many() of {args.batch} instructions")


if __name__ == "__main__":
    main()

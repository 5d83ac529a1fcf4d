"""OS overhead per NetQASM instruction and instructions/s through the single-node path.

Peers in the same run: netqasm's own reference executor (netqasm.backend.executor.Executor, which
does the classical work and no physics) on the same subroutines. Printed as µs/instruction and
ratios. Target: <= 10 µs OS overhead per instruction.

    python benchmarks/bench_os.py [--quick] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from netqasm.backend.executor import Executor as NetqasmExecutor  # noqa: E402

from null_device import NullDevice  # noqa: E402
from qnodeos.drivers.mock_ion import MockIonDevice  # noqa: E402
from qnodeos.drivers.mock_nv import MockNVDevice  # noqa: E402
from qnodeos.node import Node  # noqa: E402
from qnodeos.programs import load_subroutine  # noqa: E402

HEADER = "# NETQASM 1.0\n# APPID 0\n"


def classical_loop(n: int) -> str:
    return HEADER + f"""set R0 0
set R1 {n}
set R2 1
array 10 @0
LOOP:
beq R0 R1 END
add R0 R0 R2
set R3 3
store R0 @0[R3]
jmp LOOP
END:
ret_reg R0
"""


def quantum_loop(n: int) -> str:
    """Gates and measurements on two qubits (virtual 0 = communication qubit on NV)."""
    return HEADER + f"""set Q0 0
qalloc Q0
set Q1 1
qalloc Q1
set R0 0
set R1 {n}
LOOP:
beq R0 R1 END
init Q0
h Q0
x Q1
cnot Q0 Q1
meas Q0 M0
add R0 R0 1
jmp LOOP
END:
qfree Q0
qfree Q1
ret_reg M0
"""


def time_qnodeos(device_factory, text: str, repeat: int, trace: bool = True) -> tuple[float, int]:
    """Median seconds per run and instructions executed per run."""
    times, count = [], 0
    for _ in range(repeat):
        node = Node(device_factory(), trace=True)
        node.trace.enabled = trace
        pid = node.submit(text)
        t0 = time.perf_counter()
        node.run()
        times.append(time.perf_counter() - t0)
        assert node.result(pid).ok, node.result(pid).error
        count = len(node.trace)
    return statistics.median(times), count


_PEER_IDS = [0]


def time_netqasm(text: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        sub = load_subroutine(text)
        sub.app_id = 0
        _PEER_IDS[0] += 1
        ex = NetqasmExecutor(name=f"peer{_PEER_IDS[0]}")  # shared memory is keyed by executor name
        ex.init_new_application(app_id=0, max_qubits=2)
        t0 = time.perf_counter()
        ex.consume_execute_subroutine(sub)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    n = 500 if args.quick else 3000
    repeat = 3 if args.quick else 7
    nv = lambda: MockNVDevice.from_config(seed=1, preset="realistic")  # noqa: E731
    ion = lambda: MockIonDevice.from_config(seed=1, preset="realistic")  # noqa: E731
    null_nv = lambda: NullDevice(nv().capabilities)  # noqa: E731
    null_ion = lambda: NullDevice(ion().capabilities)  # noqa: E731

    rows = []
    for label, text in (("classical loop", classical_loop(n)), ("quantum loop", quantum_loop(n // 5))):
        peer = time_netqasm(text, repeat)
        for dev_label, factory in (("null device (NV caps)", null_nv), ("null device (ion caps)", null_ion),
                                   ("mock NV", nv), ("mock ion", ion)):
            secs, count = time_qnodeos(factory, text, repeat)
            rows.append({"program": label, "device": dev_label, "instructions": count,
                         "us_per_instr": secs / count * 1e6, "instr_per_s": count / secs,
                         "netqasm_us_per_instr": peer / count * 1e6,
                         "ratio_netqasm_over_qnodeos": peer / secs})
    _print(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def _print(rows: list[dict]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover
        for r in rows:
            print(r)
        return
    table = Table(title="qnodeos single-node path: µs per NetQASM instruction (target: OS overhead <= 10 µs)")
    for col in ("program", "device", "instr", "qnodeos µs/instr", "instr/s", "netqasm executor µs/instr",
                "netqasm / qnodeos"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r["program"], r["device"], str(r["instructions"]), f"{r['us_per_instr']:.2f}",
                      f"{r['instr_per_s']:,.0f}", f"{r['netqasm_us_per_instr']:.2f}",
                      f"{r['ratio_netqasm_over_qnodeos']:.2f}×")
    Console(width=150).print(table)
    print("null-device rows = OS overhead (dispatch, translation, memory manager, trace) without physics; "
          "netqasm's executor does no physics either.")


if __name__ == "__main__":
    main()

"""``qnodeos conformance``: the kit against installed drivers by name — a shim against a firmware stub
over real I/O, the template's own command set against its own stub — and a report that says which
check a non-conformant driver fails."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.firmware_stubs.controller import Controller
from qnodeos.firmware_stubs.harness import served
from qnodeos.firmware_stubs.servers import address_of
from qnodeos.hal import Response, Status
from qnodeos.hal.conformance.runner import run_conformance

pytestmark = pytest.mark.usefixtures("plugin_packages")

KIT_CHECKS = 14


def conformance(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qnodeos.cli", "conformance", *args], capture_output=True,
                          text=True, timeout=120)


def node_file(tmp_path: Path, driver: str, **options: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(f'[node]\ndriver = "{driver}"\nname = "lab-a"\n[driver]\n'
                    + "".join(f'{k} = "{v}"\n' for k, v in options.items()))
    return path


@pytest.mark.parametrize("link, option, driver", [("tcp", "resource", "visa-controller"),
                                                  ("pty", "url", "serial-controller")])
def test_shims_conform_against_the_stub(tmp_path, link, option, driver):
    with served(Controller(MockNVDevice.from_config(seed=4)), link) as server:
        proc = conformance("--config", str(node_file(tmp_path, driver, **{option: address_of(server)})),
                           "--json", "--shots", "20")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["driver"] == driver and report["ok"] is True
    assert report["failed"] == 0 and report["passed"] >= 10 and len(report["checks"]) == KIT_CHECKS
    skipped = {c["name"] for c in report["checks"] if c["outcome"] == "skipped"}
    assert skipped == {"test_pair_attempts_agree", "test_lone_attempt_is_a_sync_failure",
                       "test_disagreeing_windows_are_a_sync_failure"}


def test_template_with_its_own_command_set_conforms(tmp_path):
    from qnodeos_driver_template.stub import Seq9000Stub, calibration_of

    device = MockNVDevice.from_config(seed=4)
    cal = tmp_path / "cal.json"
    cal.write_text(json.dumps(calibration_of(device)))
    with served(Seq9000Stub(device), "tcp") as server:
        proc = conformance("--driver", "template-seq9000",
                           "--config", str(node_file(tmp_path, "mock-nv", resource=server.resource, calibration=cal)))
    assert proc.returncode == 0, proc.stderr
    assert "template-seq9000 conforms" in proc.stdout and "0 failed" in proc.stdout


def test_a_bad_option_is_one_line_not_a_failed_report(tmp_path):
    proc = conformance("--driver", "visa-controller")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == ("qnodeos conformance: error: driver 'visa-controller' needs option 'resource' "
                                   "(VISA resource of the controller, e.g. TCPIP::10.0.0.5::5025::SOCKET)")


class _SlowRefusals(MockNVDevice):
    """Breaks the contract: a refused instruction occupies device time."""

    def execute(self, instruction):
        r = super().execute(instruction)
        if r.status is Status.UNSUPPORTED:
            return Response(r.instruction, r.status, r.start_ns, r.start_ns + 10, message=r.message)
        return r


def test_the_report_names_the_check_a_driver_fails():
    report = run_conformance(lambda: _SlowRefusals.from_config(seed=1, preset="ideal"), label="slow-refusals", shots=10)
    failed = {c.name: c.detail for c in report.checks if c.outcome == "failed"}
    assert not report.ok and list(failed) == ["test_unsupported_instructions_are_refused_without_effect"]
    assert "occupied device time" in failed["test_unsupported_instructions_are_refused_without_effect"]
    assert report.to_dict()["failed"] == 1 and report.passed == KIT_CHECKS - 1 - report.skipped


def test_a_stub_started_by_hand_serves_qnodeos_run(tmp_path):
    """The whole command-line flow: `python -m qnodeos.firmware_stubs` in one process prints where it
    listens; `qnodeos run --driver serial-controller --config` in another runs a program through it."""
    stub = subprocess.Popen([sys.executable, "-m", "qnodeos.firmware_stubs", "--link", "pty", "--seed", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = stub.stdout.readline()  # "serving mock-nv on /dev/pts/N (Ctrl-C to stop)"
        assert line.startswith("serving mock-nv on "), (line, stub.stderr.read() if stub.poll() is not None else "")
        url = line.split(" on ", 1)[1].split(" (", 1)[0]
        program = Path(__file__).resolve().parents[1] / "examples" / "programs" / "x_measure.nqasm"
        proc = subprocess.run([sys.executable, "-m", "qnodeos.cli", "run", str(program), "--driver", "serial-controller",
                               "--config", str(node_file(tmp_path, "mock-nv", url=url)), "--json"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["results"][0]["registers"] == {"M0": 1}
    finally:
        stub.terminate()
        stub.wait(timeout=10)
        stub.stdout.close()
        stub.stderr.close()

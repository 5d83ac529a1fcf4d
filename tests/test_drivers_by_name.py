"""Every registered driver loads by name — ``Node(name, config=...)``, ``Node.from_config(toml)`` and
``qnodeos run PROG --driver NAME --config FILE`` — and runs a program: the mocks in process, both shims
against the firmware stubs over real pyvisa-py / pyserial I/O, the driver template (its own command set,
against its own stub) and the example third-party plugin. A driver that cannot take an option says
which, naming the driver.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from qnodeos.cli import main
from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.errors import QNodeOSError
from qnodeos.firmware_stubs.controller import Controller
from qnodeos.firmware_stubs.harness import served
from qnodeos.firmware_stubs.servers import address_of
from qnodeos.hal import ConfigError, DriverLoadError
from qnodeos.hal.registry import DriverRegistry
from qnodeos.node import Node

pytestmark = pytest.mark.usefixtures("plugin_packages")

PROGRAM = Path(__file__).resolve().parents[1] / "examples" / "programs" / "x_measure.nqasm"
#: example-ideal rotates about X only, which the OS's gate translation (two axes per qubit) cannot use:
#: it gets a program of init and measure.
INIT_MEASURE = "# NETQASM 1.0\n# APPID 0\nset Q0 0\nqalloc Q0\ninit Q0\nmeas Q0 M0\nret_reg M0\nqfree Q0\n"


def program_for(driver: str, tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """The program file a driver runs and the registers it must return."""
    if driver == "example-ideal":
        path = tmp_path / "init_measure.nqasm"
        path.write_text(INIT_MEASURE)
        return path, {"M0": 0}
    return PROGRAM, {"M0": 1}


@contextmanager
def _mock(name: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield {"preset": "ideal"}


@contextmanager
def _shim(option: str, link: str) -> Iterator[dict[str, Any]]:
    with served(Controller(MockNVDevice.from_config(seed=3, preset="ideal")), link) as server:
        yield {option: address_of(server), "timeout": 5.0}


@contextmanager
def _template(tmp_path: Path) -> Iterator[dict[str, Any]]:
    from qnodeos_driver_template.stub import Seq9000Stub, calibration_of

    device = MockNVDevice.from_config(seed=3, preset="ideal")
    cal = tmp_path / "seq9000-cal.json"
    cal.write_text(json.dumps(calibration_of(device)))
    with served(Seq9000Stub(device), "tcp") as server:
        yield {"resource": server.resource, "calibration": str(cal)}


#: driver name -> a context manager giving the driver's configuration (and running what it talks to)
RIGS = {
    "mock-nv": lambda tmp: _mock("mock-nv", tmp),
    "mock-trapped-ion": lambda tmp: _mock("mock-trapped-ion", tmp),
    "visa-controller": lambda tmp: _shim("resource", "tcp"),
    "serial-controller": lambda tmp: _shim("url", "pty"),
    "template-seq9000": _template,
    "example-ideal": lambda tmp: _nothing(),
}


@contextmanager
def _nothing() -> Iterator[dict[str, Any]]:
    yield {}


def _toml(config: dict[str, Any], **node: Any) -> str:
    lines = ["[node]", *(f"{k} = {json.dumps(v)}" for k, v in node.items()), "[driver]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in config.items()]
    return "\n".join(lines) + "\n"


def test_every_registered_driver_has_a_rig():
    assert set(DriverRegistry.load(environ={}).drivers) >= set(RIGS)
    builtin = {i.name for i in DriverRegistry.load(environ={}) if i.origin.startswith("qnodeos ")}
    assert builtin <= set(RIGS), "a built-in driver without a load-by-name test"


@pytest.mark.parametrize("driver", sorted(RIGS))
def test_node_by_name_from_python(driver, tmp_path):
    with RIGS[driver](tmp_path) as config:
        program, registers = program_for(driver, tmp_path)
        node = Node(driver, name="alice", config=config)
        try:
            pid = node.submit(program.read_text())
            node.run()
            assert node.result(pid).registers == registers
            assert node.device.node == "alice"
        finally:
            node.device.close()


@pytest.mark.parametrize("driver", sorted(RIGS))
def test_node_from_config_file(driver, tmp_path):
    with RIGS[driver](tmp_path) as config:
        path = tmp_path / "node.toml"
        path.write_text(_toml(config, name="bob", driver=driver))
        program, registers = program_for(driver, tmp_path)
        node = Node.from_config(path)
        try:
            pid = node.submit(program.read_text())
            node.run()
            assert node.result(pid).registers == registers and node.name == "bob" and node.device.node == "bob"
        finally:
            node.device.close()


@pytest.mark.parametrize("driver", sorted(RIGS))
def test_cli_run_with_driver_and_config(driver, tmp_path, capsys):
    with RIGS[driver](tmp_path) as config:
        path = tmp_path / "driver.toml"
        path.write_text(_toml(config))
        program, registers = program_for(driver, tmp_path)
        code = main(["run", str(program), "--driver", driver, "--config", str(path), "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    (result,) = json.loads(out.out)["results"]
    assert result["state"] == "done" and result["registers"] == registers


def test_drivers_json_lists_the_options_each_driver_takes(capsys):
    assert main(["drivers", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["drivers"]}
    visa = {o["name"]: o for o in rows["visa-controller"]["options"]["declared"]}
    assert visa["resource"]["required"] and "seed" not in visa and "node" in visa
    assert {"seed", "node", "preset", "alpha"} <= {o["name"] for o in rows["mock-nv"]["options"]["declared"]}
    assert rows["example-ideal"]["options"]["open"] is True  # undeclared: read from its **config signature


# ----------------------------------------------------------------------------- options refused
def test_a_seed_for_a_driver_that_takes_none_is_refused_by_name(tmp_path):
    with _shim("resource", "tcp") as config:
        with pytest.raises(ConfigError, match=r"driver 'visa-controller' takes no seed"):
            Node("visa-controller", seed=5, config=config)
        node = Node("visa-controller", seed=None, config=config)  # no seed asked for: fine
        node.device.close()


@pytest.mark.parametrize("driver, config, words", [
    ("visa-controller", {}, ["'visa-controller' needs option 'resource'", "TCPIP::"]),
    ("serial-controller", {"url": "loop://", "resource": "x"}, ["'serial-controller' does not accept option 'resource'",
                                                              "url, node, timeout"]),
    ("mock-nv", {"presett": "ideal"}, ["'mock-nv' does not accept option 'presett'", "preset"]),
    ("template-seq9000", {"resource": "TCPIP::x::1::SOCKET"}, ["'template-seq9000' needs option 'calibration'"]),
])
def test_options_a_driver_cannot_take_are_named(driver, config, words):
    with pytest.raises(ConfigError) as err:
        Node(driver, config=config)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_cli_reports_a_refused_option_in_one_line(tmp_path, capsys):
    path = tmp_path / "node.toml"
    path.write_text(_toml({"colour": "blue"}))
    code = main(["run", str(PROGRAM), "--driver", "serial-controller", "--config", str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "'serial-controller' does not accept option 'colour'" in err and "needs" not in err


def test_node_file_with_options_outside_the_driver_table_is_refused(tmp_path):
    path = tmp_path / "node.toml"
    path.write_text('resource = "TCPIP::x::1::SOCKET"\n[node]\ndriver = "visa-controller"\n')
    with pytest.raises(QNodeOSError, match=r"unknown top-level key\(s\) \['resource'\]"):
        Node.from_config(path)


def test_a_device_that_refuses_a_node_name_is_reported():
    from qnodeos.hal import DriverInfo, hookimpl

    class Plugin:
        @hookimpl
        def qnodeos_drivers(self):
            from qnodeos.drivers.mock_nv import MockNVDevice

            class NoNode(MockNVDevice):
                @property
                def node(self) -> str:  # read-only: cannot be renamed
                    return "fixed"

                @node.setter
                def node(self, value: str) -> None:
                    if value != "fixed":
                        raise AttributeError("this device's node name is fixed")

            return [DriverInfo("fixed-node", "1", "nv", lambda: NoNode.from_config(node="fixed"), options=())]

    registry = DriverRegistry(None)
    registry.register(Plugin(), name="fixed")
    with pytest.raises(DriverLoadError, match="'fixed-node' takes no node name and its device refuses one"):
        registry.build("fixed-node", {}, node="alice")
    assert registry.build("fixed-node", {}).node == "fixed"

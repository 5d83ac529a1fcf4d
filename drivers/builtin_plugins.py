"""The built-in drivers, each a pluggy plugin behind its own ``qnodeos.drivers`` entry point.

They arrive exactly like a third-party driver, so the registry has a single discovery path. Each
plugin object declares its driver's options (see :mod:`qnodeos.hal.options`) and imports the device
module only inside the factory: listing drivers must not pay for (or depend on) the compiled physics
engine, pyvisa or pyserial.
"""
from __future__ import annotations

from typing import Any, Callable

from qnodeos import __version__
from qnodeos.hal import NODE, SEED, DriverInfo, DriverOption, Platform, QDevice, hookimpl

from .config import IonConfig, NVConfig, _DeviceConfig


class BuiltinDriver:
    """One driver as a plugin object (the entry point names the object, not the module)."""

    def __init__(self, info: DriverInfo) -> None:
        self.info = info

    @hookimpl
    def qnodeos_drivers(self) -> list[DriverInfo]:
        return [self.info]


def _mock_options(config: type[_DeviceConfig]) -> tuple[DriverOption, ...]:
    return (NODE, SEED,
            DriverOption("preset", f"preset of {config.DEFAULTS_FILE} (default realistic; see `qnodeos validate`)"),
            DriverOption("config_file", "TOML file of device parameters, applied over the preset"),
            DriverOption("state_space", "Python only: a SharedStateSpace shared with linked devices"),
            *(DriverOption(key, f"device parameter (see {config.DEFAULTS_FILE})") for key in config.keys()))


def _mock_nv(**options: Any) -> QDevice:
    from .mock_nv import MockNVDevice

    return MockNVDevice.from_config(**options)


def _mock_ion(**options: Any) -> QDevice:
    from .mock_ion import MockIonDevice

    return MockIonDevice.from_config(**options)


def _visa(**options: Any) -> QDevice:
    from .controller_shim import VisaControllerDevice

    return VisaControllerDevice(**options)


def _serial(**options: Any) -> QDevice:
    from .controller_shim import SerialControllerDevice

    return SerialControllerDevice(**options)


_SHIM_OPTIONS = (
    NODE,
    DriverOption("timeout", "seconds each exchange may take (default 2)"),
    DriverOption("retries", "further attempts after a failed exchange"),
    DriverOption("expected_model", "refuse a controller whose *IDN? names another model"),
    DriverOption("session", "sequence-id prefix (default: random)"),
)


def _driver(name: str, platform: Platform, factory: Callable[..., QDevice], description: str,
            options: tuple[DriverOption, ...]) -> BuiltinDriver:
    return BuiltinDriver(DriverInfo(name=name, version=__version__, platform=platform.value, factory=factory,
                                    description=description, options=options))


mock_nv = _driver("mock-nv", Platform.NV, _mock_nv,
                  "Simulated NV-centre node: electron communication qubit plus carbon memory qubits",
                  _mock_options(NVConfig))
mock_trapped_ion = _driver("mock-trapped-ion", Platform.TRAPPED_ION, _mock_ion,
                           "Simulated trapped-ion node: ion string with Molmer-Sorensen gates and a photonic link",
                           _mock_options(IonConfig))
# Platform is generic for the shims: the real one is only known once the controller answers CAPS?.
visa_controller = _driver(
    "visa-controller", Platform.GENERIC, _visa,
    "Real-time controller (ADwin/FPGA sequencer) over VISA, qnodeos controller protocol",
    (DriverOption("resource", "VISA resource of the controller, e.g. TCPIP::10.0.0.5::5025::SOCKET", required=True),
     *_SHIM_OPTIONS,
     DriverOption("resource_manager", "pyvisa backend (default @py) or a ResourceManager object")))
serial_controller = _driver(
    "serial-controller", Platform.GENERIC, _serial,
    "Real-time controller on a serial line (framed, CRC-checked), qnodeos controller protocol",
    (DriverOption("url", "pyserial URL of the controller, e.g. /dev/ttyUSB0 or socket://10.0.0.5:4000", required=True),
     *_SHIM_OPTIONS,
     DriverOption("baudrate", "line speed (default 115200)"),
     DriverOption("port", "Python only: an already open pyserial-like port"),
     DriverOption("seq_start", "first frame sequence number (default: random)")))

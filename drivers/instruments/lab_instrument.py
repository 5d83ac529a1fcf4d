"""The base of qnodeos's instrument drivers: a PyMeasure ``Instrument`` that checks who answers and
names itself in every error.

As in QCoDeS, the public call adds context and the raw call does only I/O: ``write``/``read`` wrap the
adapter's and turn any failure into :class:`~qnodeos.hal.DeviceFault` (``DeviceTimeout`` for a timeout)
naming the instrument, its address and the command; every property's errors name the instrument and
the setting (``mw.frequency = '30 GHz': … outside the allowed [9000, 2e+10] Hz``). Pass a VISA resource
string (and ``visa_library="x.yaml@sim"`` for a pyvisa-sim twin) or any PyMeasure adapter, e.g. the
``ProtocolAdapter`` of ``pymeasure.test.expected_protocol``.
"""
from __future__ import annotations

import inspect
import re
from typing import Any, Callable, ClassVar

import pyvisa
from pymeasure.instruments import Instrument

from qnodeos.hal.errors import DeviceFault, DeviceTimeout


class LabInstrument(Instrument):
    """A PyMeasure instrument with a checked identity and errors that say where they come from."""

    #: Regular expression the ``*IDN?`` reply must match (``re.match``: anchored at the start).
    idn_pattern: ClassVar[str] = r".+"
    read_termination: ClassVar[str] = "\n"
    write_termination: ClassVar[str] = "\n"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for attr, prop in list(vars(cls).items()):
            if isinstance(prop, property) and not getattr(prop.fget, "_with_context", False):
                setattr(cls, attr, _with_context(attr, prop))

    def __init__(self, adapter: Any, name: str | None = None, *, timeout: float = 2.0, check_idn: bool = True,
                 **kwargs: Any) -> None:
        name = name or type(self).__name__
        self.address = adapter if isinstance(adapter, str) else getattr(adapter, "resource_name", "a replay")
        if isinstance(adapter, str):
            kwargs.setdefault("read_termination", self.read_termination)
            kwargs.setdefault("write_termination", self.write_termination)
            kwargs.setdefault("timeout", int(timeout * 1000))
        try:
            super().__init__(adapter, name, includeSCPI=False, **kwargs)
        except Exception as exc:  # noqa: BLE001 - pyvisa backends raise several unrelated types
            raise DeviceFault(f"{name}: cannot open {self.address}: {exc}") from exc
        self.idn = ""
        if check_idn:
            try:
                self.check_idn()
            except BaseException:
                self.close()
                raise

    def check_idn(self) -> str:
        """Ask ``*IDN?`` and refuse an instrument that is not the one this driver is for."""
        reply = self.ask("*IDN?").strip()
        if not re.match(self.idn_pattern, reply):
            raise DeviceFault(f"{self._where()}: '*IDN?' answered {reply!r}, expected an instrument matching "
                              f"{self.idn_pattern!r}")
        self.idn = reply
        return reply

    def snapshot(self) -> dict[str, Any]:
        """Every setting's current value (for logs and experiment metadata)."""
        return {attr: getattr(self, attr) for attr in _settings(type(self))}

    # ------------------------------------------------------------------------------------- I/O
    def write(self, command: str, **kwargs: Any) -> None:
        try:
            super().write(command, **kwargs)
        except Exception as exc:  # noqa: BLE001 - re-raised with context
            raise self._io_fault(command, exc) from exc

    def ask(self, command: str, query_delay: float | None = None) -> str:
        self.write(command)
        try:
            self.wait_for(query_delay)
            return super().read()
        except Exception as exc:  # noqa: BLE001 - re-raised with context
            raise self._io_fault(command, exc) from exc

    def read(self, **kwargs: Any) -> str:
        try:
            return super().read(**kwargs)
        except Exception as exc:  # noqa: BLE001 - re-raised with context
            raise self._io_fault("(reading the reply)", exc) from exc

    def close(self) -> None:
        try:
            self.adapter.close()
        except Exception:  # noqa: BLE001 - closing must not mask the caller's error
            pass

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _where(self) -> str:
        return f"{self.name} at {self.address}"

    def _io_fault(self, command: str, exc: Exception) -> DeviceFault:
        if isinstance(exc, DeviceFault):
            return exc
        if isinstance(exc, pyvisa.errors.VisaIOError) and exc.error_code == pyvisa.constants.StatusCode.error_timeout:
            return DeviceTimeout(f"{self._where()}: {command!r} got no reply in time: {exc}")
        return DeviceFault(f"{self._where()}: {command!r} failed: {type(exc).__name__}: {exc}")


def _settings(cls: type) -> list[str]:
    """Names of the readable and writable properties (settings, not read-only measurements)."""
    seen: dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        for attr, prop in vars(klass).items():
            if isinstance(prop, property) and getattr(prop.fget, "_settable", False):
                seen[attr] = None
    return list(seen)


def _with_context(attr: str, prop: property) -> property:
    """``prop`` whose errors name the instrument and the setting; a read that PyMeasure could not
    parse (it hands back the raw text) is an error too."""
    getter, setter = prop.fget, prop.fset
    settable = setter is not None and _set_command(setter) is not None

    def fget(self: LabInstrument) -> Any:
        try:
            value = getter(self)  # type: ignore[misc]
        except DeviceFault as exc:
            raise type(exc)(f"{exc} (reading {attr})") from exc.__cause__
        except LookupError:
            raise AttributeError(f"{self.name}.{attr} is write-only") from None
        if isinstance(value, str):  # PyMeasure hands back text it could not cast
            raise DeviceFault(f"{self._where()}: reading {attr} got the unparsable reply {value!r}")
        return value

    def fset(self: LabInstrument, value: Any) -> None:
        if not settable:
            raise AttributeError(f"{self.name}.{attr} is read-only")
        try:
            setter(self, value)  # type: ignore[misc]
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"{self.name}.{attr} = {value!r}: {exc}") from None

    fget._with_context = True  # type: ignore[attr-defined]
    fget._settable = settable  # type: ignore[attr-defined]
    return property(fget, fset if setter is not None else None, None, prop.__doc__)


def _set_command(setter: Callable[..., Any]) -> str | None:
    """The set command a PyMeasure property setter carries (None for a measurement)."""
    param = inspect.signature(setter).parameters.get("set_command")
    return None if param is None or param.default is inspect.Parameter.empty else param.default

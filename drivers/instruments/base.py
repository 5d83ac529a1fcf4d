"""Base class of the lab instrument drivers: a pyvisa message-based resource plus error context.

Subclasses are declarative — an ``*IDN?`` pattern, terminations and :class:`Parameter` class
attributes — and get a checked identity, ``write``/``ask`` that name the instrument and command in
every error, and a :meth:`VisaInstrument.snapshot` of all readable settings. Pass any
``pyvisa.ResourceManager``: ``ResourceManager("@py")`` in the lab, ``ResourceManager("x.yaml@sim")``
in tests.
"""
from __future__ import annotations

import re
from typing import Any, ClassVar, NoReturn

import pyvisa
from pyvisa import constants

from qnodeos.hal.errors import DeviceFault, DeviceTimeout

from .parameter import parameters_of


class VisaInstrument:
    """An SCPI instrument behind a VISA resource."""

    #: Regular expression the ``*IDN?`` reply must match (``re.match``, i.e. anchored at the start).
    idn_pattern: ClassVar[str] = r".+"
    read_termination: ClassVar[str] = "\n"
    write_termination: ClassVar[str] = "\n"

    def __init__(self, resource: str, resource_manager: Any = None, *, name: str | None = None,
                 timeout: float = 2.0, check_idn: bool = True) -> None:
        self.name = name or type(self).__name__
        self.resource = resource
        rm = resource_manager if resource_manager is not None else pyvisa.ResourceManager("@py")
        try:
            self._res = rm.open_resource(resource, read_termination=self.read_termination,
                                         write_termination=self.write_termination, timeout=int(timeout * 1000))
        except Exception as exc:  # noqa: BLE001 - pyvisa backends raise several unrelated types
            raise DeviceFault(f"{self.name}: cannot open {resource}: {exc}") from exc
        self.idn = ""
        if check_idn:
            try:
                self.check_idn()
            except BaseException:
                self.close()
                raise

    # ------------------------------------------------------------------------------------ identity
    def check_idn(self) -> str:
        """Ask ``*IDN?`` and refuse an instrument that is not the one this driver is for."""
        reply = self.ask("*IDN?")
        if not re.match(self.idn_pattern, reply):
            raise DeviceFault(f"{self.name} at {self.resource}: '*IDN?' answered {reply!r}, "
                              f"expected an instrument matching {self.idn_pattern!r}")
        self.idn = reply
        return reply

    # ----------------------------------------------------------------------------- public (checked)
    def write(self, command: str, *, context: str = "") -> None:
        """Send ``command``; any I/O failure raises :class:`DeviceFault` naming instrument and command."""
        try:
            self._write_raw(command)
        except Exception as exc:  # noqa: BLE001 - re-raised with context below
            self._io_failed(command, exc, context)

    def ask(self, command: str, *, context: str = "") -> str:
        """Query ``command`` and return the stripped reply; failures as for :meth:`write`."""
        try:
            return self._ask_raw(command).strip()
        except Exception as exc:  # noqa: BLE001 - re-raised with context below
            self._io_failed(command, exc, context)

    def snapshot(self) -> dict[str, Any]:
        """Every readable parameter's current value (for logs and experiment metadata)."""
        return {p.name: p.get(self) for p in parameters_of(type(self)) if p.get_cmd is not None}

    def close(self) -> None:
        try:
            self._res.close()
        except Exception:  # noqa: BLE001 - closing must not mask the caller's error
            pass

    def __enter__(self) -> "VisaInstrument":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} at {self.resource}>"

    # ----------------------------------------------------------------------------------- raw (I/O)
    def _write_raw(self, command: str) -> None:
        self._res.write(command)

    def _ask_raw(self, command: str) -> str:
        return self._res.query(command)

    # -------------------------------------------------------------------------------------- errors
    def raise_fault(self, command: str, why: str) -> NoReturn:
        raise DeviceFault(f"{self.name} at {self.resource}: {command!r} failed: {why}")

    def _io_failed(self, command: str, exc: Exception, context: str) -> NoReturn:
        where = f"{self.name} at {self.resource}" + (f" ({context})" if context else "")
        if isinstance(exc, pyvisa.errors.VisaIOError) and exc.error_code == constants.StatusCode.error_timeout:
            raise DeviceTimeout(f"{where}: {command!r} got no reply in time: {exc}") from exc
        raise DeviceFault(f"{where}: {command!r} failed: {type(exc).__name__}: {exc}") from exc

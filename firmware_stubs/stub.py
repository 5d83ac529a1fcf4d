"""The base of every emulated controller: a command table around a :class:`QDevice`.

A driver author whose controller has its own command set subclasses :class:`FirmwareStub`, names
each command with :func:`command` and lets the device behind it (a qnodeos mock, so the answers come
from real mock physics) do the work; the shared servers (:mod:`.servers`) put the stub on a loopback
TCP port, a ``socket://`` port or a pty, so the driver is tested over real pyvisa / pyserial I/O::

    >>> from qnodeos.drivers.mock_nv import MockNVDevice
    >>> from qnodeos.hal import Init
    >>> class Blinker(FirmwareStub):
    ...     program_separator = None                 # one command per line
    ...     @command("PREP?")
    ...     def prep(self, arg: str) -> str:
    ...         (response,) = self.run([Init(int(arg))])
    ...         return f"{response.status.value} {response.end_ns}"
    >>> stub = Blinker(MockNVDevice.from_config(seed=1), idn="ACME,BLINK-1,SN7,0.1")
    >>> stub.handle("*IDN?"), stub.handle("PREP? 0"), stub.handle("FLY?")
    ('ACME,BLINK-1,SN7,0.1', 'ok 2000', 'ERR -113,"undefined header \\'FLY?\\'"')

What the base gives every stub: ``*IDN?`` (with the ``wrong_idn`` fault), ``*CLS``, ``*OPC?`` and
``SYST:ERR?`` over a bounded error queue; the text and framed entry points (:meth:`handle`,
:meth:`handle_framed`, the latter with a reply cache so a re-sent frame is never executed twice);
:meth:`run`, which executes instructions on the device and turns a device exception into a
hardware-failure response; the test oracles :attr:`executed` and :attr:`commands`; and the fault knobs
(:attr:`faults`) the servers apply.
"""
from __future__ import annotations

import threading
from collections import OrderedDict, deque
from typing import Callable, ClassVar, Iterable, TypeVar

from qnodeos.drivers.protocol import framing, grammar
from qnodeos.hal import QDevice, Response, Status
from qnodeos.hal.instructions import PhysicalInstruction

from .faults import Faults

F = TypeVar("F", bound=Callable[..., "str | None"])

#: How many entries the test oracles (:attr:`FirmwareStub.executed`, ``commands``) keep.
LOG_LIMIT = 100_000


class CommandError(Exception):
    """A command the stub refuses: SCPI-style code plus message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def command(header: str) -> Callable[[F], F]:
    """Mark a method ``(self, argument_text) -> reply | None`` as the handler of ``header``."""

    def mark(fn: F) -> F:
        fn.__stub_header__ = header.upper()  # type: ignore[attr-defined]
        return fn

    return mark


class BoundedLog(list):
    """A list that forgets its oldest half once it holds more than ``limit`` entries."""

    def __init__(self, limit: int = LOG_LIMIT) -> None:
        super().__init__()
        self.limit = limit

    def append(self, item: object) -> None:
        super().append(item)
        if len(self) > self.limit:
            del self[: len(self) - self.limit // 2]

    def extend(self, items: Iterable[object]) -> None:
        for item in items:
            self.append(item)


class FirmwareStub:
    """An emulated controller: parses commands, runs instructions on ``device``, answers."""

    #: Line end of the text link.
    termination: ClassVar[str] = grammar.TERMINATION
    #: Separator of several commands on one line (SCPI program messages); None: one command a line.
    program_separator: ClassVar[str | None] = ";"
    #: Longest text line the servers accept before refusing it and hanging up.
    max_line_bytes: ClassVar[int] = 1 << 20
    _commands: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls._collect_commands()

    @classmethod
    def _collect_commands(cls) -> None:
        """The command table: the base classes' commands, then this class's (which may override)."""
        table = dict(cls._commands)
        for name, value in vars(cls).items():
            header = getattr(value, "__stub_header__", None)
            if header is not None:
                table[header] = name
        cls._commands = table

    def __init__(self, device: QDevice, *, idn: str, faults: Faults | None = None) -> None:
        self.device = device
        self.idn = idn
        self.faults = faults if faults is not None else Faults()
        #: Every instruction handed to the device, in order (the test oracle for "run once").
        self.executed: list[PhysicalInstruction] = BoundedLog()
        #: Every command received (text and framed), in order.
        self.commands: list[str] = BoundedLog()
        #: Framed requests answered from the reply cache instead of being executed again.
        self.replayed = 0
        self._lock = threading.RLock()
        self._errors: deque[tuple[int, str]] = deque(maxlen=32)
        self._replies: OrderedDict[int, tuple[str, str]] = OrderedDict()

    # ------------------------------------------------------------------------------ entry points
    def split_message(self, line: str) -> list[str]:
        """The commands of one received line."""
        if self.program_separator is None:
            return [line.strip()] if line.strip() else []
        return [unit.strip() for unit in line.split(self.program_separator) if unit.strip()]

    def join_replies(self, replies: list[str]) -> str:
        """One reply line from the replies of one line's queries."""
        return (self.program_separator or "").join(replies)

    def handle(self, line: str) -> str | None:
        """Text link: the reply for a query, None for a command. A failed command queues its error;
        a failed query also answers ``ERR <code>,"<message>"`` so the host never waits in vain."""
        header, arg = grammar.split_command(line)
        with self._lock:
            self.commands.append(line.strip())
            try:
                return self._dispatch(header, arg)
            except CommandError as exc:
                self._errors.append((exc.code, exc.message))
                return grammar.framed_error(exc.code, exc.message) if header.endswith("?") else None

    def handle_framed(self, seq: int, payload: str) -> str:
        """Framed link: every request answers (``OK`` for a command). A re-sent ``seq`` with the same
        payload gets the cached reply, so a host retry never executes anything twice."""
        with self._lock:
            cached = self._replies.get(seq)
            if cached is not None and cached[0] == payload:
                self.replayed += 1
                return cached[1]
            header, arg = grammar.split_command(payload)
            self.commands.append(payload.strip())
            try:
                reply = self._dispatch(header, arg)
                reply = grammar.framed_ok() if reply is None else reply
            except CommandError as exc:
                reply = grammar.framed_error(exc.code, exc.message)
            size = len(reply.encode("utf-8"))
            if size > framing.MAX_PAYLOAD:  # cannot travel in one frame: say so instead
                reply = grammar.framed_error(grammar.ERR_EXECUTION, (
                    f"{header}: reply of {size} bytes exceeds the frame limit of {framing.MAX_PAYLOAD} bytes "
                    "(run fewer instructions per sequence)"))
            self._replies[seq] = (payload, reply)
            while len(self._replies) > grammar.RESULTS_KEPT:
                self._replies.popitem(last=False)
            return reply

    # --------------------------------------------------------------------------- for subclasses
    def run(self, instructions: Iterable[PhysicalInstruction]) -> list[Response]:
        """Execute on the device, logging each instruction; a device exception (a QDeviceError or a
        driver bug) becomes a hardware-failure response: the link is fine, the device is not."""
        out: list[Response] = []
        for instr in instructions:
            self.executed.append(instr)
            try:
                out.append(self.device.execute(instr))
            except Exception as exc:  # noqa: BLE001 - reported to the host, never raised into the server
                now = int(self.device.now_ns)
                out.append(Response(instr, Status.HARDWARE_FAILURE, now, now, message=f"{type(exc).__name__}: {exc}"))
        return out

    def push_error(self, code: int, message: str) -> None:
        """Queue an error for ``SYST:ERR?`` (the queue keeps the 32 newest)."""
        self._errors.append((code, message))

    # ----------------------------------------------------------------------------- common commands
    @command("*IDN?")
    def _idn(self, _: str) -> str:
        return self.faults.wrong_idn if self.faults.wrong_idn is not None else self.idn

    @command("*CLS")
    def _cls(self, _: str) -> None:
        self._errors.clear()

    @command("*OPC?")
    def _opc(self, _: str) -> str:
        return "1"

    @command("SYST:ERR?")
    def _err(self, _: str) -> str:
        code, msg = self._errors.popleft() if self._errors else grammar.NO_ERROR
        return grammar.format_error(code, msg)

    # --------------------------------------------------------------------------------- dispatch
    def _dispatch(self, header: str, arg: str) -> str | None:
        name = self._commands.get(header)
        if name is None:
            raise CommandError(grammar.ERR_UNDEFINED_HEADER, f"undefined header {header!r}")
        try:
            return getattr(self, name)(arg)
        except CommandError:
            raise
        except Exception as exc:  # a firmware bug must not take the link down: report it as an error
            raise CommandError(grammar.ERR_EXECUTION, f"{header}: internal error {type(exc).__name__}: {exc}") from exc


FirmwareStub._collect_commands()

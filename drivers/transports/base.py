"""The transport contract the controller shim is written against."""
from __future__ import annotations

import abc


class LinkError(Exception):
    """A request that got no usable reply. ``timed_out``: nothing came in time; ``broken``: the link
    itself failed and must be reopened before the next request."""

    def __init__(self, why: str, *, timed_out: bool = False, broken: bool = True) -> None:
        super().__init__(why)
        self.why = why
        self.timed_out = timed_out
        self.broken = broken


class Transport(abc.ABC):
    """One request, one reply, over some link to a controller.

    ``framed`` transports carry the framed protocol: every command answers (``OK`` or ``ERR …``) and a
    request repeated right after a failure is re-sent under the same sequence number, so the
    controller answers it from its reply cache instead of running it twice. Text transports carry
    SCPI-style program messages, where only queries answer.
    """

    #: True for the framed protocol (see the class docstring).
    framed: bool = False
    #: Longest message the transport sends in one piece.
    max_message: int = 4000

    def __init__(self, address: str, preposition: str) -> None:
        self.address = address
        self.where = f"{preposition} {address}"
        #: Times the link was opened again after the first time, and requests re-sent as they were.
        self.reconnects = 0
        self.resends = 0
        self._opened = 0

    @property
    def opens(self) -> int:
        """How often :meth:`open` succeeded (a link handed over already open counts as 0)."""
        return self._opened

    @property
    @abc.abstractmethod
    def is_open(self) -> bool:
        """Whether a request can go out without opening the link first."""

    def open(self) -> None:
        """Open the link; raises :class:`LinkError` naming why it cannot."""
        self._open()
        self._opened += 1
        self.reconnects = max(0, self._opened - 1)

    @abc.abstractmethod
    def _open(self) -> None: ...

    @abc.abstractmethod
    def request(self, message: str) -> str:
        """Send ``message`` and return its reply text; :class:`LinkError` when there is none."""

    def recover(self, failure: LinkError) -> None:
        """Make the next request safe after ``failure`` (by default: start on a fresh link)."""
        self.close()

    @abc.abstractmethod
    def close(self) -> None:
        """Release the link (idempotent)."""

    def diagnostics(self) -> str:
        """Extra words for a failure message (e.g. line noise seen), or ''."""
        return ""

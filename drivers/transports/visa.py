"""Text lines through pyvisa: by default the pure-Python ``@py`` backend and a raw socket resource."""
from __future__ import annotations

from typing import Any

import pyvisa
from pyvisa import constants

from .base import LinkError, Transport


class VisaTransport(Transport):
    """A message-based VISA resource with ``termination`` on both directions and ``timeout`` seconds
    per exchange. ``resource_manager`` is a ``pyvisa.ResourceManager`` (or anything with
    ``open_resource``, e.g. a replay), which is borrowed, or a backend string such as ``"@py"`` or
    ``"path.yaml@sim"``, from which one is made and released by :meth:`release`."""

    framed = False

    def __init__(self, resource: str, *, timeout: float, resource_manager: Any = None,
                 termination: str = "\n", max_message: int = 4000) -> None:
        super().__init__(resource, "at")
        self.resource = resource
        self.timeout = float(timeout)
        self.termination = termination
        self.max_message = max_message
        self._owns_rm = not hasattr(resource_manager, "open_resource")
        self._rm: Any = pyvisa.ResourceManager(resource_manager or "@py") if self._owns_rm else resource_manager
        self._inst: Any = None

    @property
    def is_open(self) -> bool:
        return self._inst is not None

    def _open(self) -> None:
        ms = int(self.timeout * 1000)
        try:
            self._inst = self._rm.open_resource(self.resource, read_termination=self.termination,
                                                write_termination=self.termination, timeout=ms, open_timeout=ms)
        except Exception as exc:  # noqa: BLE001 - pyvisa-py raises a bare Exception on refused connects
            raise LinkError(f"cannot open the resource: {exc}") from exc

    def request(self, message: str) -> str:
        try:
            reply = self._inst.query(message)
        except pyvisa.errors.VisaIOError as exc:
            if exc.error_code == constants.StatusCode.error_timeout:
                raise LinkError(f"no reply within {self.timeout:g} s", timed_out=True) from exc
            raise LinkError(str(exc)) from exc
        except (pyvisa.Error, OSError, AttributeError) as exc:
            raise LinkError(f"link error ({exc!r})") from exc
        except UnicodeDecodeError as exc:
            raise LinkError(f"garbled reply ({exc})") from exc
        return reply.strip()

    def close(self) -> None:
        inst, self._inst = self._inst, None
        if inst is not None:
            try:
                inst.close()
            except Exception:  # noqa: BLE001 - the link is already broken, or going away
                pass

    def release(self) -> None:
        """Close the link and, if this transport made it, the resource manager."""
        self.close()
        if self._owns_rm:
            try:
                self._rm.close()
            except Exception:  # noqa: BLE001 - closing must not mask the caller's error
                pass

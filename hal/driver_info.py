"""What a plugin tells the registry about one driver."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .device import QDevice
from .options import DriverOption, OptionSet


@dataclass(frozen=True)
class DriverInfo:
    """A driver: its unique ``name``, ``version``, ``platform``, a line of ``description``, and a
    factory ``factory(**options) -> QDevice``.

    ``options`` declares the keywords the factory accepts (:class:`~qnodeos.hal.options.DriverOption`
    objects or plain names, including :data:`~qnodeos.hal.options.NODE` and
    :data:`~qnodeos.hal.options.SEED` if it takes them); left as None, they are read from the
    factory's signature. The registry passes the factory only what it accepts. ``origin`` is filled
    in by the registry (the distribution and entry point that provided the driver).
    """

    name: str
    version: str
    platform: str
    factory: Callable[..., QDevice]
    description: str = ""
    origin: str = ""
    options: tuple[DriverOption | str, ...] | None = None

    @property
    def option_set(self) -> OptionSet:
        """What the factory accepts (declared, or read from its signature)."""
        if self.options is None:
            return OptionSet.from_factory(self.factory)
        return OptionSet.of(self.options)

    def accepts(self, option: str) -> bool:
        """Whether the factory takes ``option`` (e.g. ``"seed"``: can this driver's outcomes be seeded?)."""
        return self.option_set.accepts(option)

    def create(self, **options: Any) -> QDevice:
        """Call the factory with exactly the keywords ``options`` (the registry's :meth:`build` selects
        them)."""
        return self.factory(**options)

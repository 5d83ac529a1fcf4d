"""What a plugin tells the registry about one driver."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .device import QDevice


@dataclass(frozen=True)
class DriverInfo:
    """A driver: its unique name, version, platform, and a factory ``factory(**config) -> QDevice``.

    ``origin`` is filled in by the registry (the distribution and entry point that provided it).
    """

    name: str
    version: str
    platform: str
    factory: Callable[..., QDevice]
    description: str = ""
    origin: str = ""

    def create(self, **config: Any) -> QDevice:
        """Instantiate the driver with keyword configuration."""
        return self.factory(**config)

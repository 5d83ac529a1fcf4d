"""Per-platform translation of NetQASM gates into native physical instructions."""
from .translator import Translator

__all__ = ["Translator"]

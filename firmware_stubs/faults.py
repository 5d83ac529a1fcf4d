"""Fault-injection knobs of the emulated controllers.

Tests flip these while a shim is connected to check that every way a real link misbehaves ends in a
clear error or a safe retry, never a hang and never a lost or duplicated result. Counters are one-shot
so a shim that reconnects finds a healthy controller again.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Faults:
    """What the stub does wrong, and how often.

    * ``reply_delay_s`` — sleep before every reply (longer than the host timeout → timeout);
    * ``drop_after`` — the link closes after this many further commands: the last one *is* executed
      but its reply is lost (disconnect mid-sequence); fires once;
    * ``garble_replies`` — corrupt the next N replies (text: unparsable line; serial: bad CRC);
    * ``mute`` — accept connections and read commands but never execute or answer them;
    * ``wrong_idn`` — answer ``*IDN?`` with this string instead;
    * ``garbage_before_reply`` — serial only: bytes written just before the next reply (one-shot).
    """

    reply_delay_s: float = 0.0
    drop_after: int | None = None
    garble_replies: int = 0
    mute: bool = False
    wrong_idn: str | None = None
    garbage_before_reply: bytes = b""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def take_drop(self) -> bool:
        """Count one command; True when the link must drop after it (then the knob disarms)."""
        with self._lock:
            if self.drop_after is None:
                return False
            self.drop_after -= 1
            if self.drop_after <= 0:
                self.drop_after = None
                return True
            return False

    def take_garble(self) -> bool:
        """True if this reply must be corrupted (counts one down)."""
        with self._lock:
            if self.garble_replies > 0:
                self.garble_replies -= 1
                return True
            return False

    def take_garbage(self) -> bytes:
        """The garbage to inject before this reply (empty when none; one-shot)."""
        with self._lock:
            junk, self.garbage_before_reply = self.garbage_before_reply, b""
            return junk

    def clear(self) -> None:
        """Back to a healthy controller."""
        with self._lock:
            self.reply_delay_s = 0.0
            self.drop_after = None
            self.garble_replies = 0
            self.mute = False
            self.wrong_idn = None
            self.garbage_before_reply = b""


def garble_text(reply: str) -> str:
    """A corrupted text reply no parser accepts (line noise instead of a field separator)."""
    return "\x7f#%" + reply[len(reply) // 2:][::-1].replace(" ", "\x00")

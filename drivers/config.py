"""Frozen, validated configuration of the mock NV and trapped-ion devices.

Values come, in this order (later wins), from the driver's defaults file (``defaults/*.toml``, table
``[realistic]``), the preset's overrides (table ``[ideal]`` for ``preset="ideal"``), an optional user
TOML file (flat ``key = value`` pairs) and keyword overrides. Every value is checked against its
allowed range and every unknown key is refused by name, so a typo never silently falls back to a
default. Times are nanoseconds of device time; probabilities are per operation.

>>> cfg = NVConfig.load(preset="ideal", alpha=0.05)
>>> cfg.alpha, cfg.ec_gate_error
(0.05, 0.0)
"""
from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping, TypeVar

from qnodeos.hal.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib

DEFAULTS_DIR = Path(__file__).with_name("defaults")
PRESETS = ("realistic", "ideal")

C = TypeVar("C", bound="_DeviceConfig")


@dataclass(frozen=True)
class Range:
    """Allowed interval of one config value (``lo_open``/``hi_open`` exclude the end points)."""

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False

    def contains(self, v: float) -> bool:
        above = v > self.lo if self.lo_open else v >= self.lo
        below = v < self.hi if self.hi_open else v <= self.hi
        return above and below

    def __str__(self) -> str:
        def fmt(x: float) -> str:
            return "inf" if math.isinf(x) else f"{x:g}"

        return f"{'(' if self.lo_open else '['}{fmt(self.lo)}, {fmt(self.hi)}{')' if self.hi_open else ']'}"


PROB = Range(0.0, 1.0)
TIME = Range(0.0, math.inf, lo_open=True)  # coherence times; inf = no decay
DURATION = Range(0, 10**12)  # integer ns


def _key(kind: type, rng: Range) -> Any:
    return field(metadata={"type": kind, "range": rng})


@dataclass(frozen=True)
class _DeviceConfig:
    """Shared loading/validation machinery; subclasses only declare fields."""

    DRIVER: ClassVar[str] = ""
    DEFAULTS_FILE: ClassVar[str] = ""
    #: (t1 key, t2 key) pairs checked for T2 <= 2 T1 (a physical bound the engine enforces).
    COHERENCE_PAIRS: ClassVar[tuple[tuple[str, str], ...]] = ()

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def load(cls: type[C], *, preset: str = "realistic", config_file: str | Path | None = None,
             **overrides: Any) -> C:
        """Defaults, then preset, then ``config_file``, then ``overrides``; validated."""
        if preset not in PRESETS:
            raise ConfigError(f"{cls.DRIVER} config: preset={preset!r} is unknown (choose one of {PRESETS})")
        tables = _read_toml(DEFAULTS_DIR / cls.DEFAULTS_FILE, cls.DRIVER)
        values: dict[str, Any] = {}
        for name in ["realistic"] + ([preset] if preset != "realistic" else []):
            table = tables.get(name)
            if not isinstance(table, dict):
                raise ConfigError(f"{cls.DRIVER} config: defaults file lacks the [{name}] table")
            values.update(cls._known(table, f"defaults [{name}]"))
        if config_file is not None:
            if not isinstance(config_file, (str, Path)) or not str(config_file):
                raise ConfigError(f"{cls.DRIVER} config: config_file={_show(config_file)} must be the path of a TOML file")
            values.update(cls._known(_read_toml(Path(config_file), cls.DRIVER), str(config_file)))
        values.update(cls._known(overrides, "keyword overrides"))
        missing = [k for k in cls.keys() if k not in values]
        if missing:
            raise ConfigError(f"{cls.DRIVER} config: missing key(s) {missing}")
        return cls(**{k: cls._coerce(k, values[k]) for k in cls.keys()})

    @classmethod
    def _known(cls, table: Mapping[str, Any], origin: str) -> dict[str, Any]:
        unknown = sorted(set(table) - set(cls.keys()))
        if unknown:
            raise ConfigError(
                f"{cls.DRIVER} config: unknown key(s) {unknown} in {origin} (known keys: {', '.join(cls.keys())})")
        return dict(table)

    @classmethod
    def _coerce(cls, key: str, value: Any) -> Any:
        meta = next(f.metadata for f in dataclasses.fields(cls) if f.name == key)
        kind, rng = meta["type"], meta["range"]
        bad_type = isinstance(value, bool) or not isinstance(value, (int, float))
        if kind is int and isinstance(value, float):
            bad_type = bad_type or not value.is_integer()
        if bad_type:
            raise ConfigError(f"{cls.DRIVER} config: {key}={_show(value)} must be {'an integer' if kind is int else 'a number'}")
        try:
            value = kind(value)
        except OverflowError:  # an integer too large for a float
            raise ConfigError(f"{cls.DRIVER} config: {key}={_show(value)} is out of range {rng}") from None
        if (isinstance(value, float) and math.isnan(value)) or not rng.contains(value):
            raise ConfigError(f"{cls.DRIVER} config: {key}={_show(value)} is out of range {rng}")
        return value

    def __post_init__(self) -> None:
        for t1_key, t2_key in self.COHERENCE_PAIRS:
            t1, t2 = getattr(self, t1_key), getattr(self, t2_key)
            if not math.isinf(t1) and t2 > 2 * t1:
                raise ConfigError(f"{self.DRIVER} config: {t2_key}={t2!r} exceeds 2*{t1_key}={2 * t1!r} "
                                  f"(coherence cannot outlive twice the population lifetime)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _show(value: Any) -> str:
    """A short repr for error messages (huge integers and long strings are abbreviated)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"<{value.bit_length()}-bit integer>"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _read_toml(path: Path, driver: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{driver} config: file {str(path)!r} does not exist") from None
    except OSError as exc:  # a directory, no permission …
        raise ConfigError(f"{driver} config: cannot read file {str(path)!r}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{driver} config: file {str(path)!r} is not valid TOML: {exc}") from None


@dataclass(frozen=True)
class NVConfig(_DeviceConfig):
    """Mock NV centre: electron (qubit 0, communication) + ``carbons`` nuclear spins (memory)."""

    DRIVER: ClassVar[str] = "mock-nv"
    DEFAULTS_FILE: ClassVar[str] = "mock_nv.toml"
    COHERENCE_PAIRS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("electron_t1_ns", "electron_t2_ns"), ("carbon_t1_ns", "carbon_t2_ns"))

    carbons: int = _key(int, Range(0, 8))
    tick_ns: int = _key(int, Range(1, 10**9))
    electron_t1_ns: float = _key(float, TIME)
    electron_t2_ns: float = _key(float, TIME)
    carbon_t1_ns: float = _key(float, TIME)
    carbon_t2_ns: float = _key(float, TIME)
    electron_init_ns: int = _key(int, DURATION)
    carbon_init_ns: int = _key(int, DURATION)
    electron_gate_ns: int = _key(int, DURATION)
    carbon_gate_ns: int = _key(int, DURATION)
    ec_gate_ns: int = _key(int, DURATION)
    measure_ns: int = _key(int, DURATION)
    electron_init_error: float = _key(float, PROB)
    carbon_init_error: float = _key(float, PROB)
    electron_gate_error: float = _key(float, PROB)
    carbon_gate_error: float = _key(float, PROB)
    ec_gate_error: float = _key(float, PROB)
    readout_error_0: float = _key(float, PROB)
    readout_error_1: float = _key(float, PROB)
    attempt_duration_ns: int = _key(int, Range(1, 10**12))
    alpha: float = _key(float, Range(0.0, 0.5, lo_open=True))
    detection_efficiency: float = _key(float, PROB)
    dark_count_probability: float = _key(float, PROB)
    visibility: float = _key(float, PROB)
    carbon_dephasing_attempts_1e: float = _key(float, TIME)


@dataclass(frozen=True)
class IonConfig(_DeviceConfig):
    """Mock trapped-ion string: ``ions`` identical qubits, all-to-all Molmer-Sorensen."""

    DRIVER: ClassVar[str] = "mock-trapped-ion"
    DEFAULTS_FILE: ClassVar[str] = "mock_trapped_ion.toml"
    COHERENCE_PAIRS: ClassVar[tuple[tuple[str, str], ...]] = (("t1_ns", "t2_ns"),)

    ions: int = _key(int, Range(1, 8))
    tick_ns: int = _key(int, Range(1, 10**9))
    t1_ns: float = _key(float, TIME)
    t2_ns: float = _key(float, TIME)
    init_ns: int = _key(int, DURATION)
    gate_ns: int = _key(int, DURATION)
    ms_gate_ns: int = _key(int, DURATION)
    measure_ns: int = _key(int, DURATION)
    init_error: float = _key(float, PROB)
    gate_error: float = _key(float, PROB)
    ms_gate_error: float = _key(float, PROB)
    readout_error_0: float = _key(float, PROB)
    readout_error_1: float = _key(float, PROB)
    attempt_duration_ns: int = _key(int, Range(1, 10**12))
    detection_efficiency: float = _key(float, PROB)
    dark_count_probability: float = _key(float, PROB)
    visibility: float = _key(float, PROB)

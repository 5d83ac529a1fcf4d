"""Frozen, validated configuration of the mock NV and trapped-ion devices.

Values come, in this order (later wins), from a *preset* of the driver's defaults file
(``defaults/*.toml``), an optional user TOML file (flat ``key = value`` pairs) and keyword
overrides. A preset is a table of the defaults file; ``base = "<other table>"`` makes it start from
another preset (``realistic`` is the QNodeOS-era preset, ``ideal`` the same without noise), and
``description`` says which experiment it reproduces. Every value is checked against its allowed
range (or choices) and every unknown key is refused by name, so a typo never silently falls back
to a default. Times are nanoseconds of device time; probabilities are per operation.

>>> cfg = NVConfig.load(preset="ideal", alpha=0.05)
>>> cfg.alpha, cfg.ec_gate_error
(0.05, 0.0)
>>> "humphreys-2018" in NVConfig.presets()
True
"""
from __future__ import annotations

import dataclasses
import functools
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
#: Keys of a preset table that describe the preset instead of setting a value.
META_KEYS = ("base", "description")

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
PROB_BELOW_ONE = Range(0.0, 1.0, hi_open=True)
TIME = Range(0.0, math.inf, lo_open=True)  # coherence times; inf = no decay
DURATION = Range(0, 10**12)  # integer ns
LENGTH = Range(0.0, 1e5)  # km of fibre
NON_NEGATIVE = Range(0.0, 1e6)


def _key(kind: type, rng: Range) -> Any:
    return field(metadata={"type": kind, "range": rng})


def _choice(*choices: str) -> Any:
    return field(metadata={"type": str, "choices": choices})


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
    def presets(cls) -> dict[str, str]:
        """Preset name -> description, in the defaults file's order."""
        return {name: str(table.get("description", "")) for name, table in cls._tables().items()}

    @classmethod
    def preset_values(cls, preset: str) -> dict[str, Any]:
        """The raw values ``preset`` sets, its ``base`` chain resolved (not yet validated)."""
        tables = cls._tables()
        if not isinstance(preset, str) or preset not in tables:
            raise ConfigError(f"{cls.DRIVER} config: preset={_show(preset)} is unknown "
                              f"(choose one of {', '.join(tables)})")
        chain: list[str] = []
        name: Any = preset
        while name is not None:
            if name in chain:
                raise ConfigError(f"{cls.DRIVER} config: presets {' -> '.join(chain + [name])} form a cycle")
            if name not in tables:
                raise ConfigError(f"{cls.DRIVER} config: preset [{chain[-1]}] has base={_show(name)}, "
                                  f"which is not a table of {cls.DEFAULTS_FILE}")
            chain.append(name)
            name = tables[name].get("base")
        values: dict[str, Any] = {}
        for name in reversed(chain):
            table = {k: v for k, v in tables[name].items() if k not in META_KEYS}
            values.update(cls._known(table, f"defaults [{name}]"))
        return values

    @classmethod
    def _tables(cls) -> dict[str, dict[str, Any]]:
        tables = _read_toml(DEFAULTS_DIR / cls.DEFAULTS_FILE, cls.DRIVER)
        bad = [k for k, v in tables.items() if not isinstance(v, dict)]
        if bad:
            raise ConfigError(f"{cls.DRIVER} config: {cls.DEFAULTS_FILE} has top-level key(s) {bad} outside a preset table")
        return tables

    @classmethod
    def load(cls: type[C], *, preset: str = "realistic", config_file: str | Path | None = None,
             **overrides: Any) -> C:
        """Preset (its base chain first), then ``config_file``, then ``overrides``; validated."""
        values = cls.preset_values(preset)
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
        kind = meta["type"]
        if kind is str:
            choices = meta["choices"]
            if not isinstance(value, str) or value not in choices:
                raise ConfigError(f"{cls.DRIVER} config: {key}={_show(value)} must be one of {', '.join(choices)}")
            return value
        rng = meta["range"]
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
    if path.parent == DEFAULTS_DIR:
        return _read_defaults(path, driver)
    return _parse_toml(path, driver)


@functools.lru_cache(maxsize=8)
def _read_defaults(path: Path, driver: str) -> dict[str, Any]:
    """The shipped defaults files never change while running: parse each once."""
    return _parse_toml(path, driver)


def _parse_toml(path: Path, driver: str) -> dict[str, Any]:
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
    """Mock NV centre: electron (qubit 0, communication) + ``carbons`` nuclear spins (memory).

    Link keys (see :class:`~qnodeos.drivers.link_physics.LinkParams`): ``scheme`` single-click
    (default) or double-click (Barrett-Kok); ``detection_efficiency`` / ``peer_detection_efficiency``
    this node's and the peer's photon detection probability at zero fibre length;
    ``phase_noise_deg`` the interferometer phase uncertainty sigma; fibre and batch timing.
    ``carbon_phase_per_reset_rad``: r.m.s. phase a carbon picks up while a bright electron is reset
    (coupling x reset time); each attempt shrinks carbon coherence by 1 - a (1 - exp(-x^2/2)) per
    excitation round with bright population a. ``ionisation_probability``: per attempt; an ionised
    NV loses every stored state and the batch ends in a hardware failure.
    """

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
    scheme: str = _choice("single-click", "double-click")
    attempt_duration_ns: int = _key(int, Range(1, 10**12))
    alpha: float = _key(float, Range(0.0, 0.5, lo_open=True))
    detection_efficiency: float = _key(float, PROB)
    peer_detection_efficiency: float = _key(float, PROB)
    dark_count_probability: float = _key(float, PROB)
    visibility: float = _key(float, PROB)
    double_excitation_probability: float = _key(float, PROB)
    phase_noise_deg: float = _key(float, Range(0.0, 1e3))
    fibre_length_km: float = _key(float, LENGTH)
    fibre_attenuation_db_per_km: float = _key(float, Range(0.0, 100.0))
    fibre_ns_per_km: float = _key(float, NON_NEGATIVE)
    attempts_per_batch: int = _key(int, Range(1, 10**9))
    cr_check_ns: int = _key(int, DURATION)
    cr_check_failure_probability: float = _key(float, PROB_BELOW_ONE)
    phase_stabilisation_ns: int = _key(int, DURATION)
    ionisation_probability: float = _key(float, PROB)
    carbon_phase_per_reset_rad: float = _key(float, Range(0.0, 1e3))


@dataclass(frozen=True)
class IonConfig(_DeviceConfig):
    """Mock trapped-ion string: ``ions`` identical qubits, all-to-all Molmer-Sorensen.

    ``dephasing``: ``exponential`` (Markovian, coherence exp(-t/T2)) or ``gaussian`` (quasi-static
    field noise, coherence exp(-(t/T2)^2) counted from the ion's last reset). ``emission_fidelity``:
    ion-photon Bell-state fidelity of one emission; the link is double-click (two-photon Bell-state
    measurement) with the fibre and batch timing of :class:`NVConfig` (``batch_overhead_ns``: fixed
    time at the start of every batch, e.g. cooling).
    """

    DRIVER: ClassVar[str] = "mock-trapped-ion"
    DEFAULTS_FILE: ClassVar[str] = "mock_trapped_ion.toml"
    COHERENCE_PAIRS: ClassVar[tuple[tuple[str, str], ...]] = (("t1_ns", "t2_ns"),)

    ions: int = _key(int, Range(1, 8))
    tick_ns: int = _key(int, Range(1, 10**9))
    t1_ns: float = _key(float, TIME)
    t2_ns: float = _key(float, TIME)
    dephasing: str = _choice("exponential", "gaussian")
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
    peer_detection_efficiency: float = _key(float, PROB)
    dark_count_probability: float = _key(float, PROB)
    visibility: float = _key(float, PROB)
    emission_fidelity: float = _key(float, Range(0.25, 1.0))
    fibre_length_km: float = _key(float, LENGTH)
    fibre_attenuation_db_per_km: float = _key(float, Range(0.0, 100.0))
    fibre_ns_per_km: float = _key(float, NON_NEGATIVE)
    attempts_per_batch: int = _key(int, Range(1, 10**9))
    batch_overhead_ns: int = _key(int, DURATION)

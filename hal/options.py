"""How a driver declares the options its factory takes, and how the registry hands them over.

The OS knows two things about every device it builds — the node it serves and, for reproducible runs,
a seed — and the user knows the rest (a VISA resource, a noise preset …). A driver declares what its
factory accepts in :attr:`DriverInfo.options <qnodeos.hal.DriverInfo.options>`, a tuple of
:class:`DriverOption` (plain strings are short for options without help); the standard ``node`` and
``seed`` options are :data:`NODE` and :data:`SEED`. The registry then passes each factory only what it
declared:

* ``node`` goes to a factory that takes it; a device whose factory does not gets the name set on its
  ``node`` attribute instead;
* ``seed`` goes to a factory that takes it; ``seed=None`` (no seed asked for) is simply not passed
  to one that does not, while a real seed is refused — that driver's outcomes cannot be seeded;
* every other option must be declared, and required ones must be given.

Refusals are :class:`~qnodeos.hal.errors.ConfigError` naming the driver and the option. A driver that
declares nothing is described by its factory's signature; a factory taking ``**kwargs`` then accepts
any option.

>>> info_options = (NODE, SEED, DriverOption("preset", "noise preset"))
>>> select_options("mock-x", OptionSet.of(info_options), {"preset": "ideal"}, node="alice", seed=None)
{'preset': 'ideal', 'node': 'alice'}
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from .errors import ConfigError

__all__ = ["NODE", "SEED", "DriverOption", "OptionSet", "select_options"]


@dataclass(frozen=True)
class DriverOption:
    """One keyword a driver factory accepts: its ``name``, a line of ``help``, and whether it must be
    given (``required``)."""

    name: str
    help: str = ""
    required: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"driver option name {self.name!r} is not a Python identifier")

    def to_dict(self) -> dict[str, Any]:
        """The option as plain data (``qnodeos drivers --json``)."""
        return {"name": self.name, "help": self.help, "required": self.required}


NODE = DriverOption("node", "name of the node this device serves (peers name it in entanglement attempts)")
SEED = DriverOption("seed", "seed of the device's random numbers: the same seed, the same outcomes")


@dataclass(frozen=True)
class OptionSet:
    """The options a factory accepts; ``open`` when it also takes any other keyword."""

    options: tuple[DriverOption, ...] = ()
    open: bool = False

    @classmethod
    def of(cls, declared: Iterable[DriverOption | str]) -> "OptionSet":
        """The set ``declared`` by a driver (strings stand for options without help); an option
        declared twice is refused."""
        options = tuple(o if isinstance(o, DriverOption) else DriverOption(o) for o in declared)
        names = [o.name for o in options]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"driver options declared twice: {twice}")
        return cls(options)

    @classmethod
    def from_factory(cls, factory: Callable[..., Any]) -> "OptionSet":
        """From the factory's signature: its keyword parameters; ``**kwargs`` makes the set open."""
        try:
            params = inspect.signature(factory).parameters.values()
        except (TypeError, ValueError):  # a builtin or C callable: nothing to read, accept anything
            return cls((), open=True)
        options = tuple(DriverOption(p.name, required=p.default is inspect.Parameter.empty)
                        for p in params
                        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY))
        return cls(options, open=any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params))

    @property
    def names(self) -> tuple[str, ...]:
        """The declared options' names, in order."""
        return tuple(o.name for o in self.options)

    def declares(self, name: str) -> bool:
        """Whether an option called ``name`` is declared."""
        return name in self.names

    def accepts(self, name: str) -> bool:
        """Whether the factory takes the keyword ``name`` (declared, or any keyword when open)."""
        return self.open or self.declares(name)


def select_options(driver: str, options: OptionSet, config: Mapping[str, Any], *,
                   node: str | None, seed: int | None) -> dict[str, Any]:
    """The keyword arguments to call driver ``driver``'s factory with (see the module docstring): the
    driver configuration ``config`` plus the ``node`` name and ``seed``, checked against ``options``
    (an option the factory does not take, a missing required one or a conflicting value is refused
    by name)."""
    bad_keys = [k for k in config if not isinstance(k, str)]
    if bad_keys:
        raise ConfigError(f"driver {driver!r}: option names must be strings, got {bad_keys!r}")
    kwargs = dict(config)
    for name, value in (("node", node), ("seed", seed)):
        if value is None:
            continue
        if name in kwargs and kwargs[name] != value:
            raise ConfigError(f"driver {driver!r}: {name} is given twice ({kwargs[name]!r} in the driver "
                              f"configuration, {value!r} for the node); give it once")
        kwargs[name] = value
    known = ", ".join(options.names) or "none"
    if "seed" in kwargs and not options.accepts("seed"):
        if kwargs["seed"] is not None:
            raise ConfigError(f"driver {driver!r} takes no seed: its outcomes come from its hardware, which a "
                              f"seed cannot fix (options it takes: {known})")
        del kwargs["seed"]
    if "node" in kwargs and not options.accepts("node"):
        del kwargs["node"]  # the registry names the device itself
    unknown = [k for k in kwargs if not options.accepts(k)]
    if unknown:
        raise ConfigError(f"driver {driver!r} does not accept option{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(repr(k) for k in unknown)} (options it takes: {known})")
    missing = [o for o in options.options if o.required and o.name not in kwargs]
    if missing:
        what = "; ".join(f"{o.name!r}" + (f" ({o.help})" if o.help else "") for o in missing)
        raise ConfigError(f"driver {driver!r} needs option{'s' if len(missing) > 1 else ''} {what}")
    return kwargs

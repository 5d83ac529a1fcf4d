"""Fuzzing node and driver configuration (issue: reliability).

``Node.from_config(path)`` on random and mutated TOML — ``[node]`` and ``[driver]`` tables with
random keys, values and types — returns a working node or raises ``QNodeOSError`` /
``ConfigError`` / ``DriverLoadError`` with a message naming the cause; so does
``MockNVDevice.from_config(**kwargs)`` / ``MockIonDevice.from_config(**kwargs)`` (a ``ConfigError``
naming the key). A device that is built is usable: a small program runs on it and frees its qubit.

Deterministic and bounded for CI (``derandomize``, no example database); ``QNODEOS_FUZZ_SCALE``
multiplies the example counts and ``QNODEOS_FUZZ_RANDOM=1`` draws new examples.
"""
from __future__ import annotations

import datetime
import json
import math
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from qnodeos.drivers.config import IonConfig, NVConfig
from qnodeos.drivers.mock_ion import MockIonDevice
from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.errors import QNodeOSError
from qnodeos.hal.errors import ConfigError, DriverLoadError
from qnodeos.hal.registry import DriverRegistry
from qnodeos.node import Node
from qnodeos.process import ProcessState

from os_helpers import X_MEASURE

SCALE = float(os.environ.get("QNODEOS_FUZZ_SCALE", "1"))
RANDOM = bool(os.environ.get("QNODEOS_FUZZ_RANDOM"))


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None, derandomize=not RANDOM,
                    database=None, suppress_health_check=list(HealthCheck), print_blob=True)


ALLOWED = (QNodeOSError, ConfigError, DriverLoadError)
REGISTRY = DriverRegistry.load()  # shared: loading entry points for every example costs ~30 ms
MOCK_DRIVERS = {"mock-nv": NVConfig, "mock-trapped-ion": IonConfig}
NODE_KEYS = ("name", "driver", "seed", "min_fidelity", "trace")
FACTORY_KEYS = ("preset", "config_file")  # MockDevice.from_config's own keywords (besides node/seed)

_TMP = Path(tempfile.mkdtemp(prefix="qnodeos-fuzz-configs-"))


def write(name: str, content: str | bytes) -> Path:
    path = _TMP / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


# ----------------------------------------------------------------------------------- TOML writing
def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_key(key: str) -> str:
    return key if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key) else json.dumps(key)


def to_toml(doc: dict) -> str:
    scalars = [f"{toml_key(k)} = {toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    tables = [f"[{toml_key(k)}]\n" + "".join(f"{toml_key(kk)} = {toml_value(vv)}\n" for kk, vv in v.items())
              for k, v in doc.items() if isinstance(v, dict)]
    return "\n".join(scalars) + "\n" + "\n".join(tables)


# ---------------------------------------------------------------------------------- strategies
int64 = st.integers(-2**63, 2**63 - 1)
scalar = st.one_of(st.booleans(), st.integers(-3, 10), int64, st.floats(), st.text(max_size=12),
                   st.sampled_from(["", "mock-nv", "ideal", "realistic", "inf", "-1", "1e3"]),
                   st.dates(), st.datetimes(), st.times())
toml_any = st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                        max_leaves=6)
random_key = st.one_of(st.text(min_size=1, max_size=10), st.sampled_from(["Name", "drivers", "carbon", "ion"]))


def plausible(key: str):
    """Values of the right type and (mostly) range for a device config key."""
    cls = NVConfig if key in NVConfig.keys() else IonConfig
    meta = next(f.metadata for f in cls.__dataclass_fields__.values() if f.name == key)
    if meta["type"] is str:  # a choice: the allowed words and near misses
        return st.one_of(st.sampled_from(meta["choices"]), st.sampled_from(["", "Single-Click", "gauss"]))
    rng = meta["range"]
    if meta["type"] is int:
        hi = int(min(rng.hi, 10**13))
        return st.one_of(st.integers(int(rng.lo), hi), st.sampled_from([int(rng.lo) - 1, hi + 1]))
    lo, hi = rng.lo, rng.hi
    return st.one_of(st.floats(lo, min(hi, 1e15)), st.sampled_from([lo, hi, -0.0, math.inf, math.nan, 2.0]))


DEVICE_KEYS = sorted(set(NVConfig.keys()) | set(IonConfig.keys()))
device_entry = st.one_of(
    st.sampled_from(DEVICE_KEYS).flatmap(lambda k: st.tuples(st.just(k), st.one_of(plausible(k), toml_any))),
    st.tuples(st.sampled_from(FACTORY_KEYS), st.one_of(st.sampled_from(["ideal", "realistic", "bogus"]), toml_any)),
    st.tuples(random_key, toml_any),
)
node_entry = st.one_of(
    st.tuples(st.just("name"), st.one_of(st.sampled_from(["a", "alice", "n-1"]), toml_any)),
    st.tuples(st.just("driver"), st.one_of(st.sampled_from([*MOCK_DRIVERS, "no-such-driver", ""]),
                                           st.text(max_size=10), toml_any)),
    st.tuples(st.just("seed"), st.one_of(st.integers(-2, 2**64), toml_any)),
    st.tuples(st.just("min_fidelity"), st.one_of(st.floats(0, 1), st.sampled_from([-0.1, 1.5, 2]), toml_any)),
    st.tuples(st.just("trace"), st.booleans()),
    st.tuples(random_key, toml_any),
)


@st.composite
def node_document(draw) -> dict:
    doc: dict = {}
    if draw(st.booleans()):
        doc["node"] = dict(draw(st.lists(node_entry, max_size=5)))
    if draw(st.integers(0, 3)):
        driver = dict(draw(st.lists(st.one_of(device_entry, st.tuples(st.sampled_from(["node", "seed"]), toml_any)),
                                    max_size=6)))
        doc["driver"] = driver
    if draw(st.integers(0, 9)) == 0:  # [node] or [driver] not a table
        doc[draw(st.sampled_from(["node", "driver"]))] = draw(scalar)
    if draw(st.integers(0, 5)) == 0:
        doc[draw(random_key.filter(lambda k: k not in ("node", "driver")))] = draw(toml_any)
    return doc


# -------------------------------------------------------------------------------------- oracle
def check_error(exc: BaseException, *names: str) -> None:
    assert isinstance(exc, ALLOWED), f"unexpected {type(exc).__name__}: {exc}"
    message = str(exc)
    assert message.strip() and not message.rstrip().endswith(":"), message
    if names:
        assert any(n in message for n in names), f"{message!r} names none of {names}"


def check_node_usable(node: Node) -> None:
    try:
        pid = node.submit(X_MEASURE)
        node.run()
        result = node.result(pid)
        assert result.state is ProcessState.DONE, result.error
        assert node.memory.allocated() == {}
    finally:
        node.close()


def load_node(path: Path, shared_registry: bool = True) -> Node | None:
    try:
        node = Node.from_config(path, registry=REGISTRY) if shared_registry else Node.from_config(path)
    except ALLOWED as exc:
        check_error(exc)
        return None
    except Exception as exc:  # noqa: BLE001 - the point of the test
        pytest.fail(f"Node.from_config raised {type(exc).__name__}: {exc}")
    check_node_usable(node)
    return node


# ----------------------------------------------------------------------------------- node configs
@fuzz_settings(300)
@given(node_document())
def test_random_node_configs_give_a_node_or_a_clear_error(doc):
    text = to_toml(doc)
    note(text)
    load_node(write("random.toml", text))


VALID_CONFIGS = [
    '[node]\nname = "alice"\ndriver = "mock-nv"\nseed = 3\n\n[driver]\npreset = "ideal"\ncarbons = 3\n',
    '[node]\ndriver = "mock-trapped-ion"\nmin_fidelity = 0.5\ntrace = false\n\n[driver]\nions = 2\nt2_ns = 1e9\n',
    '# comment\n[node]\nname = "n"\n[driver]\npreset = "realistic"\nalpha = 0.05\n',
]


@pytest.mark.parametrize("text", VALID_CONFIGS)
def test_valid_configs_load(text):
    assert load_node(write("valid.toml", text), shared_registry=False) is not None


@st.composite
def mutated_config(draw) -> str:
    text = list(draw(st.sampled_from(VALID_CONFIGS)))
    for _ in range(draw(st.integers(1, 5))):
        pos = draw(st.integers(0, len(text)))
        op = draw(st.integers(0, 2))
        if op == 0 and pos < len(text):
            del text[pos:pos + draw(st.integers(1, 6))]
        elif op == 1:
            text[pos:pos] = draw(st.one_of(st.sampled_from(list('[]="\n#.,{}-_ 0xe')), st.text(max_size=4)))
        elif pos < len(text):
            text[pos] = draw(st.characters())
    return "".join(text)


@fuzz_settings(150)
@given(mutated_config())
def test_mutated_config_files(text):
    note(repr(text))
    load_node(write("mutated.toml", text))


@pytest.mark.parametrize("table, key, value, names", [
    ("node", "colour", '"red"', ("colour",)),
    ("node", "seed", '"x"', ("seed",)),
    ("node", "seed", "-4", ("seed",)),
    ("node", "seed", "1.5", ("seed",)),
    ("node", "name", '""', ("node=", "name")),
    ("node", "name", "[1]", ("node=", "name")),
    ("node", "driver", '"no-such-driver"', ("no-such-driver",)),
    ("driver", "carbons", "99", ("carbons",)),
    ("driver", "carbons", '"2"', ("carbons",)),
    ("driver", "alpha", "nan", ("alpha",)),
    ("driver", "alpha", "1e999", ("alpha",)),
    ("driver", "electron_t2_ns", "-1.0", ("electron_t2_ns",)),
    ("driver", "carbons", "1979-05-27", ("carbons",)),
    ("driver", "caarbons", "2", ("caarbons",)),
    ("driver", "preset", '"perfect"', ("preset",)),
    ("driver", "config_file", "5", ("config_file",)),
    ("driver", "config_file", '""', ("config_file",)),
    ("driver", "config_file", '"/"', ("/",)),
    ("driver", "config_file", '"/no/such/file.toml"', ("/no/such/file.toml",)),
])
def test_one_bad_entry_is_named(table, key, value, names):
    base = {"node": {"driver": '"mock-nv"'}, "driver": {"preset": '"ideal"'}}
    base[table][key] = value
    text = "".join(f"[{t}]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()) for t, entries in base.items())
    with pytest.raises(ALLOWED) as err:
        Node.from_config(write("one-bad.toml", text), registry=REGISTRY)
    check_error(err.value, *names)


def test_unreadable_config_files_are_refused():
    for path in (_TMP / "missing.toml", _TMP, write("bad.toml", "[node\n")):
        with pytest.raises(QNodeOSError) as err:
            Node.from_config(path)
        check_error(err.value, str(path))


# ------------------------------------------------------------------------------- driver configs
DEVICES = {"nv": (MockNVDevice, NVConfig), "ion": (MockIonDevice, IonConfig)}
python_value = st.one_of(toml_any, st.none(), st.integers(), st.binary(max_size=4), st.just(Path("/")),
                         st.just(object()), st.complex_numbers(), st.sampled_from([10**400, -10**400, 2**64]))
kwarg_entry = st.one_of(
    st.sampled_from(DEVICE_KEYS).flatmap(lambda k: st.tuples(st.just(k), st.one_of(plausible(k), python_value))),
    st.tuples(st.sampled_from(["preset", "config_file", "node", "seed"]), python_value),
    st.tuples(st.sampled_from(["preset"]), st.sampled_from(["ideal", "realistic"])),
    st.tuples(st.sampled_from(["node"]), st.sampled_from(["a", "bob"])),
    st.tuples(st.sampled_from(["seed"]), st.integers(0, 2**70)),
    st.tuples(st.text(min_size=1, max_size=10).filter(lambda k: k != "state_space"), python_value),
)


def build_device(platform: str, kwargs: dict):
    cls, _ = DEVICES[platform]
    try:
        device = cls.from_config(**kwargs)
    except ConfigError as exc:
        check_error(exc)
        return None
    except Exception as exc:  # noqa: BLE001 - the point of the test
        pytest.fail(f"{cls.__name__}.from_config({kwargs!r}) raised {type(exc).__name__}: {exc}")
    check_node_usable(Node(device))
    return device


@fuzz_settings(500)
@given(st.sampled_from(sorted(DEVICES)), st.lists(kwarg_entry, max_size=6).map(dict))
def test_random_driver_kwargs_give_a_device_or_a_config_error(platform, kwargs):
    build_device(platform, kwargs)


@fuzz_settings(150)
@given(st.sampled_from(sorted(DEVICES)), st.data())
def test_one_bad_driver_kwarg_is_named(platform, data):
    _, config = DEVICES[platform]
    key = data.draw(st.one_of(st.sampled_from(config.keys()), st.sampled_from(["preset", "config_file", "node",
                                                                               "seed"]),
                              st.text(min_size=1, max_size=10)), label="key")
    value = data.draw(st.one_of(st.sampled_from([None, "x", [], {}, b"\x00", -1, 10**400, math.nan, -math.inf,
                                                 True, 1.5, 2**63, "", Path("/")]), python_value), label="value")
    kwargs = {"preset": "ideal", key: value}
    cls, _ = DEVICES[platform]
    try:
        device = cls.from_config(**kwargs)
    except ConfigError as exc:
        files = [str(value), repr(str(value))[1:-1]] if key == "config_file" else []
        check_error(exc, key, repr(key)[1:-1], "preset", *files)
        return
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"{cls.__name__}.from_config({kwargs!r}) raised {type(exc).__name__}: {exc}")
    check_node_usable(Node(device))


@fuzz_settings(100)
@given(st.sampled_from(sorted(DEVICES)), st.one_of(
    st.lists(device_entry, max_size=6).map(dict).map(to_toml),
    st.text(max_size=80),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1"))))
def test_random_driver_config_files(platform, text):
    note(text)
    path = write("driver.toml", text.encode("utf-8", errors="surrogateescape"))
    build_device(platform, {"preset": "ideal", "config_file": str(path)})


def test_undecodable_driver_config_file_is_a_config_error():
    path = write("latin1.toml", b'carbons = "\xff"\n')
    with pytest.raises(ConfigError, match="latin1.toml"):
        MockNVDevice.from_config(config_file=path)


# ------------------------------------------------------- regressions of bugs the fuzzers found
def _from_text(text: str | bytes) -> None:
    Node.from_config(write("regression.toml", text), registry=REGISTRY)


NODE_CONFIG_BUGS = [  # each once ended in TypeError, AttributeError or UnicodeDecodeError, or was accepted
    pytest.param('node = 5\n', id="[node]-not-a-table"),
    pytest.param('driver = "mock-nv"\n', id="[driver]-not-a-table"),
    pytest.param('[driver]\nseed = 3\n', id="[driver]-seed-clashes-with-the-node-seed"),
    pytest.param('[driver]\nnode = "x"\n', id="[driver]-node-clashes-with-the-node-name"),
    pytest.param('[node]\ndriver = 5\n', id="[node]-driver-not-a-string"),
    pytest.param('[node]\nmin_fidelity = "high"\n', id="[node]-min_fidelity-not-checked"),
    pytest.param(b'[node]\nname = "\xff"\n', id="config-not-utf8"),
]


@pytest.mark.parametrize("text", NODE_CONFIG_BUGS)
def test_malformed_node_tables_are_refused(text):
    with pytest.raises(ALLOWED) as err:
        _from_text(text)
    check_error(err.value)


def test_state_space_of_the_wrong_type_is_a_config_error():
    with pytest.raises(ConfigError, match="state_space"):
        MockNVDevice.from_config(state_space=5)

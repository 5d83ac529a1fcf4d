"""The pluggy driver registry against real installed plugin packages (see tests/plugins/)."""
from __future__ import annotations

import math

import pytest

import qnodeos
from qnodeos.hal import (
    Axis,
    ConfigError,
    DriverInfo,
    DriverLoadError,
    EntangleAttempt,
    Init,
    Measure,
    QDevice,
    Rotate,
    Status,
    Wait,
    hookimpl,
)
from qnodeos.hal.conformance.kit import QDeviceConformance
from qnodeos.hal.registry import DriverFilter, DriverRegistry, ProblemKind, default_registry

pytestmark = pytest.mark.usefixtures("plugin_packages")

BUILTIN = {"mock-nv": "nv", "mock-trapped-ion": "trapped_ion"}
BROKEN = {
    # entry point: (problem kind, words the reason must contain)
    "broken-import": (ProblemKind.IMPORT, ["ModuleNotFoundError", "qnodeos_nonexistent_vendor_sdk"]),
    "broken-hook": (ProblemKind.VALIDATION, ["PluginValidationError", "config"]),
    "broken-raises": (ProblemKind.HOOK_ERROR, ["RuntimeError", "licence server unreachable"]),
    "broken-type": (ProblemKind.BAD_RETURN, ["dict", "DriverInfo"]),
    "broken-duplicate": (ProblemKind.DUPLICATE, ["mock-nv", "qnodeos 0.1.0 (entry point mock-nv)"]),
}


@pytest.fixture(scope="module")
def registry() -> DriverRegistry:
    return DriverRegistry.load(environ={})


def load(**env: str) -> DriverRegistry:
    return DriverRegistry.load(environ={f"QNODEOS_DRIVERS_{k.upper()}": v for k, v in env.items()})


# -- discovery ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_drivers_come_through_entry_points(registry: DriverRegistry, name: str) -> None:
    info = registry.get(name)
    assert info.name == name
    assert info.version == qnodeos.__version__
    assert info.platform == BUILTIN[name]
    assert info.origin == f"qnodeos {qnodeos.__version__} (entry point {name})"
    assert info.description


def test_third_party_driver_is_found(registry: DriverRegistry) -> None:
    info = registry.get("example-ideal")
    assert (info.version, info.platform) == ("0.1.0", "generic")
    assert info.origin == "qnodeos-example-driver 0.1.0 (entry point example-ideal)"


def test_exactly_the_good_drivers_load(registry: DriverRegistry) -> None:
    assert set(registry.drivers) >= {*BUILTIN, "example-ideal"}
    assert not any(name.startswith("broken") for name in registry.drivers)
    assert registry.blocked == []


@pytest.mark.parametrize("plugin", sorted(BROKEN))
def test_each_broken_plugin_is_reported_with_its_cause(registry: DriverRegistry, plugin: str) -> None:
    kind, words = BROKEN[plugin]
    [problem] = [p for p in registry.problems if p.name == plugin]
    assert problem.kind == kind
    for word in words:
        assert word in problem.message
    assert problem.origin == f"qnodeos-broken-plugins 0.1.0 (entry point {plugin})"
    assert "\n" not in problem.message


def test_duplicate_does_not_shadow_builtin(registry: DriverRegistry) -> None:
    assert registry.get("mock-nv").version == qnodeos.__version__


def test_failed_plugins_leave_no_hookimpls_behind(registry: DriverRegistry) -> None:
    """Only the working plugins stay registered, so calling the hook on the whole manager works."""
    results = registry.plugin_manager.hook.qnodeos_drivers()
    names = {info.name for result in results for info in result}
    assert {*BUILTIN, "example-ideal"} <= names
    for name in ("broken-import", "broken-hook", "broken-raises", "broken-type"):
        assert not registry.plugin_manager.has_plugin(name)


# -- allow / block -----------------------------------------------------------------------------------

def test_block_by_driver_glob_lists_blocked_drivers() -> None:
    reg = load(block="mock-*")
    assert "mock-nv" not in reg.drivers and "mock-trapped-ion" not in reg.drivers
    assert "example-ideal" in reg.drivers
    blocked = {b.name: b for b in reg.blocked}
    assert {"mock-nv", "mock-trapped-ion"} <= set(blocked)
    assert "QNODEOS_DRIVERS_BLOCK" in blocked["mock-nv"].reason and "mock-*" in blocked["mock-nv"].reason


def test_blocked_entry_points_are_never_imported() -> None:
    reg = load(block="broken-*")
    assert reg.problems == []  # broken-import would have failed had it been imported
    assert {b.name for b in reg.blocked} == set(BROKEN)
    assert all(b.info is None for b in reg.blocked)


def test_block_by_driver_name_when_entry_point_differs() -> None:
    reg = DriverRegistry(DriverFilter(block=("inproc-*",)))
    reg.register(_Plugin("inproc-a", "inproc-b", "kept"), name="some-plugin")
    assert set(reg.drivers) == {"kept"}
    blocked = {b.name: b for b in reg.blocked}
    assert set(blocked) == {"inproc-a", "inproc-b"}
    assert blocked["inproc-a"].info is not None and blocked["inproc-a"].info.platform == "generic"


def test_allow_glob_keeps_only_matching_drivers() -> None:
    reg = load(allow="example-*")
    assert set(reg.drivers) == {"example-ideal"}
    reasons = {b.name: b.reason for b in reg.blocked}
    assert {"mock-nv", "mock-trapped-ion"} <= set(reasons)
    assert "QNODEOS_DRIVERS_ALLOW" in reasons["mock-nv"]


def test_allow_matches_entry_point_names_too() -> None:
    reg = load(allow="mock-trapped-ion, example-ideal ,", block="")
    assert set(reg.drivers) == {"mock-trapped-ion", "example-ideal"}


def test_block_wins_over_allow_and_matching_ignores_case() -> None:
    reg = load(allow="mock-*", block="MOCK-TRAPPED-ION,broken-*")
    assert set(reg.drivers) == {"mock-nv"}
    assert reg.problems == []
    assert "mock-trapped-ion" in {b.name for b in reg.blocked}


def test_get_blocked_driver_says_it_is_blocked() -> None:
    with pytest.raises(DriverLoadError, match=r"'mock-nv' is blocked .*QNODEOS_DRIVERS_BLOCK"):
        load(block="mock-nv").get("mock-nv")


def test_environ_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QNODEOS_DRIVERS_ALLOW", "mock-nv")
    monkeypatch.delenv("QNODEOS_DRIVERS_BLOCK", raising=False)
    assert set(DriverRegistry.load().drivers) == {"mock-nv"}


# -- lookup and creation -----------------------------------------------------------------------------

def test_unknown_driver_error_names_it_and_lists_known(registry: DriverRegistry) -> None:
    with pytest.raises(DriverLoadError) as err:
        registry.get("no-such-driver")
    msg = str(err.value)
    assert "'no-such-driver'" in msg
    for name in (*BUILTIN, "example-ideal"):
        assert name in msg
    with pytest.raises(DriverLoadError, match="no-such-driver"):
        registry.create("no-such-driver")


def test_unknown_driver_that_is_a_broken_plugin_says_why(registry: DriverRegistry) -> None:
    with pytest.raises(DriverLoadError, match=r"unknown driver 'broken-raises'.*licence server"):
        registry.get("broken-raises")


def test_example_driver_executes_instructions(registry: DriverRegistry) -> None:
    device = registry.create("example-ideal", node="alice")
    assert isinstance(device, QDevice)
    assert device.node == "alice"
    caps = device.capabilities
    assert (caps.num_qubits, caps.tick_ns, caps.platform.value) == (2, 1000, "generic")

    flip = Rotate(1, Axis.X, math.pi)
    responses = device.execute_many([Init(0), Init(1), flip, Measure(0), Measure(1)])
    assert [r.status for r in responses] == [Status.OK] * 3 + [Status.MEASURED] * 2
    assert [r.outcome for r in responses[3:]] == [0, 1]
    assert [(r.start_ns, r.end_ns) for r in responses] == [(i * 1000, (i + 1) * 1000) for i in range(5)]
    assert device.now_ns == 5000

    assert device.execute(Rotate(1, Axis.X, -3 * math.pi)).ok
    assert device.execute(Measure(1)).outcome == 0
    assert [device.execute(i).ok for i in (Rotate(1, Axis.X, math.pi / 2),) * 2] == [True, True]
    assert device.execute(Measure(1)).outcome == 1

    wait = device.execute(Wait(2500))
    assert (wait.status, wait.end_ns - wait.start_ns) == (Status.OK, 3000)

    device.execute(flip)
    device.reset()
    assert device.execute(Measure(1)).outcome == 0


@pytest.mark.parametrize("instr, status, words", [
    (Rotate(0, Axis.Y, math.pi), Status.UNSUPPORTED, ["about y"]),
    (Rotate(0, Axis.Z, math.pi / 2), Status.UNSUPPORTED, ["about z"]),
    (Measure(2), Status.INVALID_QUBIT, ["no qubit 2"]),
    (EntangleAttempt(0, "bob"), Status.UNSUPPORTED, ["entanglement"]),
])
def test_example_driver_refuses_with_responses(registry: DriverRegistry, instr, status, words) -> None:
    device = registry.create("example-ideal")
    before = device.now_ns
    response = device.execute(instr)
    assert response.status == status and not response.ok
    for word in words:
        assert word in response.message
    assert device.now_ns == before
    with pytest.raises(Exception, match="example-ideal"):
        response.raise_for_status()


def test_example_driver_superpositions_are_random_but_seeded(registry: DriverRegistry) -> None:
    def outcomes(seed: int) -> list[int]:
        device = registry.create("example-ideal", seed=seed)
        out = []
        for _ in range(200):
            device.execute_many([Init(0), Rotate(0, Axis.X, math.pi / 2)])
            first = device.execute(Measure(0)).outcome
            assert device.execute(Measure(0)).outcome == first  # measurement collapses the qubit
            out.append(first)
        return out

    assert outcomes(7) == outcomes(7)
    assert 60 < sum(outcomes(7)) < 140


@pytest.mark.parametrize("config, word", [({"colour": "blue"}, "colour"), ({"seed": "x"}, "seed"),
                                          ({"node": ""}, "node")])
def test_example_driver_rejects_bad_config(registry: DriverRegistry, config: dict, word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        registry.create("example-ideal", **config)


class TestExampleDriverConformance(QDeviceConformance):
    """The third-party example, created through the registry, honours the whole QDevice contract."""

    @pytest.fixture
    def qdevice(self, plugin_packages):
        with DriverRegistry.load(environ={}).create("example-ideal", seed=1) as device:
            yield device


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_factories_create_devices(registry: DriverRegistry, name: str) -> None:
    module = {"mock-nv": "qnodeos.drivers.mock_nv", "mock-trapped-ion": "qnodeos.drivers.mock_ion"}[name]
    pytest.importorskip(module)
    device = registry.create(name)
    assert isinstance(device, QDevice)
    assert device.capabilities.platform.value == BUILTIN[name]


def test_factory_failure_becomes_driver_load_error() -> None:
    def explode(**config):
        raise ZeroDivisionError("boom")

    reg = DriverRegistry()
    reg.register(_Plugin("fragile", factory=explode), name="fragile-plugin")
    with pytest.raises(DriverLoadError, match=r"'fragile'.*ZeroDivisionError: boom"):
        reg.create("fragile")


# -- in-process registration -------------------------------------------------------------------------

class _Plugin:
    """An in-process plugin object providing drivers named ``names``."""

    def __init__(self, *names: str, factory=None) -> None:
        self.names = names
        self.factory = factory or (lambda **config: None)

    @hookimpl
    def qnodeos_drivers(self) -> list[DriverInfo]:
        return [DriverInfo(n, "9.9", "generic", self.factory) for n in self.names]


def test_register_in_process_plugin() -> None:
    reg = DriverRegistry()
    assert reg.register(_Plugin("scratch"), name="scratch-plugin") == ["scratch"]
    assert reg.get("scratch").origin == "registered in-process (plugin scratch-plugin)"
    assert len(reg) == 1 and "scratch" in reg


def test_register_skips_duplicate_driver_but_keeps_the_rest() -> None:
    reg = DriverRegistry()
    reg.register(_Plugin("one"), name="first")
    assert reg.register(_Plugin("one", "two"), name="second") == ["two"]
    [problem] = reg.problems
    assert (problem.name, problem.kind) == ("second", ProblemKind.DUPLICATE)
    assert "'one'" in problem.message and "plugin first" in problem.message


def test_register_broken_plugin_raises() -> None:
    class Raises:
        @hookimpl
        def qnodeos_drivers(self):
            raise ValueError("nope")

    class NoHook:
        def qnodeos_drivers(self):  # forgot @hookimpl
            return []

    reg = DriverRegistry()
    with pytest.raises(DriverLoadError, match=r"'raises' \[hook-error\].*ValueError: nope"):
        reg.register(Raises(), name="raises")
    with pytest.raises(DriverLoadError, match=r"no-hook"):
        reg.register(NoHook(), name="nohook")
    with pytest.raises(DriverLoadError, match="duplicate"):
        plugin = _Plugin("x")
        reg.register(plugin, name="a")
        reg.register(plugin, name="b")
    assert set(reg.drivers) == {"x"}


def test_registries_are_independent(registry: DriverRegistry) -> None:
    own = DriverRegistry()
    own.register(_Plugin("private"), name="private")
    assert "private" not in registry.drivers
    assert "private" not in DriverRegistry.load(environ={}).drivers
    assert registry.drivers is not registry.drivers  # callers get copies


def test_default_registry_is_lazy_and_cached() -> None:
    default_registry.cache_clear()
    try:
        first = default_registry()
        assert isinstance(first, DriverRegistry) and default_registry() is first
    finally:
        default_registry.cache_clear()

"""Each distinct SDK subroutine is compiled once: on the host (netqasm's compiler) and on the node."""
from __future__ import annotations

from netqasm.lang.parsing.text import assemble_subroutine, parse_text_protosubroutine
from netqasm.sdk.transpile import NVSubroutineTranspiler

from qnodeos.apps.subroutine_cache import CompiledSubroutines
from qnodeos.drivers.mock_nv import MockNVDevice
from qnodeos.node import Node

PROGRAM = """# NETQASM 1.0
# APPID 0
set R0 {n}
array 4 @{a}
store R0 @{a}[R0]
set Q0 0
qalloc Q0
init Q0
h Q0
meas Q0 M0
ret_reg M0
"""


def _proto(n: int = 1, a: int = 0):
    return parse_text_protosubroutine(PROGRAM.format(n=n, a=a))


def _compile_nv(proto):
    return NVSubroutineTranspiler(subroutine=assemble_subroutine(proto)).transpile()


def test_the_same_content_is_compiled_once_and_equals_a_fresh_compile() -> None:
    cache = CompiledSubroutines()
    calls = []

    def compile_(proto):
        calls.append(proto)
        return _compile_nv(proto)

    first = cache.get(_proto(), 3, NVSubroutineTranspiler, compile_)
    again = cache.get(_proto(), 3, NVSubroutineTranspiler, compile_)  # a new proto object, same content
    assert again is first and len(calls) == 1 and (cache.hits, cache.misses) == (1, 1)
    fresh = _compile_nv(_proto())
    fresh.instantiate(3)
    assert str(first) == str(fresh) and first.app_id == 3


def test_different_content_or_compiler_is_compiled_again() -> None:
    cache = CompiledSubroutines()
    base = cache.get(_proto(), 0, None, assemble_subroutine)
    assert cache.get(_proto(n=2), 0, None, assemble_subroutine) is not base      # an immediate
    assert cache.get(_proto(a=1), 0, None, assemble_subroutine) is not base      # an array address
    nv = cache.get(_proto(), 0, NVSubroutineTranspiler, _compile_nv)               # another transpiler
    assert nv is not base and str(nv) != str(base)
    assert cache.misses == 4 and cache.hits == 0


def test_another_application_gets_the_compilation_with_its_own_id() -> None:
    """The next run of a series opens a new application: the same subroutine is not compiled again,
    but it is handed over stamped with that application's id (the first one's keeps its own)."""
    cache = CompiledSubroutines()
    first = cache.get(_proto(), 0, NVSubroutineTranspiler, _compile_nv)
    later = cache.get(_proto(), 7, NVSubroutineTranspiler, _compile_nv)
    assert (cache.misses, cache.hits) == (1, 1)
    assert later is not first and (first.app_id, later.app_id) == (0, 7)
    fresh = _compile_nv(_proto())
    fresh.instantiate(7)
    assert str(later) == str(fresh) and later == fresh and bytes(later) == bytes(fresh)


def test_the_cache_is_bounded() -> None:
    cache = CompiledSubroutines(size=3)
    for n in range(10):
        cache.get(_proto(n=n), 0, None, assemble_subroutine)
    cache.get(_proto(n=9), 0, None, assemble_subroutine)
    assert cache.hits == 1
    cache.get(_proto(n=0), 0, None, assemble_subroutine)  # long evicted: compiled again
    assert cache.misses == 11


def test_the_node_compiles_an_equal_subroutine_once() -> None:
    node = Node(MockNVDevice.from_config(seed=1))
    one, two = assemble_subroutine(_proto()), assemble_subroutine(_proto())
    assert one is not two
    assert node.compile(one) is node.compile(two)
    assert node.compile(assemble_subroutine(_proto(n=2))) is not node.compile(one)


def test_nodes_with_the_same_device_share_compilations_others_do_not() -> None:
    from qnodeos.drivers.mock_ion import MockIonDevice

    sub = assemble_subroutine(_proto(n=5))
    first = Node(MockNVDevice.from_config(seed=1)).compile(sub)
    assert Node(MockNVDevice.from_config(seed=2)).compile(assemble_subroutine(_proto(n=5))) is first
    assert Node(MockNVDevice.from_config(seed=1, carbons=3)).compile(sub) is not first
    other = Node(MockIonDevice.from_config(seed=1)).compile(sub)
    assert other is not first and other.ops == first.ops

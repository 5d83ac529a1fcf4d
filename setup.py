"""Build script: compiles the Cython physics engine of the mock drivers (with their sequence runner).

Everything else (metadata, package layout) lives in pyproject.toml.
"""
import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = [
    Extension(
        "qnodeos.drivers._engine",
        ["drivers/_engine.pyx"],
        depends=["drivers/_sequence_runner.pxi"],  # the mock devices' sequence runner, included by the engine
        include_dirs=[numpy.get_include()],
        extra_compile_args=["-O3"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    ),
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
    ),
)

# The README's two commands: `make demo` (set up + run the demo) and `make test` (set up + run the tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.qnodeos-installed

.PHONY: setup demo test bench clean

$(STAMP): pyproject.toml setup.py drivers/_engine.pyx
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/qnodeos demo

test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(BIN)/python -m pip install --quiet --no-deps -e examples/qnodeos-driver-template
	$(BIN)/python -m pytest -q examples/qnodeos-driver-template/tests

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_os.py
	$(BIN)/python benchmarks/bench_shims.py
	$(BIN)/python benchmarks/bench_network.py --quick   # builds SimulaQron's venv on first use

clean:
	rm -rf $(VENV) build *.egg-info drivers/_engine.c drivers/*.so

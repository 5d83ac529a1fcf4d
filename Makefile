# The README's two commands: `make demo` (set up + run the demo) and `make test` (set up, lint + run the tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.qnodeos-installed
# The editable install is "strict" (a tree of links under build/, plain directories that type checkers
# such as mypy can read; setuptools' default import hook hides the package from them). Such a tree
# holds the files that existed when it was made, so adding or removing a module of the package
# re-links it: FILE_LIST records which files the last install saw. (PYTHONWARNINGS hides setuptools'
# notice that an editable install was made: information, not a warning.)
FILE_LIST := $(VENV)/.qnodeos-files
PACKAGE_FILES := $(sort $(wildcard os_core/*.py os_core/*/*.py os_core/*/*/*/*.py hal/*.py hal/*/*.py \
                   drivers/*.py drivers/*/*.py firmware_stubs/*.py firmware_stubs/*/*.yaml drivers/defaults/*.toml \
                   os_core/jobs/static/*))

.PHONY: setup demo lint test bench clean FORCE

$(FILE_LIST): FORCE
	@mkdir -p $(VENV)
	@echo "$(PACKAGE_FILES)" | cmp -s - $@ || echo "$(PACKAGE_FILES)" > $@

$(STAMP): pyproject.toml setup.py drivers/_engine.pyx drivers/_sequence_runner.pxi $(FILE_LIST)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" \
	  $(BIN)/python -m pip install --quiet -e ".[test]" --config-settings editable_mode=strict
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/qnodeos demo

# ruff (lint) and mypy (types), configured in pyproject.toml; zero findings is the bar (docs/development.md)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q
	PYTHONWARNINGS="ignore:Editable installation" \
	  $(BIN)/python -m pip install --quiet --no-deps -e examples/qnodeos-driver-template
	$(BIN)/python -m pytest -q examples/qnodeos-driver-template/tests
	$(BIN)/python -m pip install --quiet --no-deps -e examples/qnodeos-lab-tests
	cd examples/qnodeos-lab-tests && ../../$(BIN)/python -m pytest -q

bench: $(STAMP)
	PYTHONWARNINGS="ignore:Editable installation" \
	  $(BIN)/python -m pip install --quiet -e ".[test,bench]" --config-settings editable_mode=strict
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_os.py
	$(BIN)/python benchmarks/bench_shims.py
	$(BIN)/python benchmarks/bench_memory.py
	$(BIN)/python benchmarks/bench_network.py --quick   # builds SimulaQron's venv on first use
	$(BIN)/python benchmarks/bench_repeat.py --quick    # qnodeos run --num vs netqasm simulate --num

clean:
	rm -rf $(VENV) build *.egg-info drivers/_engine.c drivers/*.so .mypy_cache .ruff_cache

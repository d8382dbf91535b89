# ember: `make demo` runs the main job on the embedded data, `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[demo]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# The compiled autograd core (ember._native): built once per source change, in seconds when
# nothing changed; without a C compiler ember runs its Python source.
demo: $(VENV)/.installed-demo
	$(BIN)/python -m ember._native_build
	$(BIN)/ember demo

test: $(VENV)/.installed-test
	$(BIN)/python -m ember._native_build
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-test
	$(BIN)/python -m ember._native_build
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) demo-out .pytest_cache ember/_native

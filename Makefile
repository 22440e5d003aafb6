# Every target creates .venv when it is missing and installs from the project's own files.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup demo test test-fast bench lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# torch first and alone: pinned exactly, this takes the CPU wheel rather than a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e ".[dev,ray]"
	# Hydra's Ray launcher without ray[default]'s dashboard extras (see pyproject.toml)
	$(BIN)/pip install -q --no-deps -c constraints.txt hydra-ray-launcher
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/darla run experiment=quickstart

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Every target creates .venv when it is missing and installs from the project's own files.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup demo test test-fast test-isa bench lint clean

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

# --durations=15 keeps the 8-minute budget visible in every run's output. Two pytest-xdist
# workers, one per core of the CI machine; --dist loadfile keeps a file's tests (and the module
# fixtures they share) on one worker. Each worker has its own session-scoped smoke runs root.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# The fast tests under three sets of CPU float kernels: ATen's scalar ones with oneDNN held to
# SSE4.1, AVX2 for both, and whatever this CPU offers (AVX-512 where it has it). No test may
# depend on which of them a machine gets.
ISAS := default:SSE41 avx2:AVX2 native
test-isa: $(STAMP)
	@set -e; for isa in $(ISAS); do \
	  case $$isa in native) vars="" ;; \
	    *) vars="ATEN_CPU_CAPABILITY=$${isa%%:*} ONEDNN_MAX_CPU_ISA=$${isa##*:}" ;; esac; \
	  echo "== $${vars:-this CPU's own kernels}"; \
	  env -u ATEN_CPU_CAPABILITY -u ONEDNN_MAX_CPU_ISA $$vars \
	    $(BIN)/python -m pytest -q -m "not slow" -p no:cacheprovider; \
	done

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

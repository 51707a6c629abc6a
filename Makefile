# The two commands README.md gives: `make demo` (the main job) and `make test` (the test suite).
# Both install what they need first (scripts/setup.sh; idempotent).
VENV ?= $(if $(VIDSEG_VENV),$(VIDSEG_VENV),.venv)
PY := $(VENV)/bin/python
# `make demo` runs on the CPU preset; ARGS adds flags (ARGS="--semantic") and keeps the preset
# unless it names a --config of its own; CONFIG= (empty) drops it.
CONFIG ?= configs/cpu-demo.yaml
ARGS ?=
DEMO_CONFIG = $(if $(filter --config --config=%,$(ARGS)),,$(if $(CONFIG),--config $(CONFIG)))

.PHONY: setup demo test lint pytest bench clean

setup:
	VIDSEG_VENV=$(abspath $(VENV)) bash scripts/setup.sh

demo: setup
	PYTHONPATH=$(CURDIR) $(PY) -m vidseg demo $(DEMO_CONFIG) $(ARGS)

lint: setup
	$(VENV)/bin/ruff check vidseg pipelines tests bench
	$(VENV)/bin/mypy

# PYTHONPATH pins this checkout's vidseg, also in subprocesses, when the venv is shared.
pytest: setup
	PYTHONPATH=$(CURDIR) $(PY) -m pytest -q -ra $(PYTEST_ARGS)

test: lint pytest

bench: setup
	$(PY) bench/tracker_memory.py
	$(PY) bench/tracker_objects.py
	$(PY) bench/pipeline_overhead.py

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache

# Two commands: `make bench` sets up and runs the main job, `make test` sets up and runs the
# checks (lint, types, tests). Both create a virtual environment in .venv and install the CPU
# build of PyTorch there when no PyTorch is installed (override with TORCH=...).

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: bench test torch

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

torch: $(BIN)/python
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet $(TORCH)

bench: torch
	$(BIN)/pip install --quiet -e '.[gbdt]'
	$(BIN)/intermodal bench $(ARGS)

test: torch
	$(BIN)/pip install --quiet -e '.[test,hf,ray,gbdt]'
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks
	$(BIN)/mypy
	$(BIN)/pytest

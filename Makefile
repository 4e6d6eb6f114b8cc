# Quick start: `make train` (a CPU-sized training run) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install train test test-slow bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

train: $(STAMP)
	$(BIN)/python -m train experiment=quickstart

# Two pytest-xdist workers by default (this project's CI machine has 2 cores; each worker
# keeps its own cache, so more workers also means more corpus and benchmark builds).
TEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python bench/cochleagram.py
	$(BIN)/python bench/scoring.py
	$(BIN)/python bench/data.py
	$(BIN)/python bench/callback.py

clean:
	rm -rf $(VENV) logs .pytest_cache

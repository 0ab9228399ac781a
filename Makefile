# Every target creates (once) and reuses a virtual environment in .venv, so a fresh
# machine needs nothing but `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mglru-sim run scenarios/default.toml

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check simulator workloads tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) results/*/ .pytest_cache .mypy_cache .ruff_cache

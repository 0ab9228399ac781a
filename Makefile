# Every target creates (once) and reuses a virtual environment in .venv, so a fresh
# machine needs nothing but `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test fuzz lint clean calibrate check-readme

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mglru-sim run scenarios/default.toml

test: $(STAMP)
	$(BIN)/python -m pytest

# The fuzz harness of every command (tests/test_fuzz_commands.py), 20 times what `make test`
# runs, with fresh random examples (a few minutes).
fuzz: $(STAMP)
	MGLRU_SIM_FUZZ=20 $(BIN)/python -m pytest tests/test_fuzz_commands.py -q --hypothesis-show-statistics

# Every command of README's command table, run from a temporary directory outside the
# repository (part of `make test` too).
check-readme: $(STAMP)
	$(BIN)/python -m pytest tests/test_readme_commands.py

# Fit the x86 TDP MMU costs to the published access_tracking_perf_test runs and write
# results/baselines/calibration.csv and the plot (docs/calibration.md; ~40 min on 2 cores).
calibrate: $(STAMP)
	$(BIN)/python scripts/calibrate.py

lint: $(STAMP)
	$(BIN)/ruff check simulator workloads tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
	find results -mindepth 1 -maxdepth 1 ! -name baselines -exec rm -rf {} +

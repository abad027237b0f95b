# The course's two commands:  `make course`  (set up + start)  and  `make test`  (set up + run the tests).
# Everything installs into ./.venv from pyproject.toml; data goes to $MEDIMG_DATA (default: ~/.cache/medimg).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TIER ?= smoke
PYTEST_ARGS ?=

.PHONY: course test setup lint clean-runs

course: setup  ## set everything up and open the course (HEADLESS=1: run it headless instead)
ifdef HEADLESS
	$(BIN)/medimg course run --tier $(TIER) --report course_runs/report.json
else
	$(BIN)/medimg course lab
endif

test: setup  ## set everything up and run the test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

setup: $(BIN)/.medimg-installed

$(BIN)/.medimg-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	# torch first, on its own: alone, pip takes the CPU wheel where one lies on disk (or keeps the CUDA build a
	# GPU box installed before); resolved together with everything else it may pick a 5 GB CUDA build
	$(BIN)/python -m pip install --quiet "torch>=2.2,<2.14"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/medimg kernel install
	$(BIN)/medimg labextension install
	touch $@

lint: setup
	$(BIN)/ruff check .

clean-runs:
	rm -rf course_runs artifacts

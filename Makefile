# Two commands on a fresh machine:
#   make demo   create .venv, install torch==2.13.0 (CPU) then latentlab, reproduce every
#               implemented paper at quick budget and build the report (runs/report/)
#   make test   create .venv, install the dev extras, run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
export OMP_NUM_THREADS ?= 1
export HF_HUB_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test install install-dev report bench lint readme clean

demo: $(VENV)/.core
	$(BIN)/latentlab reproduce --all --budget quick; status=$$?; \
	$(BIN)/latentlab report; \
	exit $$status

test: $(VENV)/.dev
	$(BIN)/python -m pytest -q

install: $(VENV)/.core
install-dev: $(VENV)/.dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: an unpinned torch would pull the CUDA build (gigabytes).
$(VENV)/.torch: | $(BIN)/python
	$(PIP) install -q torch==2.13.0
	touch $@

$(VENV)/.core: $(VENV)/.torch pyproject.toml constraints.txt
	$(PIP) install -q -c constraints.txt -e .
	touch $@

$(VENV)/.dev: $(VENV)/.core pyproject.toml constraints.txt
	$(PIP) install -q -c constraints.txt -e ".[dev]"
	touch $@

report: $(VENV)/.core
	$(BIN)/latentlab report

bench: $(VENV)/.dev
	$(BIN)/python benchmarks/run.py

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests benchmarks

# Regenerate the README status table from the registry.
readme: $(VENV)/.core
	$(BIN)/python -m latentlab.repro.status_table README.md

clean:
	rm -rf $(VENV) runs .pytest_cache

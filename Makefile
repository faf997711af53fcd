# Two commands: `make run` starts the service, `make test` runs the checks.
# Each creates .venv and installs what it needs; the install is stamped on the contents of
# pyproject.toml and constraints.txt, so a second run with nothing changed installs nothing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INSTALL_HASH := $(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(INSTALL_HASH)
HOST ?= 127.0.0.1
PORT ?= 8000

export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test lint typecheck pytest browser services bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: an unpinned resolve pulls the multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0 -c constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: install
	$(BIN)/tastemaker serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy's cache lives outside the checkout, so a fresh clone on a machine that checked before is
# incremental (mypy re-checks every file whose contents changed; a cold run takes ~80 s here).
MYPY_CACHE_DIR ?= $(HOME)/.cache/tastemaker/mypy

typecheck: install
	MYPY_CACHE_DIR=$(MYPY_CACHE_DIR) $(BIN)/mypy

# Three processes, one test file each at a time (module-scoped servers stay in one process): most
# slow tests wait on servers and subprocesses, so three overlap well even on two cores (four
# measured no faster).
PYTEST_WORKERS ?= 3

pytest: install browser services
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile --durations=25

# Debian's headless Chromium + chromedriver for the web page tests (idempotent; apt, no downloads
# of browser builds).
browser:
	bash scripts/install-browser.sh

# PostgreSQL 15 and Redis on 127.0.0.1 for the database and job tests: started, or installed from
# Debian's packages and started, when they do not answer (idempotent; fast when they are up).
services:
	bash scripts/ensure-services.sh postgresql redis rabbitmq

# ruff and mypy run beside pytest (their output lines kept whole); any failure fails the target.
test: install browser services
	$(MAKE) --no-print-directory --jobs=3 --output-sync=line lint typecheck pytest

bench: install
	$(BIN)/python bench/store.py
	$(BIN)/python bench/extraction.py
	$(BIN)/python bench/generation.py
	$(BIN)/python bench/personalization.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/cli.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

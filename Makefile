# MASA Platform: developer entry points. `make run` works on a fresh machine (python3 only).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON3 ?= python3
# uv: on PATH, else where `pip install --user uv` put it, else as a module.
UV ?= $(shell command -v uv 2>/dev/null \
	|| { b="$$($(PYTHON3) -c 'import site; print(site.getuserbase())' 2>/dev/null)/bin/uv"; \
	     test -x "$$b" && echo "$$b"; } \
	|| echo "$(PYTHON3) -m uv")
VENV := .venv
PY := $(VENV)/bin/python
DATA_DIR ?= $(or $(MASA_DATA_DIR),data)
RUN_ARGS ?=
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help setup lock run demo test lint format bench clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: ## install uv if missing and sync .venv from uv.lock
	@UV="$(UV)" PYTHON3="$(PYTHON3)" bash scripts/bootstrap.sh

lock: ## refresh uv.lock after editing pyproject.toml
	$(UV) lock

run: setup ## start the broker and the four services (Ctrl-C stops); RUN_ARGS=--echo shows logs
	$(PY) -m shared.stack run --data-dir "$(DATA_DIR)" $(RUN_ARGS)

demo: setup ## like run, with a demo partnership loaded
	$(PY) -m shared.stack run --data-dir "$(DATA_DIR)" --demo $(RUN_ARGS)

test: setup ## run the tests; PYTEST_ARGS="-k name -x" passes more
	$(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: setup ## ruff check, ruff format --check, mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup ## ruff format and ruff check --fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup ## run the benchmarks (tests/bench.py)
	$(PY) -m tests.bench $(BENCH_ARGS)

clean: ## remove data/ and caches (keeps .venv)
	rm -rf data .pytest_cache .mypy_cache .ruff_cache
	find . -path ./.venv -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

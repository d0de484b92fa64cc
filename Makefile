# tabulator — `make help` lists the targets.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export TABULATOR_DATABASE_URL ?= sqlite:///$(CURDIR)/instance/tabulator.sqlite3
PORT ?= 8000
DEMO := data/primaire-gauche-2017

.DEFAULT_GOAL := help
.PHONY: help install run test lint format bench data clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/tabulator: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/tabulator ## Create .venv and install tabulator with its development tools

run: install ## Serve the 2017 left primary on SQLite with gunicorn (http://127.0.0.1:$(PORT))
	$(BIN)/tabulator db upgrade
	$(BIN)/tabulator load-election $(DEMO) --if-absent
	$(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers 2 'api:create_app()'

test: install ## Run the whole suite, on SQLite and on PostgreSQL (TABULATOR_TEST_POSTGRES_URL)
	$(BIN)/python -m pytest -n 2

lint: install ## ruff (lint and format check) and mypy on the pure core
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install ## Ingest (SQLite, PostgreSQL) and API (gunicorn, wrk, nginx) benchmarks on the 69,242-bureau file
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.api

data: install ## Regenerate data/primaire-gauche-2017 from its seed
	$(BIN)/python -m tabulator.demo_data $(DEMO)

clean: ## Remove the virtualenv and the local database
	rm -rf $(VENV) instance

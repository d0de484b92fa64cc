# tabulator — `make help` lists the targets.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export TABULATOR_DATABASE_URL ?= sqlite:///$(CURDIR)/instance/tabulator.sqlite3
PORT ?= 8000
DEMO := data/primaire-gauche-2017

.DEFAULT_GOAL := help
.PHONY: help install run demo test fuzz lint format bench loadtest lighthouse backtest anomalies data clean

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
	TABULATOR_BIND=127.0.0.1:$(PORT) $(BIN)/gunicorn --config deploy/gunicorn.conf.py 'api:create_app()'

SPEED ?= 60
DEMO_DB := $(CURDIR)/instance/demo.sqlite3
PAGE := http://127.0.0.1:$(PORT)/elections/primaire-gauche-2017/rounds/2/

demo: install ## Replay the night of 29 January 2017 (round 2) on a fresh SQLite database while serving it
	rm -f $(DEMO_DB) $(DEMO_DB)-*
	export TABULATOR_DATABASE_URL=sqlite:///$(DEMO_DB); \
	$(BIN)/tabulator db upgrade && \
	$(BIN)/tabulator load-election $(DEMO) --rounds 1 && \
	{ TABULATOR_BIND=127.0.0.1:$(PORT) TABULATOR_LOG_LEVEL=warning TABULATOR_ACCESS_LOG= \
	  $(BIN)/gunicorn --config deploy/gunicorn.conf.py 'api:create_app()' & server=$$!; \
	  trap 'kill $$server 2>/dev/null' EXIT INT TERM; \
	  sleep 2; echo; echo "Open $(PAGE) — the night replays at $(SPEED)× (about five minutes)."; echo; \
	  $(BIN)/tabulator replay --folder $(DEMO) --round 2 --speed $(SPEED) && \
	  echo "The night is over; still serving $(PAGE) (Ctrl-C to stop)." && wait $$server; }

test: install ## Run the whole suite, on SQLite and on PostgreSQL (TABULATOR_TEST_POSTGRES_URL)
	$(BIN)/python -m pytest -n 2 --durations=15

fuzz: install ## The bad-input tests with a larger budget than CI's (schemathesis, hypothesis-made files)
	TABULATOR_FUZZ_EXAMPLES=500 $(BIN)/python -m pytest -n 2 tests/api/test_openapi_fuzz.py tests/api/test_bad_input.py

lint: install ## ruff (lint and format check), mypy strict on the core, the service and the demo generator, the OpenAPI document's validity
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m tests.check_openapi

format: install ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

BENCH_SUMMARY := $(CURDIR)/instance/bench-summary.jsonl

bench: install ## Ingest, API (gunicorn, wrk, nginx), static publication and write-path benchmarks on the 69,242-bureau file, then one table of their goals
	mkdir -p instance && rm -f $(BENCH_SUMMARY)
	export BENCH_SUMMARY=$(BENCH_SUMMARY); \
	$(BIN)/python -m bench.ingest && $(BIN)/python -m bench.api && $(BIN)/python -m bench.publication && \
	$(BIN)/python -m bench.writes && $(BIN)/python -m bench.summary

anomalies: install ## Warnings on the real 2017 round 2 with planted slips: share caught per kind, clean returns flagged
	$(BIN)/python -m bench.anomalies

backtest: install ## The projection against the final result (the primary's night; the 2017 presidential round 2 in 10 orders), and its speed at that scale
	$(BIN)/python -m bench.backtest --seeds 10; status=$$?; $(BIN)/python -m bench.projection && exit $$status

lighthouse: install ## Lighthouse (mobile, Debian's chromium) on the national, département, bureau and API docs pages of the demo
	$(BIN)/tabulator db upgrade
	$(BIN)/tabulator load-election $(DEMO) --if-absent
	$(BIN)/python -m bench.lighthouse

loadtest: install ## Election night on PostgreSQL: two app nodes, returns at 110/s, 200 pollers (LOADTEST_SECONDS)
	mkdir -p instance && rm -f $(BENCH_SUMMARY)
	BENCH_SUMMARY=$(BENCH_SUMMARY) $(BIN)/python -m bench.loadtest && BENCH_SUMMARY=$(BENCH_SUMMARY) $(BIN)/python -m bench.summary

data: install ## Regenerate data/primaire-gauche-2017 from its seed (its generate.py)
	$(BIN)/python $(DEMO)/generate.py $(DEMO)

clean: ## Remove the virtualenv and the local database
	rm -rf $(VENV) instance

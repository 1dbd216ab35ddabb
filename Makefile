# Every target creates/uses .venv itself so it works on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint bench clean venv

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

## run: the web UI — `aegntix serve` with the example scenarios; prints a link that signs you in
## (HOST, PORT, UI_DB to change; the first start mints an owner key, saved beside the database)
HOST ?= 127.0.0.1
PORT ?= 8000
UI_DB ?= aegntix.db
UI_KEY = $(basename $(UI_DB)).key
run: $(STAMP)
	@$(BIN)/python -m aegntix.ports $(HOST) $(PORT) "make run PORT={port}"
	@test -e $(UI_DB) || rm -f $(UI_KEY)
	@$(BIN)/aegntix serve --examples --db $(UI_DB) --key-file $(UI_KEY) --host $(HOST) --port $(PORT) & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null; exit 0' INT TERM; \
	n=0; until $(BIN)/python -c "import urllib.request as r; r.urlopen('http://$(HOST):$(PORT)/v1/health', timeout=1)" 2>/dev/null; do \
		kill -0 $$pid 2>/dev/null || { wait $$pid; exit 1; }; \
		n=$$((n+1)); [ $$n -lt 150 ] || { echo "aegntix serve did not start"; kill $$pid; exit 1; }; sleep 0.2; \
	done; \
	if [ -s $(UI_KEY) ]; then url="http://$(HOST):$(PORT)/#key=$$(cat $(UI_KEY))"; \
	else url="http://$(HOST):$(PORT)/  (sign in with a key from: aegntix keys create --tenant default --role owner --db $(UI_DB))"; fi; \
	printf '\n  AegntiX is running. Open the web UI (this link signs you in):\n\n    %s\n\n  Ctrl-C stops it.\n\n' "$$url"; \
	wait $$pid

## demo: the CLI demo — a negotiation run, forked with an injection, compared (no server)
demo: $(STAMP)
	rm -f demo.db demo.db-wal demo.db-shm
	$(BIN)/aegntix demo examples/negotiation.yaml --db demo.db
	$(BIN)/aegntix branches --db demo.db

## test: the whole suite, spread over TEST_PROCESSES processes (a module stays on one); the
## browser tests need /usr/bin/chromium, the PostgreSQL tests a server on 127.0.0.1:5432 (its
## max_connections raised to 300), the bus tests Redis on 127.0.0.1:6379 (installed or started
## here when root)
TEST_PROCESSES ?= 4
PYTEST_ARGS ?=
test: $(STAMP)
	scripts/ensure-chromium
	scripts/ensure-postgres
	scripts/ensure-redis
	$(BIN)/pytest -q -n $(TEST_PROCESSES) --dist loadscope --no-loadscope-reorder --durations=25 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy

bench: $(STAMP)
	scripts/ensure-postgres
	@for b in $$(ls benchmarks/*.py | grep -v "/_"); do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo.db artifacts

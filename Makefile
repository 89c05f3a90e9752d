# Lianfang: `make run` sets everything up and serves; `make test` runs the suite (SQLite, then PostgreSQL
# when TEST_DATABASE_URL is set); `make bench` runs the benchmarks.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask
INSTANCE ?= instance
HOST ?= 127.0.0.1
PORT ?= 5000
ONLY ?=
# The rate-limit store shared by every process serving the app (`make run` uses it when Redis answers).
REDIS_URL ?= redis://127.0.0.1:6379/0
# System packages the product needs: WeasyPrint's Pango and HarfBuzz subsetter (PDF forms), Chromium for
# the browser tests; poppler-utils lets the tests read the PDFs' text.
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils
BROWSER_PACKAGES := chromium fonts-noto-cjk
# wrk drives the benchmarks' concurrent clients from a process of its own (bench/load.py).
BENCH_PACKAGES := wrk

export FLASK_APP := wsgi.py

.PHONY: run test test-sqlite test-postgres bench bench-deps install system-deps browser-deps translations lint migrate clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed translations

system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "please install these system packages: $$missing" >&2; exit 1; fi; \
	fi

browser-deps:
	@if ! command -v chromium >/dev/null || ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Chromium for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES)) \
	      || echo "Chromium could not be installed: browser tests will be skipped"; \
	  else echo "Chromium not installed and cannot be installed here: browser tests will be skipped"; fi; \
	fi

translations: $(VENV)/.installed
	@$(VENV)/bin/pybabel compile -d app/translations > /dev/null

$(INSTANCE)/secret_key:
	@mkdir -p $(INSTANCE)
	@$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(48))" > $@
	@chmod 600 $@

migrate: install
	$(FLASK) db upgrade

run: install system-deps $(INSTANCE)/secret_key
	@export LIANFANG_ENV=development SECRET_KEY=$$(cat $(INSTANCE)/secret_key) SESSION_COOKIE_SECURE=0; \
	if [ -z "$$RATELIMIT_STORAGE_URI" ] && $(PY) -c "import redis; redis.Redis.from_url('$(REDIS_URL)', socket_timeout=1).ping()" 2>/dev/null; \
	then export RATELIMIT_STORAGE_URI=$(REDIS_URL); echo "rate limits in $(REDIS_URL)"; \
	else echo "Redis does not answer at $(REDIS_URL): rate limits kept per process (memory://)"; fi; \
	$(FLASK) db upgrade && $(FLASK) inventories load && $(FLASK) demo load && \
	echo "Lianfang: http://$(HOST):$(PORT)" && \
	$(FLASK) run --host $(HOST) --port $(PORT)

test: install system-deps browser-deps
	@$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$$TEST_DATABASE_URL" ]; then $(MAKE) --no-print-directory test-postgres; \
	else echo "TEST_DATABASE_URL not set: PostgreSQL run skipped"; fi

test-sqlite:
	@echo "== tests on SQLite =="
	env -u TEST_DATABASE_URL $(PY) -m pytest -q $(PYTEST_ARGS)

test-postgres:
	@echo "== tests on PostgreSQL =="
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench-deps:
	@if ! command -v wrk >/dev/null; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BENCH_PACKAGES); \
	  else echo "please install these system packages: $(BENCH_PACKAGES)" >&2; exit 1; fi; \
	fi

bench: install system-deps bench-deps
	$(PY) -m bench $(if $(ONLY),--only $(ONLY),)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

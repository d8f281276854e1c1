# ShopOps — the project's verbs. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
BENCH ?=
MANAGE := $(BIN)/python manage.py

.DEFAULT_GOAL := help
SYSTEM_LIBS := libpango-1.0.so.0 libpangoft2-1.0.so.0 libharfbuzz-subset.so.0
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-dejavu-core fonts-noto-core
# The document fonts (DOCUMENT_FONTS in settings), found by family name through fontconfig.
SYSTEM_FONTS := "DejaVu Sans" "Noto Sans Devanagari" "Noto Sans Tamil" "Noto Sans Arabic"

.PHONY: help system-deps browser-deps install run serve demo migrate test browser fuzz faults lint format schema worker beat bench \
	clean

help:
	@echo "make run      create the virtualenv, install, migrate, load demo data, serve on $(HOST):$(PORT)"
	@echo "make test     ruff, migrations check, OpenAPI schema check, pytest"
	@echo "make browser  the admin in headless Chromium (Playwright, Debian's chromium): screenshots in .browser-artifacts/"
	@echo "make fuzz     Schemathesis against a live server on PostgreSQL (FUZZ_DATABASE_URL): no 5xx, no schema drift"
	@echo "make faults   fault drills: broker, cache and database outages on throwaway PostgreSQL and Redis servers"
	@echo "make worker   a Celery worker on CELERY_BROKER_URL (all queues)"
	@echo "make beat     Celery beat (periodic tasks)"
	@echo "make bench    benchmarks on PostgreSQL (BENCH=orders_list for one)"
	@echo "make lint / make format / make demo / make migrate / make system-deps (Pango for WeasyPrint)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

install: system-deps $(VENV)/.installed

# The shared libraries WeasyPrint loads and the document fonts (Debian/Ubuntu packages); installed only when one is
# missing.
system-deps:
	@missing=""; for lib in $(SYSTEM_LIBS); do ldconfig -p | grep -q "$$lib" || missing="$$missing $$lib"; done; \
	for font in $(SYSTEM_FONTS); do \
		fc-match -f '%{family}' "$$font" 2>/dev/null | grep -qi "$$font" || missing="$$missing $$(echo $$font | tr -d ' ')"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "Installing$$missing's packages: $(SYSTEM_PACKAGES)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(SYSTEM_PACKAGES); \
	fi

migrate: install
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(MANAGE) migrate --no-input

demo: migrate
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(MANAGE) seed_demo

run: demo
	@echo ""
	@echo "ShopOps is starting on http://$(HOST):$(PORT)/"
	@echo "  Admin (merchant dashboard): http://$(HOST):$(PORT)/admin/   login: demo / shopops-demo"
	@echo "  API docs (Swagger UI):      http://$(HOST):$(PORT)/api/docs/"
	@echo "  OpenAPI schema:             http://$(HOST):$(PORT)/api/schema/"
	@echo "  Health:                     http://$(HOST):$(PORT)/healthz"
	@echo ""
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(MANAGE) runserver $(HOST):$(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: install
	DJANGO_SETTINGS_MODULE=tests.settings $(MANAGE) spectacular --validate --fail-on-warn --file $(VENV)/schema.yml

test: lint schema
	DJANGO_SETTINGS_MODULE=tests.settings $(MANAGE) makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

# Debian's Chromium, for the browser tests only (`make run` does not need it); installed when missing.
browser-deps:
	@command -v chromium >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; }

# The admin driven by Debian's Chromium through Playwright against a live server (never a browser Playwright
# downloads); a full-page screenshot of each page visited in .browser-artifacts/.
browser: install browser-deps
	$(BIN)/pytest -m browser tests/browser $(PYTEST_ARGS)

# Needs PostgreSQL (FUZZ_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/shopops_fuzz, recreated).
fuzz: install
	$(BIN)/python tests/fuzz/run.py

# Starts its own PostgreSQL cluster and Redis servers (needs the PostgreSQL 15 server binaries and redis-server).
faults: install
	$(BIN)/pytest -m faults tests/faults $(PYTEST_ARGS)

worker: install
	$(BIN)/celery -A shopops worker -Q default,imports,documents,notifications,webhooks --loglevel=INFO

beat: install
	$(BIN)/celery -A shopops beat --loglevel=INFO --schedule $(VENV)/celerybeat-schedule

bench: install
	$(BIN)/python -m bench $(BENCH)

clean:
	rm -rf $(VENV) db.sqlite3 media .pytest-media* .pytest-private* .pytest_cache .ruff_cache .fuzz-report \
		.browser-artifacts

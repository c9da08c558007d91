# Zhixing: the one entry point (contract: shared ARCHITECTURE.md §7.1).
#
#   make run     venv + requirements, migrate, demo data, serve http://$(HOST):$(PORT)
#                with daphne and a Celery worker + beat; Ctrl-C stops everything
#                (AUDIENCE=N: and N simulated viewers in the live lecture)
#   make serve   the production topology on one machine: nginx on PORT (8080) in front of
#                WEB_PROCESSES daphne, PgBouncer, a Celery worker + beat (DEBUG=false;
#                needs DATABASE_URL, REDIS_URL, SECRET_KEY, ALLOWED_HOSTS)
#   make test    system packages (scripts/system-deps.sh), venv + dev requirements, lint,
#                types, layers, migrations check, compose check, the whole pytest suite;
#                nothing may be skipped
#   make test-fast  the suite without the slow and browser tests, stopping at the first
#                failure (local work; not a substitute for make test)
#   make bench   run bench/*.py and print a results table
#
# Embedded default (SQLite, live rooms in memory, filesystem broker) unless
# DATABASE_URL / REDIS_URL are set. See docs/operations.md.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

# Python 3.11 (the project's only supported version); fall back to python3 if it is 3.11.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
RUNTIME_STAMP := $(VENV)/.stamp-requirements
DEV_STAMP := $(VENV)/.stamp-requirements-dev

CI ?=
# make test is the whole suite: a missing Chromium, Redis or PostgreSQL fails a test instead
# of skipping it (tests/conftest.py). test-fast is lenient.
REQUIRE_SERVICES ?= 1
STRICT := $(if $(filter true 1,$(CI) $(REQUIRE_SERVICES)),1,)
export REQUIRE_SERVICES
DOCKER_COMPOSE ?= $(shell command -v docker-compose 2>/dev/null)
PYTEST_ARGS ?=

.PHONY: help run serve test test-steps lint format-check typecheck layers migrations-check compose-check \
	pytest test-fast system-deps qa fmt messages bench install install-dev lock clean

help:
	@echo "make run               serve the demo at http://$(HOST):$(PORT) (daphne + celery worker/beat)"
	@echo "make serve             production topology: nginx, daphne x N, pgbouncer, celery (DEBUG off)"
	@echo "make test              system packages, lint, types, layers, checks, whole pytest suite"
	@echo "make test-fast         pytest without slow and browser tests, stop at first failure"
	@echo "make qa                ruff, ruff format --check, mypy, migrations check"
	@echo "make fmt               ruff --fix and ruff format"
	@echo "make migrations-check  makemigrations --check --dry-run"
	@echo "make messages          refresh and compile translations (scripts/i18n.py)"
	@echo "make bench             run bench/*.py and print a table"
	@echo "make lock              re-pin constraints.txt after a requirements change"

# --- virtualenv and requirements (re-installed only when a requirements file changes) ---
$(PY):
	@test -n "$(PYTHON)" || { echo "Python 3.11 is required (python3.11 not found)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' \
		|| { echo "$(PYTHON) is not Python 3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --progress-bar off --upgrade pip

# constraints.txt pins every package (and its dependencies) to the versions tested here, so a
# fresh clone, CI and the Docker image install the same set; `make lock` refreshes it.
$(RUNTIME_STAMP): requirements.txt constraints.txt | $(PY)
	$(PIP) install --progress-bar off -r requirements.txt -c constraints.txt
	@touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt constraints.txt | $(PY)
	$(PIP) install --progress-bar off -r requirements-dev.txt -c constraints.txt
	@touch $@ $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)
install-dev: $(DEV_STAMP)

# Re-pin after changing a requirements file: install (UPGRADE=1: newest allowed), then freeze.
lock: | $(PY)
	$(PIP) install --progress-bar off $(if $(UPGRADE),--upgrade,) -r requirements-dev.txt
	@{ echo "# Pinned versions of requirements*.txt and their dependencies (make lock)."; \
	   echo "# Used as pip constraints (-c) by make, CI and the Dockerfile."; \
	   $(PIP) freeze --exclude-editable | grep -v -E '^(pip|setuptools|wheel)=='; } > constraints.txt
	@touch $(DEV_STAMP) $(RUNTIME_STAMP)
	@echo "constraints.txt: $$(grep -vc '^#' constraints.txt) pins"

# --- run -----------------------------------------------------------------------------------
# AUDIENCE=N: also N simulated viewers in the live lecture (heartbeats, votes).
AUDIENCE ?= 0
run: $(RUNTIME_STAMP)
	PY=$(PY) scripts/run.sh --audience $(AUDIENCE)

# The production topology without Docker (scripts/serve.sh; docs/operations.md).
# PORT given on the command line or in the environment wins; else 8080.
SERVE_PORT := $(if $(filter command line environment,$(origin PORT)),$(PORT),8080)
serve: $(RUNTIME_STAMP)
	PY=$(PY) PORT=$(SERVE_PORT) scripts/serve.sh

# --- test ----------------------------------------------------------------------------------
# Every step runs (make -k) so one report shows all failures; the exit status is non-zero
# if any step failed. pytest's own exit status (5 = no tests collected) propagates.
test: system-deps $(DEV_STAMP)
	@$(MAKE) -k test-steps

# Installs the Debian packages the suite drives (as root with apt), else prints the command.
system-deps:
	scripts/system-deps.sh

test-steps: lint format-check typecheck layers migrations-check compose-check pytest

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .

format-check: $(DEV_STAMP)
	$(VENV)/bin/ruff format --check .

typecheck: $(DEV_STAMP)
	$(VENV)/bin/mypy .

# The layers of pyproject.toml [tool.importlinter] (docs/architecture.md).
layers: $(DEV_STAMP)
	$(VENV)/bin/lint-imports --no-logo --cache-dir var/import-linter

migrations-check: $(DEV_STAMP)
	$(PY) manage.py makemigrations --check --dry-run

compose-check:
ifneq ($(DOCKER_COMPOSE),)
	ZHIXING_ENV_FILE=.env.example $(DOCKER_COMPOSE) --env-file .env.example -f docker-compose.yml config -q
	@echo "docker-compose.yml: valid"
else ifeq ($(STRICT),1)
	@echo "docker-compose is required in CI (CI=true / REQUIRE_SERVICES=1) but not found" >&2
	@exit 1
else
	@echo "docker-compose not found: skipping the compose file check"
endif

# --durations=30: the slowest tests in every run (baseline in docs/operations.md).
pytest: $(DEV_STAMP)
	$(VENV)/bin/pytest $(if $(STRICT),-p no:cacheprovider,) --durations=30 $(PYTEST_ARGS)

test-fast: $(DEV_STAMP)
	REQUIRE_SERVICES= $(VENV)/bin/pytest -x -q -m "not slow and not browser" $(PYTEST_ARGS)

qa: lint format-check typecheck layers migrations-check

fmt: $(DEV_STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

messages: $(DEV_STAMP)
	$(PY) scripts/i18n.py

bench: $(DEV_STAMP)
	$(PY) scripts/bench.py

clean:
	rm -rf var/staticfiles var/celery-broker var/celery-processed var/celery-control \
		var/.collectstatic.stamp .mypy_cache .ruff_cache .pytest_cache

# Campus Marketplace: the developer's entry points. `make demo` runs the product,
# `make test` runs the suite; both build .venv first. `make help` lists the rest.

# Python 3.11+ to build .venv with: python3.11 when it runs, else python3.
PYTHON ?= $(shell python3.11 -c '' 2>/dev/null && echo python3.11 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make demo` serves here; ALLOWED_HOSTS must accept HOST if it is not a loopback name.
HOST ?= 127.0.0.1
PORT ?= 8000
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-x tests/contracts"`.
PYTEST_ARGS ?=
# `make fuzz`: Schemathesis' seed, examples per API operation (per role) and phases;
# FUZZ_PHASES=coverage,fuzzing,stateful adds boundary values (about 200 s more per role).
FUZZ_SEED ?= 42
FUZZ_EXAMPLES ?= 10
FUZZ_PHASES ?= examples,fuzzing,stateful
# Worker processes of `make worker`.
CONCURRENCY ?= 2
# Where `make beat` remembers when each job last ran.
BEAT_SCHEDULE_FILE ?= celerybeat-schedule

.DEFAULT_GOAL := help
.PHONY: help install demo realdata test fuzz lint migrate worker beat bench clean

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv and install the project with its test tools

# Reinstalls only when pyproject.toml changes.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "Python 3.11 or newer is needed; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)." >&2; \
		echo "Install it, or point at it: make install PYTHON=/path/to/python3.11" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

demo: install ## Migrate, load the demo data, serve on HOST:PORT (127.0.0.1:8000)
	$(BIN)/python manage.py migrate --noinput
	SITE_URL="$${SITE_URL:-http://$(HOST):$(PORT)}" $(BIN)/python manage.py load_demo
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo
	@echo "Campus Marketplace demo: http://$(HOST):$(PORT)/"
	@echo "  API docs  http://$(HOST):$(PORT)/api/docs/"
	@echo "  admin     http://$(HOST):$(PORT)/admin/  (admin@campus-demo.example.com, the demo password above)"
	@echo "  data      db.sqlite3 in this folder (or DATABASE_URL); stop with Ctrl-C"
	@echo
	SITE_URL="$${SITE_URL:-http://$(HOST):$(PORT)}" $(BIN)/python manage.py runserver $(HOST):$(PORT)

# The public data sets shipped beside the repository (see README, "Real data").
DATA ?= ../shared/data

realdata: install ## Load the full real data (schools, skills, briefs) from DATA=../shared/data
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py import_schools $(DATA)/universities/world_universities_and_domains.json
	$(BIN)/python manage.py import_skills $(DATA)/skills/onet_technology_skills_unique.csv
	$(BIN)/python manage.py import_skills $(DATA)/briefs/skill_tags.csv
	$(BIN)/python manage.py import_briefs $(DATA)/briefs/freelance_jobs.csv

test: install ## Run the test suite (SQLite, or DATABASE_URL when set)
	$(BIN)/pytest -q $(PYTEST_ARGS)

fuzz: install ## Fuzz the API with Schemathesis as four roles on a throwaway server; fails on findings
	$(BIN)/python scripts/fuzz_api.py --seed $(FUZZ_SEED) --max-examples $(FUZZ_EXAMPLES) \
		--phases $(FUZZ_PHASES)

lint: install ## ruff check + format check, import contracts, missing migrations, stale translations
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run --noinput
	$(BIN)/python scripts/translations.py --check

migrate: install ## Apply migrations to db.sqlite3 (or DATABASE_URL)
	$(BIN)/python manage.py migrate --noinput

# Background work needs a broker; without one tasks run in-process and there is nothing
# to start. The check reads the settings, so CELERY_BROKER_URL may come from .env.
BROKER_CHECK = $(BIN)/python -c 'import os; \
	os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings.local"); \
	from django.conf import settings; raise SystemExit(settings.CELERY_TASK_ALWAYS_EAGER)' || { \
	echo "CELERY_BROKER_URL is not set (environment or .env), so tasks run in-process and" >&2; \
	echo "there is nothing for $@ to do. Set it, e.g. CELERY_BROKER_URL=redis://127.0.0.1:6379/0 make $@" >&2; \
	exit 1; }

worker: install ## Run a Celery worker, CONCURRENCY=2 processes (needs CELERY_BROKER_URL)
	@$(BROKER_CHECK)
	$(BIN)/celery -A marketplace worker -l info --concurrency $(CONCURRENCY)

beat: install ## Run the Celery scheduler; exactly one per deployment (needs CELERY_BROKER_URL)
	@$(BROKER_CHECK)
	$(BIN)/celery -A marketplace beat -l info --schedule $(BEAT_SCHEDULE_FILE)

# `make bench`: the PostgreSQL database it DROPS and re-creates (its name must hold
# "bench"), and extra arguments, e.g. BENCH_ARGS="--sizes 1000,3000 --duration 5".
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bench
BENCH_ARGS ?=
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	touch $@

bench: $(BENCH_STAMP) ## Load-test the API on PostgreSQL at 10k/30k/100k students (bench/README.md)
	BENCH_DATABASE_URL="$(BENCH_DATABASE_URL)" $(BIN)/python -m bench.run $(BENCH_ARGS)

clean: ## Remove .venv, db.sqlite3 and collected static files
	rm -rf $(VENV) db.sqlite3 db.sqlite3-journal staticfiles *.egg-info $(BEAT_SCHEDULE_FILE)*

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
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-x tests/projects"`.
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install demo realdata test lint migrate clean

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
	@echo "  admin     http://$(HOST):$(PORT)/admin/  (make a login: $(BIN)/python manage.py createsuperuser)"
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

lint: install ## ruff check + format check, import contracts, missing migrations
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run --noinput

migrate: install ## Apply migrations to db.sqlite3 (or DATABASE_URL)
	$(BIN)/python manage.py migrate --noinput

clean: ## Remove .venv, db.sqlite3 and collected static files
	rm -rf $(VENV) db.sqlite3 db.sqlite3-journal staticfiles *.egg-info

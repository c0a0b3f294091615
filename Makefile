# BorderRisk: `make run` serves the app, `make test` runs the whole test suite.
# Both install what is missing first (system packages, .venv, front-end assets) and
# start the embedded PostGIS under instance/ unless DATABASE_URL is set.

# The venv's interpreter: Debian's own (/usr/bin/python3) when it is 3.11 or newer, else the
# first python3 on PATH. As root, `make run` serves as the unprivileged user `borderrisk`
# (app/serve.py), who must be able to run .venv/bin/python: an interpreter under /root
# (pyenv's, say) is out of its reach.
PYTHON ?= $(shell /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            2>/dev/null && echo /usr/bin/python3 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
# Worker processes of gunicorn, one request each: three per core. Under a mixed load of
# maps, tiles and analyses, processes share the CPU fairly where threads of one process
# queue for Python's GIL (docs/reliability.md: tile p99 0.9 s with 2 workers x 4 threads,
# 0.25 s with 6 x 1 on 2 cores).
WORKERS ?= $(shell echo $$(( 3 * $$(nproc) )))
FLASK := $(BIN)/flask --app app
export PORT

.PHONY: FORCE run test stop db migrate demo system-packages system-packages-test venv venv-test \
        assets translations lint clean-instance

# gunicorn through app/serve.py: started as root, it serves as the unprivileged OS user
# `borderrisk` (created if missing), the only user besides root that may read the web
# app's secrets in instance/. --timeout restarts a worker that stops answering its
# arbiter for 60 s (a request's queries are cut at STATEMENT_TIMEOUT_S, 30 s, well before).
# app/serve.py also starts `flask worker` (webhooks, schedules, alerts, inbox, e-mail)
# beside gunicorn, as the same user.
run: system-packages venv assets translations db migrate demo
	@echo ""
	@echo "BorderRisk on http://127.0.0.1:$(PORT)"
	@$(FLASK) demo credentials
	@echo "(Ctrl-C stops the server and its worker; 'make stop' stops the embedded PostGIS)"
	$(BIN)/python -m app.serve --config python:app.gunicorn_conf --workers $(WORKERS) --threads 1 --timeout 60 --graceful-timeout 30 --bind 127.0.0.1:$(PORT) --access-logfile - 'app:create_app()'

# Tests marked `clock` (the browser tests and those whose answer depends on "now") run
# again with the data clock frozen (BORDERRISK_NOW, geo/clock.py) at the end of a month
# and of a year, the first instant of a year and of a month after February, and a leap
# day: the suite must pass whatever day it runs. CLOCK_DATES= (empty) skips them.
CLOCK_DATES ?= 2026-12-31T23:30:00Z 2027-01-01T00:00:00Z 2027-03-01T00:00:00Z \
               2028-02-29T12:00:00Z

test: system-packages-test venv-test assets translations db
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_ARGS)
	@for moment in $(CLOCK_DATES); do \
	  echo "== the clock-dependent tests with BORDERRISK_NOW=$$moment"; \
	  BORDERRISK_NOW=$$moment $(BIN)/pytest -m clock -q || exit 1; \
	done

stop:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m app.embedded_db stop; \
	 else echo "nothing to stop (no .venv)"; fi

system-packages:
	@PYTHON=$(PYTHON) bash scripts/install-system-packages.sh

system-packages-test:
	@PYTHON=$(PYTHON) bash scripts/install-system-packages.sh --test

# The venv is made from $(PYTHON), and made anew when it was made from another
# interpreter (an older checkout's pyenv one): .base-python names the interpreter and
# changes only then. It is rebuilt when requirements change (a stamp file per
# requirements set).
$(VENV)/.base-python: FORCE
	@want=$$($(PYTHON) -c 'import os, sys; print(os.path.realpath(sys.executable))') || exit 1; \
	 have=$$(test -e $(BIN)/python -o -L $(BIN)/python && readlink -m $(BIN)/python); \
	 if [ -n "$$have" ] && [ "$$have" != "$$want" ]; then \
	   echo "rebuilding $(VENV): made from $$have, not $$want"; \
	   rm -rf $(VENV); \
	 fi; \
	 test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || exit 1; \
	 test "$$(cat $@ 2>/dev/null)" = "$$want" || echo "$$want" > $@

$(VENV)/.installed: requirements.txt $(VENV)/.base-python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed
venv-test: $(VENV)/.installed-dev

# Front-end packages and the Natural Earth data of the demo, from the npm registry.
# No install scripts: none is needed, and one dependency of swagger-ui-dist would
# send analytics.
node_modules/.package-lock.json: package.json package-lock.json
	SCARF_ANALYTICS=false npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

assets: node_modules/.package-lock.json

# The compiled message catalogues (.mo) are built here, never committed (the app also
# compiles a missing one at start-up).
translations: venv
	$(BIN)/pybabel compile -d app/translations -f

db: venv
	@$(BIN)/python -m app.embedded_db start

migrate: db
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) demo load --if-empty --assess

lint: venv-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

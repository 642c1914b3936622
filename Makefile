# Two commands do all the set-up: `make run` and `make test`. Both create .venv and install first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 4

.PHONY: install run deploy test bench lint docs clean browser wrk

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -e .
	@touch $(STAMP)

install: $(STAMP)

## Serve main.py as App Engine would: the local front end (app.yaml handlers, dispatch), every service's
## entrypoint, the Datastore and Cloud Tasks emulators and cron. ARGS passes more, e.g. ARGS="--port 9000".
run: $(STAMP)
	$(BIN)/python -m deploy.local_server $(ARGS)

## Deploy to App Engine: check, stage (.gcloudignore), preflight (a production-like boot on loopback), then
## `gcloud app deploy`. ARGS passes more, e.g. ARGS="--project my-proj --version v2 --no-promote --dry-run".
deploy: $(STAMP)
	$(BIN)/python -m deploy app $(ARGS)

## Debian's Chromium and ChromeDriver for the console's browser tests (tests/console), installed when missing
## and possible (root with apt-get); never fails the build: without them those tests skip and say why.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium and chromium-driver for tests/console"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
			>/dev/null 2>&1 || echo "could not install chromium: tests/console's browser tests will skip"; \
	else echo "no chromium, and no root apt-get to install it: tests/console's browser tests will skip"; fi

## Lint, then every test.
test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

## Debian's wrk, the load generator of `python -m bench server`, installed when missing and possible (root with
## apt-get); never fails: without it that part of the bench says so and is skipped.
wrk:
	@if command -v wrk >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >/dev/null 2>&1 \
			|| echo "could not install wrk: the over-the-wire server bench will be skipped"; \
	else echo "no wrk, and no root apt-get to install it: the over-the-wire server bench will be skipped"; fi

## Benchmarks against Flask in the same run, reported as ratios.
bench: $(STAMP) wrk
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .

## The documentation as HTML in docs/_build/html, offline; a warning or a broken reference is an error.
docs: $(STAMP)
	$(BIN)/python -m sphinx -W -n --keep-going -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .datastore .cloudtasks .local docs/_build

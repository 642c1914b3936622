# Two commands do all the set-up: `make run` and `make test`. Both create .venv and install first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 4

.PHONY: install run deploy test bench lint docs clean

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

## Lint, then every test.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

## Benchmarks against Flask in the same run, reported as ratios.
bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .

## The documentation as HTML in docs/_build/html, offline; a warning or a broken reference is an error.
docs: $(STAMP)
	$(BIN)/python -m sphinx -W -n --keep-going -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .datastore

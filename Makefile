# The README's commands. Everything installs into ./.venv from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: setup java-runtime run test lint bench bench-tools browser openapi client docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# The Spark ALS backend (and its tests) need a Java runtime: Debian's, installed here if absent.
# Without root or apt the set-up goes on; the Spark tests then skip (and fail under CI=true).
java-runtime:
	command -v java >/dev/null || { apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless; } \
	  || { sudo apt-get update -qq && sudo apt-get install -y -qq openjdk-17-jre-headless; } \
	  || echo "warning: no Java runtime; the Spark backend and its tests are unavailable" >&2

setup: $(STAMP) browser java-runtime

# The console's browser tests (tests/browser) drive Debian's chromium through Playwright
# (pointed at /usr/bin/chromium: Playwright never downloads a browser), with a CJK font so
# Chinese renders in its screenshots. Installed here if absent.
BROWSER_PACKAGES := chromium fonts-wqy-microhei
browser:
	{ test -x /usr/bin/chromium && dpkg -s fonts-wqy-microhei >/dev/null 2>&1; } \
	  || { apt-get update -qq && apt-get install -y -qq $(BROWSER_PACKAGES); } \
	  || { sudo apt-get update -qq && sudo apt-get install -y -qq $(BROWSER_PACKAGES); }

# Set up and serve on the embedded default: SQLite file, ./models, synthetic demo data, first model.
run: setup
	$(BIN)/tagmatch db upgrade
	$(BIN)/tagmatch demo --if-empty
	$(BIN)/tagmatch train --if-no-model
	$(BIN)/tagmatch serve --host $(HOST) --port $(PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Set up and run everything CI runs: lint, types, import contract, the whole test suite.
test: lint
	$(BIN)/pytest -n 2

openapi: setup
	$(BIN)/tagmatch openapi > openapi/openapi.json

# The typed Python client in clients/python, generated from openapi/openapi.json (a test
# fails when it is stale). Its formatter hook runs the venv's ruff, hence the PATH.
client: openapi
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/openapi-python-client generate --meta pdm --overwrite \
	  --path openapi/openapi.json --config clients/openapi-python-client.yaml --output-path clients/python

# docs/configuration.md is generated from api/settings.py and matching/config.py.
docs: setup
	$(BIN)/tagmatch config-reference > docs/configuration.md

# The serving benchmark drives the servers with wrk, a Debian package: installed here if absent;
# py-spy (PyPI) profiles a serving worker in the profile phase.
bench-tools: setup
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } \
	  || { sudo apt-get update -qq && sudo apt-get install -y -qq wrk; }
	$(BIN)/pip install --quiet py-spy

# Every figure in BENCHMARKS.md, in its order of issues (ml-100k by path: ../shared/data).
bench: setup bench-tools
	$(BIN)/python bench/quality_ml100k.py --seeds 0 1 2 --trials 15
	$(BIN)/python bench/tags_bench.py
	$(BIN)/python bench/segments_bench.py --repeats 7 --ml100k
	$(BIN)/python bench/ingest_bench.py
	$(BIN)/python bench/serving_bench.py --workers 2

# Schemathesis over openapi/openapi.json on both backends: FUZZ_EXAMPLES cases per operation
# and mode (just over 10 000 requests per backend at 170); fails on any 5xx or non-problem 4xx.
FUZZ_EXAMPLES ?= 170
fuzz: setup
	$(BIN)/python bench/fuzz.py --examples $(FUZZ_EXAMPLES) --backend sqlite
	$(BIN)/python bench/fuzz.py --examples $(FUZZ_EXAMPLES) --backend postgresql

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

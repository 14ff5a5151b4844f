# spacex-elt — `make help` lists the targets. The README's two commands: `make run`, `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.SHELLFLAGS := -eu -o pipefail -c

# uv comes from PATH, or is bootstrapped (pinned) into .tools/ with nothing but python3.
UV_VERSION := 0.13.9
# Every recipe (and every test or script they start) finds that same uv: it is exported as UV and
# its folder goes first on PATH. Outside make: `export PATH="$PWD/.tools/bin:$PATH"`.
UV ?= $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
export UV
export PATH := $(patsubst %/,%,$(dir $(UV))):$(PATH)
RUN := $(UV) run --no-sync
WAREHOUSE ?= $(or $(SPACEX_WAREHOUSE),duckdb)
DATE ?= $(shell date -u +%F)
INPUT ?= snapshot
export SPACEX_WAREHOUSE := $(WAREHOUSE)

.PHONY: help bootstrap install install-all run test unit coverage lint fmt bench bench-dbt bench-all docs dbt-manifest airflow up down logs stack-test aws-test clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(UV):
	@command -v python3 >/dev/null || { echo "python3 (3.11+) is required"; exit 1; }
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@test -x $(UV) || { echo "uv was not installed at $(UV); install uv and put it on PATH"; exit 1; }

bootstrap: $(UV) ## Install uv if missing

# --compile-bytecode: every process (each Airflow task, each dbt start) imports a large venv;
# compiled once at install (~1 min the first time, <1 s after), imports stop compiling sources.
install: $(UV) ## Install the pipeline's locked dependencies (no Airflow, no dev tools)
	$(UV) sync --frozen --no-default-groups --inexact --compile-bytecode

install-all: $(UV) ## Install everything: pipeline, dev tools, Airflow
	$(UV) sync --frozen --all-groups --compile-bytecode

# GNU make itself exits 2 whenever a recipe fails, and nothing in a Makefile can change that: the
# CLI's own exit code (1 pipeline error, 2 wrong usage, 130 interrupted) is make's last line,
# `make: *** [Makefile:N: run] Error 1`. Scripts that branch on it call .venv/bin/spacex-etl.
run: install ## Run the whole pipeline and print Q1/Q2 (INPUT=snapshot|file|https URL, WAREHOUSE=duckdb|postgres)
	$(RUN) spacex-etl run --date $(DATE) --input $(INPUT)

# Test processes (pytest-xdist): one per core by default; each module runs whole on one of them.
WORKERS ?= auto
# Each test's time, read back per folder after the run (tests/timing.py).
TEST_REPORT := .spacex/pytest.xml

test: install-all lint dbt-manifest ## Lint, type-check and run the whole test suite, on every core (what CI runs)
	$(RUN) pytest -n $(WORKERS) --dist loadscope --durations=25 --junitxml=$(TEST_REPORT)
	$(RUN) python -m tests.timing $(TEST_REPORT)

unit: install-all ## The fast unit tests (no dbt runs): the inner loop, under a minute
	$(RUN) pytest tests/unit -q -m "not slow" -n $(WORKERS) --dist loadscope

coverage: install-all dbt-manifest ## The whole suite measuring branch coverage of etl/ and dags/ (subprocesses included)
	$(RUN) pytest -n $(WORKERS) --dist loadscope --cov --cov-report=json:coverage.json --cov-report=
	$(RUN) python -m tests.coverage_table coverage.json

lint: install-all ## ruff, mypy, sqlfluff, hadolint, compose schema, checkov
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	cd dbt_spacex && SPACEX_DUCKDB_PATH=$$(mktemp -d)/lint.duckdb $(RUN) sqlfluff lint models tests
	$(RUN) hadolint docker/*.Dockerfile
	$(RUN) check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml docker/compose.docker-mode.yml
	BC_SKIP_MAPPING=TRUE $(UV) tool run --from checkov==3.3.30 checkov -d terraform --framework terraform --skip-download --compact --quiet

fmt: install-all ## Format the Python code
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

# Benchmarks write to a scratch folder; PUBLISH=1 writes the published results in part-3/bench.
BENCH_OUT = $(if $(PUBLISH),part-3/bench,.spacex/bench/out)

bench: install-all ## Time + peak RSS vs the DuckDB floor and pandas on N generated launches (N=100000; PUBLISH=1)
	$(RUN) python -m tests.benchmarks.run --n $(or $(N),100000) --out $(BENCH_OUT)

bench-dbt: install-all ## dbt's fixed cost: the DAG per model vs one dbt build (standalone), `run` phase by phase
	$(RUN) python -m tests.benchmarks.dbt_cost --out $(BENCH_OUT)

bench-all: bench-dbt ## bench-dbt, then end to end at 100k and 1M launches vs the DuckDB floor
	$(MAKE) bench N=100000,1000000

# The site opens on the project's own overview (dbt_spacex/models/overview.md). Needs only the
# pipeline's dependencies (dbt, no Airflow). dbt's DBT_TARGET_PATH / DBT_LOG_PATH move its output.
# The DuckDB file is the job's (SPACEX_DUCKDB_PATH, else <SPACEX_DATA_DIR>/warehouse.duckdb);
# its folder is created, so the docs build before the first run too (with an empty catalog).
DOCS_PORT ?= 8580
docs: export SPACEX_DUCKDB_PATH := $(or $(SPACEX_DUCKDB_PATH),$(or $(SPACEX_DATA_DIR),.spacex)/warehouse.duckdb)
docs: install ## Generate dbt docs (overview, models, tests, lineage) and serve them on http://127.0.0.1:8580 (DOCS_PORT)
	mkdir -p "$$(dirname "$$SPACEX_DUCKDB_PATH")"
	$(RUN) dbt docs generate --project-dir dbt_spacex --profiles-dir dbt_spacex --target $(WAREHOUSE)
	$(RUN) dbt docs serve --project-dir dbt_spacex --profiles-dir dbt_spacex --target $(WAREHOUSE) --host 127.0.0.1 --port $(DOCS_PORT) --no-browser

dbt-manifest: install-all ## dbt parse with the job's settings: the manifest the DAG renders from + the state runs start warm from
	$(RUN) spacex-etl transform --command parse

# Sized for a 2-core machine: Airflow's defaults start 32 LocalExecutor workers (parallelism)
# and several API/DAG-parsing processes. Override any of them on the command line.
AIRFLOW_PARALLELISM ?= 4
airflow: dbt-manifest ## Start a local Airflow (standalone) with this repo's DAGs
	RUN="$(RUN)" AIRFLOW__CORE__PARALLELISM=$(AIRFLOW_PARALLELISM) \
	AIRFLOW__API__WORKERS=1 AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES=1 \
	docker/airflow/standalone.sh

up: ## docker compose up: the local stack, healthy (needs a Docker engine and .env)
	docker compose up -d --build --wait

down: ## Stop the local stack (its volumes stay; `docker compose down -v` removes them)
	docker compose down

logs: ## Follow the local stack's logs
	docker compose logs -f --tail=100

stack-test: install-all ## Build the images, run the job, the compose stack and the DAG for real (Docker)
	$(RUN) python -m tests.stack.run_stack

aws-test: install-all ## terraform apply/destroy of envs/dev on a local AWS emulator; the job's AWS calls checked against the applied policies
	$(RUN) python -m tests.aws.run_aws

clean: ## Remove local state (.spacex/, .airflow/, dbt target/ and logs/)
	rm -rf .spacex .airflow dbt_spacex/target dbt_spacex/logs

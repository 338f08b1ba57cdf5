# crimemap: two commands on a fresh machine — `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
UV ?= $(PYTHON) -m uv
# uv uses this interpreter for the venv rather than looking for (or fetching) another one.
export UV_PYTHON ?= $(PYTHON)
BENCH_INCIDENTS ?= 1000000
export UV_LINK_MODE ?= copy

.PHONY: install browser run test test-fast lint typecheck sql-lint gates format bench bench-scaling bench-10m bench-city bench-events bench-map ui clean

# uv itself comes from PyPI; everything else from the committed uv.lock.
.venv/.installed: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --user --quiet uv \
		|| $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --compile-bytecode
	@touch $@

install: .venv/.installed

# The map test opens each release's page in a real browser: Debian's Chromium, driven by
# Playwright (a Python package in uv.lock; it downloads no browser of its own).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the map test"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; }

run: install
	$(UV) run --frozen crimemap run

# Everything CI runs: the gates, then every test tier: tests/unit (pure Python, in-memory
# DuckDB), tests/suites (Great Expectations suites on in-memory frames), tests/dbt (dbt builds
# on small fixtures), tests/integration (pipeline runs, publish kill tests, the UI's loader).
# One pytest worker per core (pytest-xdist); a test file stays on one worker, so the fixtures
# a file shares (a pipeline run, a built warehouse) are made once.
test: gates browser
	$(UV) run --frozen pytest -n auto --dist loadfile

# The inner loop: pure Python and in-memory DuckDB, no dbt build, no pipeline run.
test-fast: install
	$(UV) run --frozen pytest tests/unit -q

gates: lint typecheck sql-lint

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: install
	$(UV) run --frozen mypy

# sqlfluff renders the models through dbt, whose profile needs a data directory: a scratch one.
sql-lint: install
	@scratch=$$(mktemp -d) && \
	extensions=$$($(UV) run --frozen python -c \
		"from crimemap.core.duckdb_spatial import prepare_extension_directory as p; print(p())") && \
	CRIMEMAP_DATA_DIR=$$scratch CRIMEMAP_DUCKDB_EXTENSION_DIR=$$extensions \
		$(UV) run --frozen sqlfluff lint dbt_project/models; \
	status=$$?; rm -rf $$scratch; exit $$status

format: install
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

bench: install
	$(UV) run --frozen python -m benchmarks.pipeline --incidents $(BENCH_INCIDENTS) --new-month

bench-scaling: install
	$(UV) run --frozen python -m benchmarks.pipeline --scaling 100000,1000000,3000000

# 10M incidents, crimemap alone: the reference would hold them all in memory (~20 GB).
bench-10m: install
	$(UV) run --frozen python -m benchmarks.pipeline --incidents 10000000 --no-reference

# The community map of the latest release (run `make run` first): size, build and load time.
bench-map: install browser
	$(UV) run --frozen python -m benchmarks.map_page

bench-city: install
	$(UV) run --frozen python -m benchmarks.real_city --rows 10000

# What storing one Dagster event costs: Dagster's SQLite storage against crimemap's.
bench-events: install
	$(UV) run --frozen python -m benchmarks.event_storage

ui: install
	$(UV) run --frozen crimemap ui

clean:
	rm -rf data dbt_project/target dbt_project/logs .pytest_cache .ruff_cache

# crimemap: two commands on a fresh machine — `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
UV ?= $(PYTHON) -m uv
# uv uses this interpreter for the venv rather than looking for (or fetching) another one.
export UV_PYTHON ?= $(PYTHON)
BENCH_INCIDENTS ?= 1000000
export UV_LINK_MODE ?= copy

.PHONY: install run test lint format bench bench-city ui clean

# uv itself comes from PyPI; everything else from the committed uv.lock.
.venv/.installed: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --user --quiet uv \
		|| $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen
	@touch $@

install: .venv/.installed

run: install
	$(UV) run --frozen crimemap run

test: install
	$(UV) run --frozen pytest

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

format: install
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

bench: install
	$(UV) run --frozen python -m benchmarks.pipeline --incidents $(BENCH_INCIDENTS)

bench-city: install
	$(UV) run --frozen python -m benchmarks.real_city --rows 10000

ui: install
	$(UV) run --frozen crimemap ui

clean:
	rm -rf data dbt_project/target dbt_project/logs .pytest_cache .ruff_cache

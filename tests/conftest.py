"""Tests never touch the developer's ./data: every session gets its own data directory."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

os.environ["CRIMEMAP_DATA_DIR"] = tempfile.mkdtemp(prefix="crimemap-test-data-")
os.environ.pop("DAGSTER_HOME", None)


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with spatial loaded offline, the way the pipeline opens it."""
    from crimemap.core.duckdb_spatial import connect

    with connect() as connection:
        yield connection


TIERS = ("unit", "suites", "dbt", "integration")
# The order the tiers run in: the slowest files first, so that with one pytest worker per core
# (make test) the many quick files even out the end instead of one long file.
RUN_ORDER = ("integration", "dbt", "suites", "unit")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test carries its tier's marker (its folder), so `-m "not integration"` selects;
    the tiers run in ``RUN_ORDER``, each file's tests in their own order."""
    root = Path(__file__).parent

    def tier_of(item: pytest.Item) -> str:
        return item.path.relative_to(root).parts[0]

    for item in items:
        if tier_of(item) in TIERS:
            item.add_marker(tier_of(item))
    items.sort(key=lambda item: RUN_ORDER.index(tier_of(item)) if tier_of(item) in RUN_ORDER else 0)

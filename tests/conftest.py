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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test carries its tier's marker (its folder), so `-m "not integration"` selects."""
    root = Path(__file__).parent
    for item in items:
        tier = item.path.relative_to(root).parts[0]
        if tier in TIERS:
            item.add_marker(tier)

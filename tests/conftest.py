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


# The test tiers (folders), in the order they run: the slowest first, so that with one pytest
# worker per core (make test) the many quick files even out the end instead of one long file.
TIERS = ("integration", "dbt", "suites", "unit")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test carries its tier's marker (its folder), so `-m "not integration"` selects;
    the tiers run in ``TIERS`` order, each file's tests in their own order."""
    root = Path(__file__).parent
    order = {item: len(TIERS) for item in items}
    for item in items:
        tier = item.path.relative_to(root).parts[0]
        if tier in TIERS:
            item.add_marker(tier)
            order[item] = TIERS.index(tier)
    items.sort(key=order.__getitem__)

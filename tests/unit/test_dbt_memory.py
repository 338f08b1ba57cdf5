"""dbt's DuckDB memory limit grows with the police offenses a build reads; the environment can
override it, and the block leaves the environment as it found it."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crimemap.warehouse.memory import (
    MEMORY_LIMIT_ENV,
    conformed_offenses,
    dbt_memory_limit,
    sized_memory_limit,
)


@pytest.mark.parametrize(
    ("offenses", "limit"),
    [(0, "1.0GB"), (1_000_000, "1.1GB"), (10_000_000, "2.0GB"), (100_000_000, "4.0GB")],
)
def test_the_limit_grows_with_the_offenses_up_to_a_cap(offenses: int, limit: str) -> None:
    assert sized_memory_limit(offenses) == limit
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{limit}'")  # DuckDB reads it as written


def write_month(root: Path, source: str, month: str, rows: int) -> None:
    folder = root / source / f"month={month}"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"offense_code": ["13A"] * rows}), folder / "part.parquet")


def test_the_offenses_are_counted_from_every_sources_partitions(tmp_path: Path) -> None:
    write_month(tmp_path, "north", "2024-07", 1200)
    write_month(tmp_path, "north", "2024-08", 300)
    write_month(tmp_path, "south", "2024-07", 50)
    assert conformed_offenses(tmp_path) == 1550
    assert conformed_offenses(tmp_path / "nowhere") == 0


def test_the_block_sets_the_sized_limit_and_then_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    write_month(tmp_path, "north", "2024-07", 10)
    with dbt_memory_limit(tmp_path) as limit:
        assert limit == "1.0GB"
        assert os.environ[MEMORY_LIMIT_ENV] == "1.0GB"
    assert MEMORY_LIMIT_ENV not in os.environ


def test_a_limit_set_in_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "6GB")
    with dbt_memory_limit(tmp_path) as limit:
        assert limit == "6GB"
    assert os.environ[MEMORY_LIMIT_ENV] == "6GB"

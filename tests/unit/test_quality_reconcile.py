"""raw rows = staged rows + quarantined rows, and counting Parquet rows with DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from crimemap.quality.reconcile import count_parquet_rows, reconcile


def test_balanced_load_reconciles() -> None:
    result = reconcile("police_incidents", 1000, 990, 10)
    assert result.ok
    assert result.difference == 0
    assert "reconciled" in result.message


def test_lost_rows_are_detected_and_named() -> None:
    result = reconcile("police_incidents", 1000, 985, 10)
    assert not result.ok
    assert result.difference == 5
    assert result.message.startswith("police_incidents: 5 rows lost")
    assert "985" in result.message and "10" in result.message


def test_invented_rows_are_detected() -> None:
    # e.g. a staging join that fans out
    result = reconcile("areas", 10, 12, 0)
    assert not result.ok
    assert result.difference == -2
    assert "2 rows more than raw" in result.message


def test_negative_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="staged_rows"):
        reconcile("areas", 10, -1, 0)


@pytest.fixture()
def parquet_files(tmp_path: Path) -> list[Path]:
    con = duckdb.connect()
    paths = []
    for n in (3, 0, 5):
        path = tmp_path / f"part_{n}.parquet"
        con.execute(f"COPY (SELECT range AS x FROM range({n})) TO '{path}' (FORMAT parquet)")
        paths.append(path)
    con.close()
    return paths


def test_count_parquet_rows(parquet_files: list[Path]) -> None:
    con = duckdb.connect()
    assert count_parquet_rows(con, parquet_files[0]) == 3
    assert count_parquet_rows(con, parquet_files) == 8
    assert count_parquet_rows(con, str(parquet_files[0].parent / "part_*.parquet")) == 8
    assert count_parquet_rows(con, []) == 0


def test_count_of_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(duckdb.Error):
        count_parquet_rows(duckdb.connect(), tmp_path / "nope.parquet")


def test_split_then_reconcile_detects_a_dropped_row(tmp_path: Path) -> None:
    """The check as the pipeline runs it: counts from files, not from the splitter's say-so."""
    con = duckdb.connect()
    raw, staged, quarantined = (tmp_path / f"{n}.parquet" for n in ("raw", "staged", "q"))
    con.execute(f"COPY (SELECT range AS id FROM range(10)) TO '{raw}' (FORMAT parquet)")
    con.execute(f"COPY (SELECT range AS id FROM range(2)) TO '{quarantined}' (FORMAT parquet)")
    # A buggy staging step drops one clean row.
    con.execute(f"COPY (SELECT range AS id FROM range(2, 9)) TO '{staged}' (FORMAT parquet)")
    result = reconcile(
        "x",
        count_parquet_rows(con, raw),
        count_parquet_rows(con, staged),
        count_parquet_rows(con, quarantined),
    )
    assert (result.ok, result.difference) == (False, 1)

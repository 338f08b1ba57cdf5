"""Reconciliation: nothing is silently dropped, ``raw rows = staged rows + quarantined rows``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crimemap.core.duckdb_spatial import fetch_one
from crimemap.core.sql import sql_literal

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class Reconciliation:
    source: str
    raw_rows: int
    staged_rows: int
    quarantined_rows: int

    @property
    def difference(self) -> int:
        """Rows unaccounted for: positive = lost, negative = invented (e.g. a fan-out join)."""
        return self.raw_rows - self.staged_rows - self.quarantined_rows

    @property
    def ok(self) -> bool:
        return self.difference == 0

    @property
    def message(self) -> str:
        balance = (
            f"raw {self.raw_rows:,} vs staged {self.staged_rows:,} + "
            f"quarantined {self.quarantined_rows:,} = "
            f"{self.staged_rows + self.quarantined_rows:,}"
        )
        if self.ok:
            return f"{self.source}: reconciled, {balance}"
        if self.difference > 0:
            return f"{self.source}: {self.difference:,} rows lost ({balance})"
        return f"{self.source}: {-self.difference:,} rows more than raw ({balance})"


def reconcile(
    source: str, raw_rows: int, staged_rows: int, quarantined_rows: int
) -> Reconciliation:
    for name, value in (
        ("raw_rows", raw_rows),
        ("staged_rows", staged_rows),
        ("quarantined_rows", quarantined_rows),
    ):
        if value < 0:
            raise ValueError(f"{source}: {name} is negative ({value})")
    return Reconciliation(source, raw_rows, staged_rows, quarantined_rows)


def count_parquet_rows(
    con: duckdb.DuckDBPyConnection, paths: Path | str | Iterable[Path | str]
) -> int:
    """Total rows of one or more Parquet files or globs, read from the footers (no scan).

    No paths count as 0 rows; a path that matches nothing is an error, not a silent zero.
    """
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    if not items:
        return 0
    listed = ", ".join(sql_literal(str(p)) for p in items)
    return fetch_one(con, f"SELECT count(*) FROM read_parquet([{listed}])")[0]

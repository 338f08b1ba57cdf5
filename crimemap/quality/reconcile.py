"""Reconciliation: nothing is silently dropped, ``raw rows = staged rows + quarantined rows``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crimemap.config.paths import DataPaths
from crimemap.core.duckdb_spatial import connect, fetch_one, scratch
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


@dataclass(frozen=True)
class LoadFiles:
    """The files of one non-police load: what came in, what was accepted, what was set aside."""

    raw: Sequence[Path]
    conformed: Path
    quarantine: Sequence[Path]
    # SQL aggregate over the conformed file: how many raw rows its records stand for.
    rows_behind_sql: str


def load_files(source: str, paths: DataPaths) -> LoadFiles:
    if source == "surveys":
        return LoadFiles(
            raw=sorted(paths.raw_surveys.glob("*.parquet")),
            conformed=paths.conformed_file("surveys"),
            quarantine=sorted((paths.quarantine / "surveys").glob("*.parquet")),
            # one row per answered question; a respondent is a row of its wave's file
            rows_behind_sql="count(DISTINCT (survey, _row_number))",
        )
    return LoadFiles(
        raw=[paths.raw_file(source)],
        conformed=paths.conformed_file(source),
        quarantine=[paths.quarantine_file(source)],
        # areas merge the rows that share an id; ACS rows become one row per indicator
        rows_behind_sql="sum(source_rows)"
        if source in ("areas", "indicator_units")
        else ("count(DISTINCT _row_number)"),
    )


def reconcile_load(source: str, files: LoadFiles) -> Reconciliation:
    """Raw rows of a load against the rows behind its conformed records plus its quarantine."""
    with scratch() as con:
        behind = fetch_one(
            con,
            f"SELECT coalesce({files.rows_behind_sql}, 0) "
            f"FROM read_parquet({sql_literal(str(files.conformed))})",
        )[0]
        return reconcile(
            source,
            raw_rows=count_parquet_rows(con, files.raw),
            staged_rows=int(behind),
            quarantined_rows=count_parquet_rows(con, files.quarantine),
        )


def reconcile_police_source(source: str, paths: DataPaths) -> tuple[Reconciliation, int]:
    """A police source's raw rows against the warehouse's incidents and its quarantine, and the
    number of offenses those incidents hold."""
    raw_glob = str(paths.raw_police(source) / "month=*" / "*.parquet")
    quarantine_glob = str(paths.quarantine_police(source) / "month=*" / "*.parquet")
    with connect(paths.warehouse, read_only=True) as con:
        # A published row may carry several offenses (LAPD): count rows, not offenses.
        staged_rows, offenses = fetch_one(
            con,
            "SELECT count(DISTINCT (_load_id, _row_number)), count(*) FROM fct_incidents "
            "WHERE source = ?",
            [source],
        )
        result = reconcile(
            source,
            raw_rows=count_parquet_rows(con, raw_glob),
            staged_rows=staged_rows,
            quarantined_rows=count_parquet_rows(con, quarantine_glob),
        )
    return result, offenses

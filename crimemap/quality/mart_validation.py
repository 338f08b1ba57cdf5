"""The mart suites, validated on their warehouse tables, several at a time.

Each worker process (``crimemap.quality.workers``) opens the warehouse read-only once (loading
DuckDB's spatial extension costs about 0.2 s a connection) and reads the marts of the suites it
is given: it receives a mart's name and its suite, never a frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from crimemap.core.duckdb_spatial import connect, fetch_one
from crimemap.core.sql import quote_ident
from crimemap.quality.mart_suites import mart_frames
from crimemap.quality.suites import FailedExpectation, SuiteOutcome, SuiteSpec, run_suite_kept
from crimemap.quality.workers import map_in_workers, parallel_workers

# A suite's cost grows with its expectations, and with its rows once there are many.
ROWS_PER_EXPECTATION_COST = 100_000
# How much of a suite's error its check shows (the first line, as the message).
MAX_ERROR_CHARS = 500

# A worker's read-only connection to the warehouse (``open_warehouse``).
_warehouse: duckdb.DuckDBPyConnection | None = None


def validate_mart(
    con: duckdb.DuckDBPyConnection, quality_dir: Path, mart: str, spec: SuiteSpec
) -> SuiteOutcome:
    """``mart``'s suite on its warehouse table, kept under ``quality_dir`` like every suite. A
    suite that cannot run (its mart cannot be read, say) fails as a blocking check of
    its own, with the error, and the other marts' suites still report."""
    try:
        return run_suite_kept(spec, mart_frames(con, mart, spec), quality_dir)
    except Exception as error:  # reported as the check's failure, not lost with the step
        return suite_error_outcome(spec, mart, error)


def suite_error_outcome(spec: SuiteSpec, mart: str, error: Exception) -> SuiteOutcome:
    """A blocking failure that names the mart and the error that stopped its suite."""
    first_line = (str(error).strip().splitlines() or [""])[0][:MAX_ERROR_CHARS]
    failure = FailedExpectation(
        expectation="suite_could_not_run",
        column=None,
        severity="ERROR",
        unexpected_count=None,
        unexpected_percent=None,
        sample=[],
        message=f"{spec.name} could not run on {mart}: {type(error).__name__}: {first_line}",
    )
    return SuiteOutcome(
        suite=spec.name,
        success=False,
        severity="ERROR",
        n_expectations=len(spec.expectations),
        failed=[failure],
        statistics={},
    )


def open_warehouse(warehouse: Path) -> None:
    """A worker's set-up: its connection, open until the worker exits."""
    global _warehouse
    _warehouse = connect(warehouse, read_only=True)


def validate_mart_in_worker(quality_dir: Path, mart: str, spec: SuiteSpec) -> SuiteOutcome:
    if _warehouse is None:
        raise RuntimeError("a mart suite ran in a worker whose warehouse was not opened")
    return validate_mart(_warehouse, quality_dir, mart, spec)


def mart_rows(con: duckdb.DuckDBPyConnection, mart: str) -> int:
    """A mart's row count, to order the suites; 0 for one that cannot be read (its suite
    reports why)."""
    try:
        return int(fetch_one(con, f"SELECT count(*) FROM main.{quote_ident(mart)}")[0])
    except duckdb.Error:
        return 0


def expected_cost(rows: int, spec: SuiteSpec) -> float:
    return len(spec.expectations) * (1 + rows / ROWS_PER_EXPECTATION_COST)


def validate_marts(
    warehouse: Path, quality_dir: Path, suites: Sequence[tuple[str, SuiteSpec]]
) -> list[SuiteOutcome]:
    """Each ``(mart, suite)``'s outcome, in order. With several cores the suites run in worker
    processes, the costliest first, so that no worker is left with a long one at the end."""
    with connect(warehouse, read_only=True) as con:
        workers = parallel_workers(len(suites))
        if not workers:
            return [validate_mart(con, quality_dir, mart, spec) for mart, spec in suites]
        rows = [mart_rows(con, mart) for mart, _ in suites]
    order = sorted(
        range(len(suites)), key=lambda i: expected_cost(rows[i], suites[i][1]), reverse=True
    )
    outcomes = map_in_workers(
        validate_mart_in_worker,
        [(quality_dir, *suites[i]) for i in order],
        workers,
        initializer=open_warehouse,
        initargs=(warehouse,),
    )
    by_job = dict(zip(order, outcomes, strict=True))
    return [by_job[i] for i in range(len(suites))]

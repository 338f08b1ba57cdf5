"""The mart suites, validated on their warehouse tables, several at a time.

The suites are shared among the workers (``crimemap.quality.workers``) by their expected cost,
the costliest first, each to the least loaded worker: each worker opens the warehouse read-only
once (loading DuckDB's spatial extension costs about 0.2 s a connection), reads the marts of
its suites and closes it. It receives marts' names and their suites, never a frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from crimemap.core.duckdb_spatial import connect, fetch_one
from crimemap.core.sql import quote_ident
from crimemap.quality.mart_suites import mart_frames
from crimemap.quality.suites import SuiteOutcome, SuiteSpec, run_suite_kept
from crimemap.quality.workers import map_in_workers, parallel_workers

# A suite's cost grows with its expectations, and with its rows once there are many.
ROWS_PER_EXPECTATION_COST = 100_000

MartSuite = tuple[str, SuiteSpec]


def validate_mart(
    con: duckdb.DuckDBPyConnection, quality_dir: Path, mart: str, spec: SuiteSpec
) -> SuiteOutcome:
    """``mart``'s suite on its warehouse table, kept under ``quality_dir`` like every suite."""
    return run_suite_kept(spec, mart_frames(con, mart, spec), quality_dir)


def validate_marts_here(
    warehouse: Path, quality_dir: Path, suites: Sequence[MartSuite]
) -> list[SuiteOutcome]:
    """Each ``(mart, suite)``'s outcome, in order, through one read-only connection."""
    with connect(warehouse, read_only=True) as con:
        return [validate_mart(con, quality_dir, mart, spec) for mart, spec in suites]


def expected_cost(rows: int, spec: SuiteSpec) -> float:
    return len(spec.expectations) * (1 + rows / ROWS_PER_EXPECTATION_COST)


def balanced_shares(costs: Sequence[float], workers: int) -> list[list[int]]:
    """The indexes of ``costs`` in ``workers`` shares of about equal sums: the costliest first,
    each to the share with the least so far (no share is empty while there are enough)."""
    shares: list[list[int]] = [[] for _ in range(min(workers, len(costs)))]
    sums = [0.0] * len(shares)
    for i in sorted(range(len(costs)), key=lambda i: costs[i], reverse=True):
        least = min(range(len(shares)), key=lambda s: (sums[s], len(shares[s])))
        shares[least].append(i)
        sums[least] += costs[i]
    return shares


def validate_marts(
    warehouse: Path, quality_dir: Path, suites: Sequence[MartSuite]
) -> list[SuiteOutcome]:
    """Each ``(mart, suite)``'s outcome, in order, the suites shared among worker processes,
    one per core (``balanced_shares``)."""
    workers = parallel_workers(len(suites))
    if not workers:
        return validate_marts_here(warehouse, quality_dir, suites)
    with connect(warehouse, read_only=True) as con:
        rows = [
            int(fetch_one(con, f"SELECT count(*) FROM main.{quote_ident(mart)}")[0])
            for mart, _ in suites
        ]
    costs = [expected_cost(n, spec) for n, (_, spec) in zip(rows, suites, strict=True)]
    shares = balanced_shares(costs, workers)
    outcomes = map_in_workers(
        validate_marts_here,
        [(warehouse, quality_dir, [suites[i] for i in share]) for share in shares],
        len(shares),
    )
    by_suite = {
        i: outcome
        for share, share_outcomes in zip(shares, outcomes, strict=True)
        for i, outcome in zip(share, share_outcomes, strict=True)
    }
    return [by_suite[i] for i in range(len(suites))]

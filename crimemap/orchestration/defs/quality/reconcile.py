"""Reconciliation of every survey and public-record load, counted from the files themselves:
``raw rows = rows behind the conformed records + quarantined rows``.

The split reports the same balance, but from its own temp table; this check re-counts what was
written, so a writer that drops or multiplies rows after the split (a fan-out join, a lost
wave) is caught. Police loads have theirs in ``defs/police/checks.py``.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.config.paths import DataPaths
from crimemap.core.duckdb_spatial import connect, fetch_one
from crimemap.core.sql import sql_literal
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.sources.assets import (
    conformed_key,
    quarantine_key,
    raw_key,
    split_source_names,
)
from crimemap.orchestration.defs.sources.surveys import (
    CONFORMED_SURVEYS,
    QUARANTINE_SURVEYS,
    RAW_SURVEYS,
    raw_survey_dir,
)
from crimemap.quality.reconcile import count_parquet_rows, reconcile


@dataclass(frozen=True)
class LoadFiles:
    raw: Sequence[Path]
    conformed: Path
    quarantine: Sequence[Path]
    # SQL aggregate over the conformed file: how many raw rows its records stand for.
    rows_behind_sql: str


def load_files(source: str, paths: DataPaths) -> LoadFiles:
    if source == "surveys":
        return LoadFiles(
            raw=sorted(raw_survey_dir(paths).glob("*.parquet")),
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


def reconcile_load_check(
    source: str, conformed: AssetKey, raw: AssetKey, quarantine: AssetKey
) -> AssetChecksDefinition:
    @asset_check(
        asset=conformed,
        name=f"reconcile_{source}",
        additional_deps=[raw, quarantine],
        blocking=True,
        description=f"{source}: raw rows = rows behind the conformed records + quarantined rows.",
    )
    def _reconcile(
        context: AssetCheckExecutionContext, data_dir: DataDirectory
    ) -> AssetCheckResult:
        files = load_files(source, data_dir.paths)
        with connect() as con:
            behind = fetch_one(
                con,
                f"SELECT coalesce({files.rows_behind_sql}, 0) "
                f"FROM read_parquet({sql_literal(str(files.conformed))})",
            )[0]
            result = reconcile(
                source,
                raw_rows=count_parquet_rows(con, files.raw),
                staged_rows=int(behind),
                quarantined_rows=count_parquet_rows(con, files.quarantine),
            )
        return AssetCheckResult(
            passed=result.ok,
            severity=AssetCheckSeverity.ERROR,
            description=result.message,
            metadata={
                "raw_rows": result.raw_rows,
                "canonical_rows": result.staged_rows,
                "quarantined_rows": result.quarantined_rows,
                "difference": result.difference,
                "report": MetadataValue.text(result.message),
            },
        )

    return _reconcile


def reconcile_checks(config: JurisdictionConfig) -> list[AssetChecksDefinition]:
    checks = [
        reconcile_load_check(name, conformed_key(name), raw_key(name), quarantine_key(name))
        for name in split_source_names(config)
    ]
    checks.append(
        reconcile_load_check("surveys", CONFORMED_SURVEYS, RAW_SURVEYS, QUARANTINE_SURVEYS)
    )
    return checks

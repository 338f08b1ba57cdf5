"""Police quality checks per source: the GX raw suite and the reconciliation of every load."""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from crimemap.config.jurisdiction import JurisdictionConfig, PoliceSource
from crimemap.core.duckdb_spatial import connect, fetch_one
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.police.assets import conformed_key, quarantine_key, raw_key
from crimemap.orchestration.defs.quality.checks import areas_bbox, validate_frame
from crimemap.quality.reconcile import count_parquet_rows, reconcile
from crimemap.quality.suites import police_raw_suite, read_partitions


def reconcile_check(source: PoliceSource) -> AssetChecksDefinition:
    name = source.name

    @asset_check(
        asset=AssetKey(["marts", "fct_incidents"]),
        name=f"reconcile_police_{name}",
        additional_deps=[raw_key(name), quarantine_key(name), conformed_key(name)],
        description=f"{name}: raw rows = rows behind canonical offenses + quarantined rows.",
        blocking=True,
    )
    def _reconcile(
        context: AssetCheckExecutionContext, data_dir: DataDirectory
    ) -> AssetCheckResult:
        paths = data_dir.paths
        raw_glob = str(paths.raw_police(name) / "month=*" / "*.parquet")
        quarantine_glob = str(paths.quarantine_police(name) / "month=*" / "*.parquet")
        with connect(paths.warehouse, read_only=True) as con:
            # A published row may carry several offenses (LAPD): count rows, not offenses.
            staged_rows, offenses = fetch_one(
                con,
                "SELECT count(DISTINCT (_load_id, _row_number)), count(*) FROM fct_incidents "
                "WHERE source = ?",
                [name],
            )
            result = reconcile(
                name,
                raw_rows=count_parquet_rows(con, raw_glob),
                staged_rows=staged_rows,
                quarantined_rows=count_parquet_rows(con, quarantine_glob),
            )
        return AssetCheckResult(
            passed=result.ok,
            severity=AssetCheckSeverity.ERROR,
            description=result.message,
            metadata={
                "raw_rows": result.raw_rows,
                "canonical_rows": result.staged_rows,
                "canonical_offenses": offenses,
                "quarantined_rows": result.quarantined_rows,
                "difference": result.difference,
                "report": MetadataValue.text(result.message),
            },
        )

    return _reconcile


def raw_suite_check(source: PoliceSource) -> AssetChecksDefinition:
    name = source.name

    @asset_check(
        asset=raw_key(name),
        name=f"police_{name}_raw_suite",
        additional_deps=[AssetKey(["conformed", "areas"])],
        description=f"Great Expectations suite police_{name}_raw: the {source.layout.name} "
        "columns exactly, ids present, points inside the jurisdiction's extent.",
        blocking=True,
    )
    def _suite(context: AssetCheckExecutionContext, data_dir: DataDirectory) -> AssetCheckResult:
        paths = data_dir.paths
        spec = police_raw_suite(source.layout, source=name, bbox=areas_bbox(paths))
        return validate_frame(spec, read_partitions(paths.raw_police(name)), paths)

    return _suite


def police_checks(config: JurisdictionConfig) -> list[AssetChecksDefinition]:
    checks: list[AssetChecksDefinition] = []
    for source in config.police:
        checks += [reconcile_check(source), raw_suite_check(source)]
    return checks

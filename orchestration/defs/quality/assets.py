"""Quarantine assets: row-level rules split each raw source into accepted rows and quarantine.

The accepted rows are not copied: dbt staging reads the raw landing and leaves out the rows whose
``(_load_id, _row_number)`` is in quarantine, so the raw file stays the one source of truth.
"""

from collections.abc import Callable

from dagster import AssetExecutionContext, AssetsDefinition, MaterializeResult, MetadataValue, asset

from orchestration.defs.jurisdiction import Jurisdiction
from orchestration.settings import DataPaths, data_paths
from quality.rules import (
    SourceRules,
    SplitResult,
    area_rules,
    facility_rules,
    load_boundary,
    split_quarantine,
)
from warehouse.duckdb_spatial import connect

RulesFactory = Callable[..., SourceRules]


def split_metadata(result: SplitResult) -> dict[str, object]:
    return {
        "dagster/row_count": result.quarantined_rows,
        "raw_rows": result.raw_rows,
        "accepted_rows": result.clean_rows,
        "quarantined_rows": result.quarantined_rows,
        "quarantined_by_reason": MetadataValue.json(result.by_reason),
        "path": MetadataValue.path(str(result.quarantine_path)),
    }


def facilities_rules(con, paths: DataPaths, jurisdiction: Jurisdiction) -> SourceRules:
    return facility_rules(
        boundary_table=load_boundary(con, paths.raw_file("areas")),
        projected_crs=jurisdiction.projected_crs,
        tolerance_m=jurisdiction.boundary_tolerance_m,
    )


def areas_rules(con, paths: DataPaths, jurisdiction: Jurisdiction) -> SourceRules:
    return area_rules()


def quarantine_asset(
    source: str, description: str, rules_for: RulesFactory, extra_deps: list[str]
) -> AssetsDefinition:
    @asset(
        key=["quarantine", source],
        deps=[["raw", source], *(["raw", d] for d in extra_deps)],
        group_name="quality",
        kinds={"duckdb", "parquet"},
        description=description,
    )
    def _quarantine(
        context: AssetExecutionContext, jurisdiction: Jurisdiction
    ) -> MaterializeResult:
        paths = data_paths()
        with connect() as con:
            rules = rules_for(con, paths, jurisdiction)
            result = split_quarantine(
                con, paths.raw_file(source), rules, quarantine_path=paths.quarantine_file(source)
            )
        context.log.info(
            f"{source}: {result.raw_rows:,} raw rows, {result.quarantined_rows:,} quarantined "
            f"{result.by_reason}"
        )
        return MaterializeResult(metadata=split_metadata(result))

    return _quarantine


QUARANTINE_ASSETS = [
    quarantine_asset(
        "areas",
        "Boundary rows with a missing id or a geometry that does not parse or repair.",
        areas_rules,
        [],
    ),
    quarantine_asset(
        "facilities",
        "Facility rows with a missing id, bad coordinates, or a location outside the jurisdiction.",
        facilities_rules,
        ["areas"],
    ),
]

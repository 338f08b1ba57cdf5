"""Quality checks: a GX suite on every conformed survey and public-record source, and the
suite runner all checks share.

The suites read the conformed files (canonical columns), so one suite serves every publisher
layout and CRS a jurisdiction declares. They block: a conformed file that breaks its contract
never reaches dbt. Police sources have their own checks (suite + reconciliation) in
``defs/police/checks.py``.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from ingestion.census import TABLE_SETS
from ingestion.jurisdiction import JurisdictionConfig
from orchestration.settings import DataPaths, data_paths
from quality.layouts import BBox
from quality.rules import load_areas
from quality.suites import (
    SuiteOutcome,
    SuiteSpec,
    area_indicators_conformed_suite,
    areas_conformed_suite,
    facilities_conformed_suite,
    read_frame,
    run_suite,
    service_requests_conformed_suite,
    surveys_conformed_suite,
    write_data_docs_index,
)
from warehouse.duckdb_spatial import connect

if TYPE_CHECKING:
    import pandas as pd


def areas_bbox(paths: DataPaths) -> BBox:
    """The jurisdiction's extent, from the conformed areas, for coordinate range expectations."""
    with connect() as con:
        table = load_areas(con, paths.conformed_file("areas"))
        xmin, ymin, xmax, ymax = con.execute(
            f"SELECT min(ST_XMin(geom)), min(ST_YMin(geom)), max(ST_XMax(geom)), "
            f"max(ST_YMax(geom)) FROM {table}"
        ).fetchone()
    return BBox(xmin, ymin, xmax, ymax)


def suite_check_result(outcome: SuiteOutcome) -> AssetCheckResult:
    severity = AssetCheckSeverity.ERROR if outcome.severity == "ERROR" else AssetCheckSeverity.WARN
    summary = "; ".join(f["message"] for f in outcome.failed[:5]) or "all expectations met"
    metadata: dict[str, object] = {
        "expectations": outcome.n_expectations,
        "expectations_failed": len(outcome.failed),
        "failed": MetadataValue.json(outcome.to_metadata()["failed"]),
        "validation_seconds": round(outcome.seconds, 2),
    }
    if outcome.validation_path:
        metadata["validation_result"] = MetadataValue.path(str(outcome.validation_path))
    if outcome.data_docs_path:
        metadata["data_docs"] = MetadataValue.url(outcome.data_docs_path.resolve().as_uri())
    return AssetCheckResult(
        passed=outcome.success, severity=severity, description=summary, metadata=metadata
    )


def validate_frame(spec: SuiteSpec, frame: "pd.DataFrame", paths: DataPaths) -> AssetCheckResult:
    """Run a suite, keep its result and Data Docs under the quality dir, report it."""
    outcome = run_suite(
        spec,
        frame,
        results_dir=paths.quality / "validations",
        data_docs_dir=paths.quality / "data_docs",
    )
    write_data_docs_index(paths.quality / "data_docs")
    return suite_check_result(outcome)


def conformed_suite_check(
    source: str, description: str, suite: Callable[[DataPaths], SuiteSpec]
) -> AssetChecksDefinition:
    @asset_check(
        asset=AssetKey(["conformed", source]),
        name=f"{source}_conformed_suite",
        description=description,
        blocking=True,
    )
    def _check(context: AssetCheckExecutionContext) -> AssetCheckResult:
        paths = data_paths()
        return validate_frame(suite(paths), read_frame(paths.conformed_file(source)), paths)

    return _check


def source_checks(config: JurisdictionConfig) -> list[AssetChecksDefinition]:
    """One blocking GX suite per conformed survey and public-record source."""
    indicators = [i.name for i in TABLE_SETS[config.indicators.table_set]]
    questions = [q.name for q in config.surveys.layout.questions]
    threshold = config.indicators.cv_threshold_pct
    return [
        conformed_suite_check(
            "areas",
            "GX suite areas_conformed: one row per area id, a geometry each, few repairs.",
            lambda paths: areas_conformed_suite(),
        ),
        conformed_suite_check(
            "area_indicators",
            "GX suite area_indicators_conformed: 11-digit GEOIDs, one row per unit x "
            "indicator, estimates and margins non-negative, proportions within 0..1.",
            lambda paths: area_indicators_conformed_suite(indicators, cv_threshold_pct=threshold),
        ),
        conformed_suite_check(
            "facilities",
            "GX suite facilities_conformed: unique ids, canonical service types, points in the "
            "jurisdiction's extent.",
            lambda paths: facilities_conformed_suite(bbox=areas_bbox(paths)),
        ),
        conformed_suite_check(
            "service_requests",
            "GX suite service_requests_conformed: unique ids, created times, points in the "
            "jurisdiction's extent, closed after created.",
            lambda paths: service_requests_conformed_suite(bbox=areas_bbox(paths), min_rows=0),
        ),
        conformed_suite_check(
            "surveys",
            "GX suite surveys_conformed: one answer per respondent and question, answers on "
            "their scale, positive weights.",
            lambda paths: surveys_conformed_suite(questions, bbox=areas_bbox(paths), min_rows=0),
        ),
    ]

"""Quality checks on the published marts: one blocking GX suite per dbt mart.

Each check reads its mart from the warehouse read-only, only the columns its suite names (geometry
as its type name, never as WKB; see ``quality.mart_suites.mart_frame``), and runs the suite.
An ERROR failure blocks everything downstream of the mart, the published release included.
The diagnostic marts (``marts/quality``) have no suite: they report coverage, not a contract.
"""

from collections.abc import Callable
from datetime import UTC, datetime

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetKey,
    asset_check,
)

from ingestion.census import TABLE_SETS
from ingestion.jurisdiction import JurisdictionConfig
from orchestration.defs.quality.checks import areas_bbox, validate_frame
from orchestration.settings import DataPaths, data_paths
from quality.mart_suites import (
    area_indicators_suite,
    area_month_rates_suite,
    dim_area_suite,
    dim_facility_suite,
    fct_incidents_suite,
    mart_frame,
    read_columns,
    service_requests_area_month_suite,
    survey_area_responses_suite,
)
from quality.suites import SuiteSpec
from warehouse.duckdb_spatial import connect

MartSuite = Callable[[DataPaths], SuiteSpec]


def mart_suite_check(mart: str, description: str, suite: MartSuite) -> AssetChecksDefinition:
    @asset_check(
        asset=AssetKey(["marts", mart]),
        name=f"{mart}_mart_suite",
        description=description,
        blocking=True,
    )
    def _check(context: AssetCheckExecutionContext) -> AssetCheckResult:
        paths = data_paths()
        spec = suite(paths)
        with connect(paths.warehouse, read_only=True) as con:
            frame = mart_frame(con, mart, read_columns(spec))
        return validate_frame(spec, frame, paths)

    return _check


def mart_checks(config: JurisdictionConfig) -> list[AssetChecksDefinition]:
    """One blocking GX suite per published mart."""
    sources = [s.name for s in config.police]
    indicators = [i.name for i in TABLE_SETS[config.indicators.table_set]]
    questions = [q.name for q in config.surveys.layout.questions]
    threshold = config.indicators.cv_threshold_pct
    police_start = config.police_start_month
    requests_start = config.service_requests.start_month
    min_responses = config.surveys.min_responses

    def now() -> datetime:
        # Judged when the check runs, not when the definitions load.
        return datetime.now(UTC)

    return [
        mart_suite_check(
            "fct_incidents",
            "GX suite fct_incidents_mart: unique offense keys, configured sources, the category "
            "taxonomy, unmapped codes sensitive, no point exactly when precision is 'none', "
            "areas exactly when assigned, nothing in the future.",
            lambda paths: fct_incidents_suite(
                sources, start=police_start, now=now(), bbox=areas_bbox(paths)
            ),
        ),
        mart_suite_check(
            "dim_area",
            "GX suite dim_area_mart: one polygon per area id, positive size, counts and rates in "
            "range, missing indicators flagged unreliable.",
            lambda paths: dim_area_suite(),
        ),
        mart_suite_check(
            "area_indicators",
            "GX suite area_indicators_mart: one row per area x indicator, estimates and margins "
            "non-negative, proportions within 0..1, the reliability flag as its CV says.",
            lambda paths: area_indicators_suite(indicators, cv_threshold_pct=threshold),
        ),
        mart_suite_check(
            "area_month_rates",
            "GX suite area_month_rates_mart: one row per area x month x category, months from "
            "the police start month, reports <= offenses, rates exactly when not suppressed.",
            lambda paths: area_month_rates_suite(start=police_start, now=now()),
        ),
        mart_suite_check(
            "dim_facility",
            "GX suite dim_facility_mart: unique ids, canonical service types, points in the "
            "jurisdiction's extent, areas exactly when assigned.",
            lambda paths: dim_facility_suite(bbox=areas_bbox(paths)),
        ),
        mart_suite_check(
            "service_requests_area_month",
            "GX suite service_requests_area_month_mart: one row per area x month x request type, "
            "closed <= opened, no median without a closure.",
            lambda paths: service_requests_area_month_suite(start=requests_start, now=now()),
        ),
        mart_suite_check(
            "survey_area_responses",
            "GX suite survey_area_responses_mart: one row per area x survey x question, "
            "respondents <= area respondents, suppressed cells without a share.",
            lambda paths: survey_area_responses_suite(questions, min_responses=min_responses),
        ),
    ]

"""Quality checks on the raw landings of the survey and public-record sources.

One blocking GX suite per raw asset (``crimemap/quality/source_suites.py``) judges the file as
landed, before its split reads it. Schema drift, a column the jurisdiction's mapping reads renamed
or gone, fails as ERROR naming the missing and unexpected columns (and likely renames); the split
depends on the raw asset, so that source stops while the other sources go on. Row defects only
warn: the split quarantines them row by row, and the warning reports the rate.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetKey,
    asset_check,
)

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.config.paths import DataPaths
from crimemap.ingestion.boundaries import BoundarySpec
from crimemap.ingestion.census import TABLE_SETS
from crimemap.ingestion.surveys import SurveyLayout
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.quality.checks import (
    jurisdiction_bbox,
    suite_check_result,
    validate,
)
from crimemap.orchestration.defs.sources.assets import conformed_key, raw_key
from crimemap.orchestration.defs.sources.surveys import RAW_SURVEYS
from crimemap.quality.boundaries import landed_geometry_column
from crimemap.quality.layouts import BBox
from crimemap.quality.source_suites import (
    acs_geography_columns,
    area_indicators_raw_suite,
    boundaries_raw_suite,
    facilities_raw_suite,
    indicator_table_raw_suite,
    service_requests_raw_suite,
    survey_raw_suite,
)
from crimemap.quality.suites import SuiteSpec, read_frame

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class RawBatch:
    """One landing file and the suite that judges it; ``label`` names the file in messages."""

    label: str
    spec: SuiteSpec
    frame: "pd.DataFrame"


Batches = Callable[[DataPaths], list[RawBatch]]
SuiteFor = Callable[["pd.DataFrame", DataPaths], SuiteSpec]


# --- what each check reads ---------------------------------------------------------------------


def source_file_of(frame: "pd.DataFrame") -> str | None:
    """The published file's name, from the lineage (None for an empty landing)."""
    if "_source_file" not in frame.columns or frame.empty:
        return None
    value = frame["_source_file"].iloc[0]
    return str(value) if value is not None else None


def extent(paths: DataPaths) -> BBox | None:
    """The jurisdiction's extent; None before the first areas split (ranges are then skipped)."""
    return jurisdiction_bbox(paths) if paths.conformed_file("areas").is_file() else None


def single_file(source: str, suite: SuiteFor) -> Batches:
    def _batches(paths: DataPaths) -> list[RawBatch]:
        path = paths.raw_file(source)
        frame = read_frame(path)
        return [RawBatch(source_file_of(frame) or path.name, suite(frame, paths), frame)]

    return _batches


def boundaries_suite(spec: BoundarySpec, source: str) -> SuiteFor:
    def _suite(frame: "pd.DataFrame", paths: DataPaths) -> SuiteSpec:
        geometry = landed_geometry_column(spec, list(frame.columns), source_file_of(frame))
        return boundaries_raw_suite(spec, geometry_column=geometry, source=source)

    return _suite


def survey_batches(layout: SurveyLayout) -> Batches:
    """Every file the survey asset landed (the inbox's CSVs, or the empty stand-in)."""

    def _batches(paths: DataPaths) -> list[RawBatch]:
        bbox = extent(paths)
        batches = []
        for path in sorted(paths.raw_surveys.glob("*.parquet")):
            frame = read_frame(path)
            spec = survey_raw_suite(layout, survey=path.stem, bbox=bbox)
            batches.append(RawBatch(source_file_of(frame) or path.name, spec, frame))
        return batches

    return _batches


# --- checks ------------------------------------------------------------------------------------


def raw_suite_check(
    source: str, asset_key: AssetKey, description: str, batches: Batches, *, needs_extent: bool
) -> AssetChecksDefinition:
    @asset_check(
        asset=asset_key,
        name=f"{source}_raw_suite",
        description=description,
        # Point ranges read the conformed areas' extent, as the police raw suites do.
        additional_deps=[conformed_key("areas")] if needs_extent else None,
        blocking=True,
    )
    def _check(context: AssetCheckExecutionContext, data_dir: DataDirectory) -> AssetCheckResult:
        paths = data_dir.paths
        return suite_check_result(
            {batch.label: validate(batch.spec, batch.frame, paths) for batch in batches(paths)}
        )

    return _check


def raw_source_checks(config: JurisdictionConfig) -> list[AssetChecksDefinition]:
    """One blocking GX suite per raw survey and public-record asset the definitions hold. An
    absent source's raw asset lands an empty file it writes itself: nothing to judge."""
    table_set = TABLE_SETS[config.indicators.table_set]
    facilities = config.facilities.mapping
    requests = config.service_requests.layout
    indicator_table = config.indicators.table
    checks = {
        "areas": lambda: raw_suite_check(
            "areas",
            raw_key("areas"),
            "GX suite areas_raw: the id, name and geometry columns the boundary spec reads; "
            "ids and polygons mostly present.",
            single_file("areas", boundaries_suite(config.boundaries.spec, "areas")),
            needs_extent=False,
        ),
        "area_indicators": lambda: (
            raw_suite_check(
                "area_indicators",
                raw_key("area_indicators"),
                f"GX suite area_indicators_raw: every estimate and margin column of the "
                f"{config.indicators.table_set} table set and a geography; GEOIDs mostly present "
                "and unique.",
                single_file(
                    "area_indicators",
                    lambda frame, paths: area_indicators_raw_suite(
                        table_set, geography=acs_geography_columns(list(frame.columns))
                    ),
                ),
                needs_extent=False,
            )
            if indicator_table is None
            else raw_suite_check(
                "area_indicators",
                raw_key("area_indicators"),
                "GX suite area_indicators_raw: the key and indicator columns the table "
                "declaration reads; keys mostly present and unique.",
                single_file(
                    "area_indicators",
                    lambda frame, paths: indicator_table_raw_suite(indicator_table),
                ),
                needs_extent=False,
            )
        ),
        "facilities": lambda: raw_suite_check(
            "facilities",
            raw_key("facilities"),
            "GX suite facilities_raw: the columns the facility mapping reads; ids mostly present "
            "and unique, points mostly inside the jurisdiction's extent.",
            single_file(
                "facilities",
                lambda frame, paths: facilities_raw_suite(facilities, bbox=extent(paths)),
            ),
            needs_extent=True,
        ),
        "surveys": lambda: raw_suite_check(
            "surveys",
            RAW_SURVEYS,
            "GX suite per survey file: the columns the survey layout reads; response ids mostly "
            "present and unique, dates in a declared format, positive weights.",
            survey_batches(config.surveys.layout),
            needs_extent=True,
        ),
        "service_requests": lambda: raw_suite_check(
            "service_requests",
            raw_key("service_requests"),
            f"GX suite service_requests_raw: the {requests.name} layout's columns; request "
            "ids mostly present and unique, creation dates in a declared format, points "
            "mostly inside the jurisdiction's extent.",
            single_file(
                "service_requests",
                lambda frame, paths: service_requests_raw_suite(requests, bbox=extent(paths)),
            ),
            needs_extent=True,
        ),
    }
    units = config.indicators.units
    if units is not None:
        checks["indicator_units"] = lambda: raw_suite_check(
            "indicator_units",
            raw_key("indicator_units"),
            "GX suite indicator_units_raw: the id and geometry columns the units' boundary "
            "spec reads; ids and polygons mostly present.",
            single_file("indicator_units", boundaries_suite(units.spec, "indicator_units")),
            needs_extent=False,
        )
    return [build() for source, build in checks.items() if source not in config.absent_sources]

"""Survey and public-record sources: raw landing, then the split into conformed and quarantine.

Each source lands its published file as Parquet of strings (``raw/<source>``), then one DuckDB
pass judges every row, writes the accepted ones in canonical columns (``conformed/<source>``)
and the rejected ones with reason codes (``quarantine/<source>``). Boundaries come first: every
point source is checked against the conformed areas.
"""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.config.paths import DataPaths
from crimemap.config.sources import BoundarySource, QualitySettings
from crimemap.core.duckdb_spatial import scratch
from crimemap.ingestion.boundaries import BoundaryError, land_boundaries
from crimemap.ingestion.census import TABLE_SETS
from crimemap.ingestion.landing import (
    LandingResult,
    ReadOptions,
    land_census_json,
    land_csv,
    land_geojson,
    land_parquet,
)
from crimemap.ingestion.live.http import LiveSourceError
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.jurisdiction import Jurisdiction
from crimemap.orchestration.defs.quality.acceptance import acceptance_result, acceptance_spec
from crimemap.orchestration.defs.quality.volume import record_volume
from crimemap.quality.acceptance import load_acceptance
from crimemap.quality.boundaries import split_boundaries, write_no_units
from crimemap.quality.census import split_acs
from crimemap.quality.facilities import split_facilities
from crimemap.quality.indicator_table import load_known_units, split_indicator_table
from crimemap.quality.rules import EventRuleSettings, SplitResult, load_areas
from crimemap.quality.service_requests import split_service_requests
from crimemap.quality.volume import WHOLE_LOAD

Splitter = Callable[[Any, DataPaths, Jurisdiction], SplitResult]


def raw_key(source: str) -> AssetKey:
    return AssetKey(["raw", source])


def conformed_key(source: str) -> AssetKey:
    return AssetKey(["conformed", source])


def quarantine_key(source: str) -> AssetKey:
    return AssetKey(["quarantine", source])


def landing_metadata(
    result: LandingResult, source_file: Path
) -> dict[str, MetadataValue | str | int]:
    return {
        "dagster/row_count": result.rows,
        "columns": MetadataValue.json([c for c in result.columns if not c.startswith("_")]),
        "source_file": source_file.name,
        "path": MetadataValue.path(str(result.path)),
    }


def split_metadata(result: SplitResult) -> dict[str, MetadataValue | int]:
    return {
        "raw_rows": result.raw_rows,
        "accepted_rows": result.clean_rows,
        "quarantined_rows": result.quarantined_rows,
        "quarantined_by_reason": MetadataValue.json(result.by_reason),
    }


# --- raw landing -------------------------------------------------------------------------------


Lander = Callable[[Path, Path, str], LandingResult]


def point_records_lander(read: ReadOptions) -> Lander:
    """Facilities and 311 exports: CSV, or GeoJSON points."""

    def _land(source_file: Path, dest: Path, load_id: str) -> LandingResult:
        if source_file.suffix.lower() in (".geojson", ".json"):
            return land_geojson(source_file, dest, load_id=load_id, read=read)
        return land_csv(source_file, dest, load_id=load_id, read=read)

    return _land


def table_lander(read: ReadOptions) -> Lander:
    """An indicator table: CSV, Parquet, or the properties of a GeoJSON file."""

    def _land(source_file: Path, dest: Path, load_id: str) -> LandingResult:
        if source_file.suffix.lower() == ".parquet":
            return land_parquet(source_file, dest, load_id=load_id, read=read)
        return point_records_lander(read)(source_file, dest, load_id)

    return _land


def raw_source_asset(
    source: str,
    description: str,
    feed_key: str,
    land: Callable[[Path, Path, str], LandingResult],
    fetch: Callable[[Any, Callable[[str], None]], Path] | None = None,
) -> AssetsDefinition:
    @asset(
        key=raw_key(source),
        group_name="sources",
        description=description,
        kinds={"parquet"},
        required_resource_keys={feed_key, "data_dir"},
    )
    def _raw(context: AssetExecutionContext) -> MaterializeResult:
        data_dir: DataDirectory = context.resources.data_dir
        paths = data_dir.paths
        feed = getattr(context.resources, feed_key)
        try:
            source_file = fetch(feed, context.log.info) if fetch else feed.fetch(context.log.info)
            result = land(source_file, paths.raw_file(source), context.run.run_id)
        except (BoundaryError, LiveSourceError, FileNotFoundError, ValueError) as exc:
            # A missing file, a changed schema or a malformed export: retrying cannot fix it.
            raise Failure(description=f"{source}: {exc}", allow_retries=False) from exc
        record_volume(
            data_dir.paths.state, source, context.run.run_id, feed, {WHOLE_LOAD: result.rows}
        )
        context.log.info(f"{source}: {result.rows:,} rows landed from {source_file.name}")
        return MaterializeResult(metadata=landing_metadata(result, source_file))

    return _raw


def indicators_landing(config: JurisdictionConfig) -> tuple[str, str, Lander]:
    """Description, feed and lander of the indicators: Census API JSON, or the city's table."""
    indicators = config.indicators
    if indicators.table is not None:
        return (
            "The jurisdiction's own indicator table, as published: every column a string.",
            "area_indicators_feed",
            table_lander(indicators.read),
        )
    return (
        f"Census ACS estimates ({indicators.table_set} table set, {indicators.mode} mode) as "
        "the Census API returns them.",
        "area_indicators_feed",
        lambda f, d, load_id: land_census_json(f, d, load_id=load_id),
    )


def raw_assets(config: JurisdictionConfig) -> list[AssetsDefinition]:
    def boundaries_lander(source: BoundarySource) -> Lander:
        def _land(source_file: Path, dest: Path, load_id: str) -> LandingResult:
            with scratch() as con:
                return land_boundaries(
                    source_file, dest, source.spec, load_id=load_id, con=con, read=source.read
                )

        return _land

    layout = config.service_requests.layout
    assets = [
        raw_source_asset(
            "areas",
            f"Area boundaries, the unit of analysis ({config.boundaries.mode} mode), as "
            "published: attributes as strings, geometry as GeoJSON or WKT text, source CRS.",
            "areas_feed",
            boundaries_lander(config.boundaries),
        ),
        raw_source_asset("area_indicators", *indicators_landing(config)),
        raw_source_asset(
            "facilities",
            f"Social-service facility locations ({config.facilities.mode} mode), as published.",
            "facilities_feed",
            point_records_lander(config.facilities.read),
        ),
        raw_source_asset(
            "service_requests",
            f"311 service requests in the {layout.name} layout "
            f"({config.service_requests.mode} mode), as published.",
            "service_requests_feed",
            point_records_lander(config.service_requests.read),
            fetch=lambda feed, log: feed.fetch(layout, log),
        ),
    ]
    units = config.indicators.units
    if units is not None:
        assets.append(
            raw_source_asset(
                "indicator_units",
                "Boundaries of the geography the indicators come in (e.g. tracts), as published.",
                "indicator_units_feed",
                boundaries_lander(units),
            )
        )
    return assets


# --- splits ------------------------------------------------------------------------------------


def split_asset(
    source: str,
    description: str,
    split: Splitter,
    deps: list[AssetKey],
    conformed_description: str,
    quality: QualitySettings,
) -> AssetsDefinition:
    @multi_asset(
        check_specs=[acceptance_spec(source, conformed_key(source))],
        name=f"split_{source}",
        specs=[
            AssetSpec(
                conformed_key(source),
                deps=[raw_key(source), *deps],
                group_name="quality",
                kinds={"duckdb", "parquet"},
                description=conformed_description,
            ),
            AssetSpec(
                quarantine_key(source),
                deps=[raw_key(source), *deps],
                group_name="quality",
                kinds={"duckdb", "parquet"},
                description=description,
            ),
        ],
    )
    def _split(
        context: AssetExecutionContext, data_dir: DataDirectory, jurisdiction: Jurisdiction
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        paths = data_dir.paths
        with scratch() as con:
            try:
                result = split(con, paths, jurisdiction)
            except ValueError as exc:
                raise Failure(description=f"{source}: {exc}", allow_retries=False) from exc
        context.log.info(
            f"{source}: {result.raw_rows:,} raw rows, {result.clean_rows:,} accepted, "
            f"{result.quarantined_rows:,} quarantined {result.by_reason}"
        )
        conformed_rows = parquet_rows(result.clean_path)
        yield MaterializeResult(
            asset_key=conformed_key(source),
            metadata={
                "dagster/row_count": conformed_rows,
                **split_metadata(result),
                "path": MetadataValue.path(str(result.clean_path)),
            },
        )
        yield MaterializeResult(
            asset_key=quarantine_key(source),
            metadata={
                "dagster/row_count": result.quarantined_rows,
                **split_metadata(result),
                "path": MetadataValue.path(str(result.quarantine_path)),
            },
        )
        yield acceptance_result(
            conformed_key(source), source, [load_acceptance(source, [result])], quality
        )

    return _split


def split_source_names(config: JurisdictionConfig) -> list[str]:
    """The survey and public-record sources landed as one file each (surveys land per wave)."""
    names = ["areas", "area_indicators", "facilities", "service_requests"]
    return [*names, "indicator_units"] if config.indicators.units is not None else names


def parquet_rows(parquet: Path | None) -> int:
    return 0 if parquet is None else pq.ParquetFile(parquet).metadata.num_rows


def split_assets(config: JurisdictionConfig) -> list[AssetsDefinition]:
    areas_key = conformed_key("areas")

    def areas(con: Any, paths: DataPaths, jurisdiction: Jurisdiction) -> SplitResult:
        return split_boundaries(
            con,
            config.boundaries.spec,
            raw_parquet=paths.raw_file("areas"),
            quarantine_path=paths.quarantine_file("areas"),
            conformed_path=paths.conformed_file("areas"),
            profile_path=paths.profile_file("areas"),
        )

    def indicators(con: Any, paths: DataPaths, jurisdiction: Jurisdiction) -> SplitResult:
        table = config.indicators.table
        if table is not None:
            units = config.indicators.units
            geography = "indicator_units" if units is not None else "areas"
            return split_indicator_table(
                con,
                table,
                units=load_known_units(con, paths.conformed_file(geography)),
                id_kind=(units or config.boundaries).spec.id_kind,
                raw_parquet=paths.raw_file("area_indicators"),
                quarantine_path=paths.quarantine_file("area_indicators"),
                conformed_path=paths.conformed_file("area_indicators"),
                profile_path=paths.profile_file("area_indicators"),
                cv_threshold_pct=config.indicators.cv_threshold_pct,
            )
        return split_acs(
            con,
            TABLE_SETS[config.indicators.table_set],
            raw_parquet=paths.raw_file("area_indicators"),
            quarantine_path=paths.quarantine_file("area_indicators"),
            conformed_path=paths.conformed_file("area_indicators"),
            profile_path=paths.profile_file("area_indicators"),
            cv_threshold_pct=config.indicators.cv_threshold_pct,
        )

    def facilities(con: Any, paths: DataPaths, jurisdiction: Jurisdiction) -> SplitResult:
        return split_facilities(
            con,
            config.facilities.mapping,
            boundary_table=load_areas(con, paths.conformed_file("areas")),
            projected_crs=jurisdiction.projected_crs,
            tolerance_m=jurisdiction.boundary_tolerance_m,
            raw_parquet=paths.raw_file("facilities"),
            quarantine_path=paths.quarantine_file("facilities"),
            conformed_path=paths.conformed_file("facilities"),
            profile_path=paths.profile_file("facilities"),
        )

    def service_requests(con: Any, paths: DataPaths, jurisdiction: Jurisdiction) -> SplitResult:
        settings = EventRuleSettings(
            boundary_table=load_areas(con, paths.conformed_file("areas")),
            projected_crs=jurisdiction.projected_crs,
            timezone=jurisdiction.timezone,
            tolerance_m=jurisdiction.boundary_tolerance_m,
            now_sql='__raw."_ingested_at"',
        )
        return split_service_requests(
            con,
            config.service_requests.layout,
            settings,
            source="service_requests",
            raw_parquet=paths.raw_file("service_requests"),
            quarantine_path=paths.quarantine_file("service_requests"),
            conformed_path=paths.conformed_file("service_requests"),
            profile_path=paths.profile_file("service_requests"),
        )

    assets = [
        split_asset(
            "areas",
            "Boundary rows with no usable id, or a geometry that does not parse, repair to a "
            "polygon or reproject to lon/lat.",
            areas,
            [],
            "One row per area: pieces sharing an id merged, repaired, in EPSG:4326.",
            config.quality,
        ),
        split_asset(
            "area_indicators",
            "Indicator rows with no usable key (a Census GEOID, or an area the table names), a "
            "value that is not a number, or a repeated key.",
            indicators,
            indicator_geography(config),
            "One row per geography unit x indicator: estimate, margin, CV, reliability flag.",
            config.quality,
        ),
        split_asset(
            "facilities",
            "Facility rows with a missing id or location, an unmapped type, or a location "
            "outside the jurisdiction.",
            facilities,
            [areas_key],
            "Facilities with a canonical service type and a WGS84 point.",
            config.quality,
        ),
        split_asset(
            "service_requests",
            "311 rows with a missing id, an unusable date or location, or a repeated id.",
            service_requests,
            [areas_key],
            "311 requests: type, status, zoned created/closed times, WGS84 point.",
            config.quality,
        ),
    ]
    units = config.indicators.units
    if units is not None:

        def indicator_units(con: Any, paths: DataPaths, jurisdiction: Jurisdiction) -> SplitResult:
            return split_boundaries(
                con,
                units.spec,
                raw_parquet=paths.raw_file("indicator_units"),
                quarantine_path=paths.quarantine_file("indicator_units"),
                conformed_path=paths.conformed_file("indicator_units"),
                profile_path=paths.profile_file("indicator_units"),
                source="indicator_units",
            )

        assets.append(
            split_asset(
                "indicator_units",
                "Indicator-geography boundary rows with no usable id or geometry.",
                indicator_units,
                [],
                "One row per indicator unit (e.g. tract), merged, repaired, in EPSG:4326.",
                config.quality,
            )
        )
    return assets


def indicator_geography(config: JurisdictionConfig) -> list[AssetKey]:
    """What a city's own indicator table is keyed against: the areas, or the indicator units."""
    if config.indicators.table is None:
        return []
    units = config.indicators.units is not None
    return [conformed_key("indicator_units" if units else "areas")]


def same_geography_units_asset() -> AssetsDefinition:
    """With indicators on the areas' own geography there are no separate units: an empty file
    keeps the dbt source defined, and interpolation falls back to identity weights."""

    @asset(
        key=conformed_key("indicator_units"),
        deps=[conformed_key("areas")],
        group_name="quality",
        kinds={"duckdb", "parquet"},
        description="Indicators come on the areas' geography: no separate units (empty).",
    )
    def _units(context: AssetExecutionContext, data_dir: DataDirectory) -> MaterializeResult:
        paths = data_dir.paths
        write_no_units(paths.conformed_file("areas"), paths.conformed_file("indicator_units"))
        return MaterializeResult(metadata={"dagster/row_count": 0})

    return _units

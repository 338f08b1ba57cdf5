"""Raw landing assets: every source lands as Parquet, columns exactly as published + lineage."""

from collections.abc import Callable
from pathlib import Path

from dagster import AssetExecutionContext, AssetsDefinition, MaterializeResult, MetadataValue, asset

from ingestion.landing import LandingResult, land_census_json, land_csv, land_geojson
from orchestration.defs.sources.resources import SourceFiles
from orchestration.settings import data_paths

Lander = Callable[..., LandingResult]


def landing_metadata(result: LandingResult, source_file: Path) -> dict[str, object]:
    return {
        "dagster/row_count": result.rows,
        "columns": MetadataValue.json(list(result.columns)),
        "source_file": source_file.name,
        "path": MetadataValue.path(str(result.path)),
    }


def raw_asset(name: str, description: str, pick: str, lander: Lander) -> AssetsDefinition:
    """A raw landing asset for one source: fetch its file via the source resource, land it."""

    @asset(
        key=["raw", name],
        group_name="sources",
        description=description,
        kinds={"parquet"},
    )
    def _raw(context: AssetExecutionContext, source_files: SourceFiles) -> MaterializeResult:
        paths = data_paths()
        source_file = getattr(source_files, pick)(paths.sources)
        context.log.info(f"landing {source_file.name} as raw/{name}")
        result = lander(source_file, paths.raw_file(name), load_id=context.run_id)
        return MaterializeResult(metadata=landing_metadata(result, source_file))

    return _raw


raw_areas = raw_asset(
    "areas", "Area boundaries (census tracts) as published.", "areas", land_geojson
)
raw_area_indicators = raw_asset(
    "area_indicators",
    "Census ACS 5-year indicators by tract, as returned by the Census API.",
    "area_indicators",
    land_census_json,
)
raw_facilities = raw_asset(
    "facilities",
    "Social-service facility locations (mental health, substance use, shelters, clinics, youth).",
    "facilities",
    land_csv,
)

RAW_ASSETS = [raw_areas, raw_area_indicators, raw_facilities]

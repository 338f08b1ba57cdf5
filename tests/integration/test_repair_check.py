"""The repair check on the conformed areas: a WARN naming the area a repair changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagster import AssetCheckSeverity, build_asset_check_context

from crimemap.config.jurisdiction import load_jurisdiction
from crimemap.config.paths import DataPaths
from crimemap.core.duckdb_spatial import connect
from crimemap.ingestion.boundaries import land_boundaries
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.quality.repairs import repair_checks

pytestmark = pytest.mark.integration

SQUARE = [[-122.40, 47.60], [-122.35, 47.60], [-122.35, 47.65], [-122.40, 47.65], [-122.40, 47.60]]
BOW_TIE = [[-122.35, 47.60], [-122.30, 47.65], [-122.30, 47.60], [-122.35, 47.65], [-122.35, 47.60]]


def city(root: Path, areas: Path, quality: str = "") -> Path:
    path = root / "city.yml"
    path.write_text(
        "name: Bow City\ntimezone: America/Los_Angeles\nprojected_crs: EPSG:32610\n"
        "police: [{name: spd, layout: seattle_spd, mode: sample}]\n"
        f"boundaries: {{mode: file, path: {areas}, id_field: GEOID, name_field: NAME}}\n" + quality
    )
    return path


def check_result(
    tmp_path: Path, second: list[list[float]], quality: str = ""
) -> tuple[bool, str, dict]:
    features = [
        {"type": "Feature", "properties": {"GEOID": gid, "NAME": name},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}
        for gid, name, ring in (("53033000100", "Square", SQUARE), ("53033000200", "2nd", second))
    ]  # fmt: skip
    areas = tmp_path / "areas.geojson"
    areas.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    config = load_jurisdiction(city(tmp_path, areas, quality))
    paths = DataPaths(tmp_path / "data")
    with connect() as con:
        land_boundaries(
            areas, paths.raw_file("areas"), config.boundaries.spec, load_id="L", con=con
        )
    (check,) = repair_checks(config)
    result = check(
        build_asset_check_context(resources={"data_dir": DataDirectory(root=str(paths.root))})
    )
    assert result.severity == AssetCheckSeverity.WARN
    metadata = {k: v.value for k, v in result.metadata.items()}
    return result.passed, result.description or "", metadata


def test_a_repair_that_changes_an_area_warns_naming_it(tmp_path: Path) -> None:
    passed, description, metadata = check_result(tmp_path, BOW_TIE)

    assert not passed
    assert description.startswith(
        "area 53033000200 (row 2): repairing its geometry changed its size from nothing"
    )
    assert metadata["areas_changed"] == 1 and metadata["max_change"] == 0.01


def test_valid_areas_pass_at_the_jurisdictions_threshold(tmp_path: Path) -> None:
    east = [[x + 0.05, y] for x, y in SQUARE]

    passed, description, metadata = check_result(
        tmp_path, east, "quality: {max_repair_area_change: 0.05}\n"
    )

    assert passed and description == "no repair changed an area's size"
    assert metadata["max_change"] == 0.05

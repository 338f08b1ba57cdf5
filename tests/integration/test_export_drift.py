"""An export whose columns change between loads: months landed from each load keep their own
columns, and the raw check judges each as published. An added column is accepted and reported,
a dropped column the layout reads stops the source naming it, and the next load of a fixed
export passes with no cleanup."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from dagster import AssetCheckSeverity, materialize

from crimemap.config.jurisdiction import JurisdictionConfig, load_jurisdiction
from crimemap.config.paths import DataPaths
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.police.assets import police_partitions, raw_police_asset
from crimemap.orchestration.defs.police.checks import police_checks
from crimemap.orchestration.defs.police.resources import feed_resource_key, police_feed
from crimemap.samplecity.generate import generate_sample_city
from crimemap.samplecity.settings import SampleCityConfig
from tests.support.police_loads import conform_areas

pytestmark = pytest.mark.integration


def city(root: Path, export: Path, areas: Path) -> JurisdictionConfig:
    path = root / "city.yml"
    path.write_text(
        "name: Drift Town\ntimezone: America/Los_Angeles\nprojected_crs: EPSG:32610\n"
        f"police: [{{name: spd, layout: seattle_spd, mode: file, path: {export}, "
        "start_month: 2024-07}]\n"
        f"boundaries: {{mode: file, path: {areas}, id_field: GEOID, name_field: NAME}}\n"
    )
    return load_jurisdiction(path)


def land_and_check(config: JurisdictionConfig, paths: DataPaths, month: str) -> tuple[str, str]:
    """Land one month from the export as it is now; the raw check's severity and description
    (``passed`` when it passed)."""
    (source,) = config.police
    asset = raw_police_asset(source, config, police_partitions(config))
    suite = next(
        c for c in police_checks(config) if any("raw_suite" in s.name for s in c.check_specs)
    )
    result = materialize(
        [asset, suite],
        partition_key=f"{month}-01",
        resources={
            feed_resource_key(source.name): police_feed(source, config, paths.sources),
            "data_dir": DataDirectory(root=str(paths.root)),
        },
        raise_on_error=False,
    )
    landing_failures = [
        e for e in result.get_step_failure_events() if e.step_key == "raw__police__spd"
    ]
    assert not landing_failures, "the landing itself failed"
    (evaluation,) = result.get_asset_check_evaluations()
    if evaluation.passed:
        return "passed", evaluation.description or ""
    return evaluation.severity.value, evaluation.description or ""


def test_columns_added_and_dropped_between_loads(tmp_path: Path) -> None:
    files = generate_sample_city(tmp_path / "city", SampleCityConfig(n_incidents=3000))
    original = pl.read_csv(files.police_csv, infer_schema=False)
    export = tmp_path / "exports" / "spd.csv"
    export.parent.mkdir()
    original.write_csv(export)
    config = city(tmp_path, export, files.areas_geojson)
    paths = DataPaths(tmp_path / "data")
    conform_areas(config, paths)

    assert land_and_check(config, paths, "2024-07") == ("passed", "all expectations met")

    # The portal adds a column: July keeps the old columns, August has the new one.
    original.with_columns(pl.lit("n/a").alias("Reporting Area")).write_csv(export)
    severity, description = land_and_check(config, paths, "2024-08")
    assert severity == AssetCheckSeverity.WARN.value
    assert "months 2024-08: extra columns: ['Reporting Area']" in description
    assert "2024-07" not in description  # July is judged as it was published

    # The portal renames a column the layout reads: the source stops, naming it.
    original.rename({"Offense Code": "Offense_Code"}).write_csv(export)
    severity, description = land_and_check(config, paths, "2024-09")
    assert severity == AssetCheckSeverity.ERROR.value
    assert (
        "months 2024-09: missing columns: ['Offense Code']; renamed? "
        "'Offense Code' -> 'Offense_Code'"
    ) in description

    # The portal fixes its export: the next load passes with no cleanup.
    original.write_csv(export)
    severity, description = land_and_check(config, paths, "2024-09")
    assert severity == AssetCheckSeverity.WARN.value, description  # August's column is reported
    assert "2024-09" not in description

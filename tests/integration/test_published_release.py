"""The sample run's release as consumers get it: every file valid and readable in pyarrow, DuckDB
and GeoPandas with its CRS; a manifest that follows its JSON Schema; the committed schema
contract; and privacy rules that hold on the real output (and had real work to do)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import duckdb
import geopandas as gpd
import pyarrow.parquet as pq
import pytest
from pyproj import CRS

from crimemap.core.duckdb_spatial import connect
from crimemap.core.project import PROJECT_ROOT
from crimemap.orchestration.defs.publish.assets import privacy_audit
from crimemap.warehouse.layers import PUBLISHED_SCHEMA_PATH, incidents_layer, published_layers
from crimemap.warehouse.privacy import PrivacyRules
from crimemap.warehouse.publish import (
    layer_scan_sql,
    publish_release,
    release_ids,
    validate_release_files,
)
from crimemap.warehouse.schema_contract import (
    check_version,
    classify_changes,
    contract_json,
    load_contract,
    schema_of_manifest,
    validate_manifest,
)
from tests.integration.conftest import PipelineRun

pytestmark = pytest.mark.integration

CRS_84 = CRS.from_user_input("OGC:CRS84")
SAMPLE_CRS = "EPSG:32610"
SAMPLE_TZ = "America/Los_Angeles"


@pytest.fixture(scope="module")
def manifest(pipeline_run: PipelineRun) -> dict:
    return json.loads((pipeline_run.release_dir / "manifest.json").read_text())


@pytest.fixture(scope="module")
def layers(manifest: dict) -> dict[str, dict]:
    return {layer["name"]: layer for layer in manifest["layers"]}


def test_every_published_mart_is_a_layer(layers: dict[str, dict]) -> None:
    assert set(layers) == {
        "areas",
        "grid_cells",
        "facilities",
        "incidents",
        "area_month_rates",
        "quality_scorecard",
        "offense_spikes",
        "hotspots",
        "emerging_hotspots",
        "service_access",
        "priority_areas",
        "service_requests_area_month",
        "survey_area_responses",
        "area_indicators",
        "crime_social_correlation",
        "hotspot_forecast",
        "hotspot_forecast_scores",
        "initiative_impact",
    }
    assert layers["incidents"]["partitioning"] == {"flavor": "hive", "columns": ["year", "month"]}
    # 24 sample months, one file each.
    assert len(layers["incidents"]["files"]) == 24


def test_every_file_passes_the_validator(pipeline_run: PipelineRun, manifest: dict) -> None:
    assert validate_release_files(pipeline_run.release_dir, manifest["layers"]) == []


def test_every_layer_reads_back_in_pyarrow_duckdb_and_geopandas(
    pipeline_run: PipelineRun, layers: dict[str, dict]
) -> None:
    release = pipeline_run.release_dir
    with connect() as con:
        for name, layer in layers.items():
            path = release / layer["path"]
            assert pq.read_table(path).num_rows == layer["rows"], name
            duck_rows = con.execute(
                f"SELECT count(*) FROM {layer_scan_sql(release, layer)}"
            ).fetchone()[0]
            assert duck_rows == layer["rows"], name
            if not layer["spatial"]:
                continue
            frame = gpd.read_parquet(path)
            assert len(frame) == layer["rows"], name
            assert frame.crs is not None and frame.crs.equals(CRS_84), name
            assert frame.geometry.name == layer["geometry_column"], name
            located = frame.geometry.dropna()
            if len(located):
                xmin, ymin, xmax, ymax = located.total_bounds
                bbox = layer["bbox"]
                assert bbox[0] <= xmin and bbox[1] <= ymin, name
                assert xmax <= bbox[2] and ymax <= bbox[3], name
            geometry_type = con.execute(
                f"SELECT typeof({layer['geometry_column']}) FROM {layer_scan_sql(release, layer)} "
                "LIMIT 1"
            ).fetchone()[0]
            assert geometry_type.startswith("GEOMETRY"), name


def test_manifest_follows_its_json_schema(manifest: dict, warehouse) -> None:
    assert validate_manifest(manifest) == []
    assert manifest["manifest_version"] == 2
    assert manifest["code_version"].startswith("crimemap ")
    assert manifest["privacy"]["point_generalization"] == "grid"
    freshness = {entry["source"]: entry for entry in manifest["source_freshness"]}
    latest = warehouse.execute(
        f"SELECT max(timezone('{SAMPLE_TZ}', occurred_at))::DATE::VARCHAR FROM fct_incidents"
    ).fetchone()[0]
    assert freshness["seattle_spd"]["latest"] == latest
    assert {"service_requests", "boundaries", "census_acs", "facilities"} <= set(freshness)


def test_release_schema_is_the_committed_contract(manifest: dict) -> None:
    """The last published schema is committed with the code: any change to a layer fails here
    until the contract is rewritten (``crimemap schema --write``) with the version semver asks
    for — a major one when consumers' readers would break."""
    version, contract = load_contract(PUBLISHED_SCHEMA_PATH)
    release = schema_of_manifest(manifest)
    changes = classify_changes(contract, release)
    assert changes == [], "\n".join(str(c) for c in changes)
    assert manifest["schema_version"] == version
    assert check_version(version, contract, manifest["schema_version"], release) == []


def test_privacy_audit_passes_on_the_release(pipeline_run: PipelineRun) -> None:
    rules = PrivacyRules()
    layers = published_layers(rules, SAMPLE_CRS, SAMPLE_TZ, "salt")
    assert privacy_audit(pipeline_run.release_dir, rules, SAMPLE_CRS, layers) == []


def test_complementary_suppression_hides_cells_primary_suppression_leaves(
    pipeline_run: PipelineRun, warehouse: duckdb.DuckDBPyConnection
) -> None:
    """Cells with k or more offenses are withheld too, and then no (area, month) row and no
    (month, category) column of the table has exactly one withheld cell."""
    path = pipeline_run.release_dir / "area_month_rates.parquet"
    complementary, lone_rows, lone_columns = warehouse.execute(
        f"""
        WITH published AS (SELECT * FROM read_parquet('{path}'))
        SELECT
            (SELECT count(*) FROM published AS p JOIN area_month_rates AS r
                USING (area_id, month, category)
             WHERE p.count_suppressed AND r.incident_count >= 5),
            (SELECT count(*) FROM (SELECT area_id, month FROM published GROUP BY ALL
                                   HAVING count(*) FILTER (WHERE count_suppressed) = 1)),
            (SELECT count(*) FROM (SELECT month, category FROM published GROUP BY ALL
                                   HAVING count(*) FILTER (WHERE count_suppressed) = 1))
        """
    ).fetchone()
    assert complementary > 0
    assert (lone_rows, lone_columns) == (0, 0)


def test_hundred_block_generalization_on_the_sample_city(
    pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    """With ``point_generalization: hundred_block`` offenses on blocks at least k share move to
    the block's centroid, the rest to their grid cell, and the audit passes."""
    rules = PrivacyRules(point_generalization="hundred_block")
    layer = incidents_layer(rules, SAMPLE_CRS, SAMPLE_TZ, "salt", {})
    with connect(pipeline_run.data_dir / "warehouse.duckdb", read_only=True) as con:
        release = publish_release(
            con,
            [layer],
            tmp_path / "published",
            audit=lambda d: privacy_audit(d, rules, SAMPLE_CRS, [layer]),
        )
        source = layer_scan_sql(release.path, release.manifest["layers"][0])
        by_precision = dict(
            con.execute(
                f"SELECT location_precision, count(*) FROM {source} GROUP BY ALL"
            ).fetchall()
        )
        smallest_block = con.execute(
            f"SELECT min(n) FROM (SELECT count(*) AS n FROM {source} "
            "WHERE location_precision = 'hundred_block' GROUP BY ST_AsWKB(geometry))"
        ).fetchone()[0]
    assert by_precision["hundred_block"] > 0.3 * sum(by_precision.values())
    assert by_precision["grid_250m"] > 0
    assert smallest_block >= rules.min_cell_count
    assert release_ids(tmp_path / "published") == [release.release_id]


def test_schema_command_reports_the_version_a_change_needs(
    pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    """A contract that lacks a column the code now publishes: an additive change, so the
    command asks for the next minor version, and --write records it."""
    version, contract = load_contract(PUBLISHED_SCHEMA_PATH)
    areas = contract["areas"]
    older = {**contract, "areas": replace(areas, columns=areas.columns[:-1])}
    path = tmp_path / "published_schema.json"
    path.write_text(contract_json(version, older))

    def schema(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "CRIMEMAP_DATA_DIR": str(pipeline_run.data_dir)}
        env.pop("DAGSTER_HOME", None)
        command = [
            sys.executable,
            "-m",
            "crimemap.orchestration.cli",
            "schema",
            "--contract",
            str(path),
        ]
        return subprocess.run(
            [*command, *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
        )

    differs = schema()
    assert differs.returncode == 1, differs.stderr
    assert f"areas.{areas.columns[-1][0]}: column added" in differs.stdout
    major, minor, _ = (int(part) for part in version.split("."))
    assert f"schema_version {version} -> {major}.{minor + 1}.0" in differs.stdout
    written = schema("--write")
    assert written.returncode == 0, written.stderr
    assert load_contract(path) == (f"{major}.{minor + 1}.0", contract)
    assert schema().returncode == 0

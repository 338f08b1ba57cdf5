"""Every analytics mart reaches the release: one layer per mart, every mart row published, the
spatial ones as GeoParquet 1.1 with their area or cell geometry, small counts suppressed."""

from __future__ import annotations

import json

import duckdb
import pyarrow.parquet as pq
import pytest

from crimemap.warehouse.layers import published_layers
from crimemap.warehouse.privacy import PrivacyRules
from tests.integration.conftest import PipelineRun

pytestmark = pytest.mark.integration

SPATIAL = {
    "offense_spikes": ("dim_area", "area_id"),
    "service_access": ("dim_area", "area_id"),
    "priority_areas": ("dim_area", "area_id"),
    "hotspots": ("dim_grid_cell", "cell_id"),
    "emerging_hotspots": ("dim_grid_cell", "cell_id"),
    "hotspot_forecast": ("dim_grid_cell", "cell_id"),
}
TABLES = ("crime_social_correlation", "initiative_impact", "hotspot_forecast_scores")


@pytest.fixture(scope="module")
def manifest(pipeline_run: PipelineRun) -> dict:
    return json.loads((pipeline_run.release_dir / "manifest.json").read_text())


def test_every_analytics_mart_is_a_layer(
    pipeline_run: PipelineRun, warehouse: duckdb.DuckDBPyConnection, manifest: dict
) -> None:
    layers = {layer["name"]: layer for layer in manifest["layers"]}
    for mart in (*SPATIAL, *TABLES):
        rows = warehouse.execute(f"SELECT count(*) FROM {mart}").fetchone()[0]
        assert rows > 0, mart
        assert layers[mart]["rows"] == rows, mart
        assert layers[mart]["spatial"] == (mart in SPATIAL), mart


def test_spatial_layers_carry_their_geometry(
    pipeline_run: PipelineRun, warehouse: duckdb.DuckDBPyConnection
) -> None:
    release = pipeline_run.release_dir
    for mart, (dimension, key) in SPATIAL.items():
        path = release / f"{mart}.parquet"
        geo = json.loads(pq.read_metadata(path).metadata[b"geo"])
        assert geo["version"] == "1.1.0", mart
        types = set(geo["columns"]["geometry"]["geometry_types"])
        assert types and types <= {"Polygon", "MultiPolygon"}, mart
        # Every row has a polygon, and it is its own area's or cell's, not a neighbour's.
        rows, matching = warehouse.execute(
            f"SELECT count(*), count(*) FILTER (WHERE ST_Equals(p.geometry, d.geom)) "
            f"FROM read_parquet('{path}') AS p LEFT JOIN {dimension} AS d USING ({key})"
        ).fetchone()
        assert rows > 0 and matching == rows, mart


def test_small_counts_are_suppressed_in_every_layer(
    pipeline_run: PipelineRun, warehouse: duckdb.DuckDBPyConnection
) -> None:
    """The count columns the audit guards hold no 0 < n < k, yet the warehouse has such cells:
    the rule did something."""
    rules = PrivacyRules()
    k = rules.min_cell_count
    layers = published_layers(rules, "EPSG:32610", "America/Los_Angeles", "salt")
    guarded = {
        layer.name: layer.privacy.count_columns
        for layer in layers
        if layer.privacy and layer.privacy.count_columns
    }
    assert {"offense_spikes", "hotspots", "priority_areas", "area_month_rates"} <= set(guarded)
    for name, columns in guarded.items():
        path = pipeline_run.release_dir / f"{name}.parquet"
        for column in columns:
            published_small = warehouse.execute(
                f"SELECT count(*) FROM read_parquet('{path}') WHERE {column} > 0 AND {column} < {k}"
            ).fetchone()[0]
            assert published_small == 0, (name, column)
    built_small = warehouse.execute(
        f"SELECT count(*) FROM offense_spikes WHERE observed > 0 AND observed < {k}"
    ).fetchone()[0]
    assert built_small > 0


def test_grid_layers_leave_sensitive_offences_out(
    pipeline_run: PipelineRun, warehouse: duckdb.DuckDBPyConnection
) -> None:
    """Grid cells are finer than areas: their counts are of non-sensitive offences only."""
    grid_total = warehouse.execute(
        "SELECT sum(incident_count) FROM int_grid_cell_months"
    ).fetchone()[0]
    sensitive_located = warehouse.execute(
        "SELECT count(*) FROM fct_incidents WHERE is_sensitive AND geom IS NOT NULL "
        "AND area_id IS NOT NULL"
    ).fetchone()[0]
    non_sensitive = warehouse.execute(
        "SELECT count(*) FROM fct_incidents WHERE NOT is_sensitive AND geom IS NOT NULL "
        "AND area_id IS NOT NULL AND category <> 'non_criminal' "
        "AND occurred_month >= DATE '2024-07-01'"
    ).fetchone()[0]
    assert sensitive_located > 0
    assert grid_total == non_sensitive

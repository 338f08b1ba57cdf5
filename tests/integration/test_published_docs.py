"""Every column of every published layer carries its description, in the release manifest and
as a column comment in the serving database, in the words of the dbt docs."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from crimemap.warehouse.column_docs import mart_column_descriptions
from tests.integration.conftest import PipelineRun

pytestmark = pytest.mark.integration

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"


@pytest.fixture(scope="module")
def manifest(pipeline_run: PipelineRun) -> dict:
    return json.loads((pipeline_run.release_dir / "manifest.json").read_text())


def _columns(manifest: dict, layer: str) -> dict[str, str]:
    (entry,) = [entry for entry in manifest["layers"] if entry["name"] == layer]
    return {column["name"]: column.get("description", "") for column in entry["columns"]}


def test_every_published_column_is_described(manifest: dict) -> None:
    undescribed = [
        f"{layer['name']}.{column['name']}"
        for layer in manifest["layers"]
        for column in layer["columns"]
        if not (column.get("description") or "").strip()
    ]
    assert len(manifest["layers"]) >= 12
    assert undescribed == []


def test_descriptions_are_the_dbt_docs(manifest: dict) -> None:
    docs = mart_column_descriptions(DBT_PROJECT_DIR)
    rates = _columns(manifest, "area_month_rates")
    assert rates["population"] == docs["area_month_rates"]["population"]
    assert rates["rate_per_1000"].startswith(docs["area_month_rates"]["rate_per_1000"])
    assert rates["area_name"] == docs["dim_area"]["area_name"]
    assert _columns(manifest, "hotspots")["gi_star_z"] == docs["hotspots"]["gi_star_z"]
    assert (
        _columns(manifest, "initiative_impact")["estimate"] == docs["initiative_impact"]["estimate"]
    )
    incidents = _columns(manifest, "incidents")
    assert incidents["category"] == docs["fct_incidents"]["category"]
    assert "salted hash" in incidents["offense_id"]


def test_serving_database_comments_every_column(pipeline_run: PipelineRun) -> None:
    with duckdb.connect(str(pipeline_run.data_dir / "serving.duckdb"), read_only=True) as con:
        views = con.execute(
            "SELECT count(DISTINCT table_name) FROM duckdb_columns() WHERE NOT internal"
            " AND table_name <> 'releases'"
        ).fetchone()[0]
        uncommented = con.execute(
            "SELECT table_name || '.' || column_name FROM duckdb_columns()"
            " WHERE NOT internal AND table_name <> 'releases'"
            " AND coalesce(trim(comment), '') = '' ORDER BY 1"
        ).fetchall()
    assert views >= 12
    assert uncommented == []

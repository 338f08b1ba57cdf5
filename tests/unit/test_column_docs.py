"""Column descriptions of the published layers come from the dbt model YAMLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from crimemap.warehouse.column_docs import mart_column_descriptions
from crimemap.warehouse.geoparquet import COVERING_COLUMN
from crimemap.warehouse.layers import layer_column_docs, published_layers
from crimemap.warehouse.privacy import PrivacyRules

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

MODELS_YML = """\
version: 2

models:
  - name: first_mart
    description: A model.
    columns:
      - name: key
        description: "The key."
      - name: rate
        description: >
          A long description folded
          over two lines.
      - name: undocumented
        data_type: integer
      - name: blank
        description: "   "
  - name: second_mart
    columns:
      - name: note
        description: |
          Literal text
          on two lines.

unit_tests:
  - name: first_mart_test
    model: first_mart
    given: []
    expect:
      rows: []
"""


@pytest.fixture(scope="module")
def project_docs() -> dict[str, dict[str, str]]:
    return mart_column_descriptions(DBT_PROJECT_DIR)


def test_reader_collects_every_model_of_every_mart_yml(tmp_path: Path) -> None:
    crime = tmp_path / "models" / "marts" / "crime"
    crime.mkdir(parents=True)
    (crime / "_crime__models.yml").write_text(MODELS_YML)
    other = tmp_path / "models" / "marts" / "other"
    other.mkdir()
    (other / "_other__models.yml").write_text(
        "version: 2\nmodels:\n  - name: third_mart\n    columns:\n"
        "      - name: x\n        description: X.\n"
    )
    # Staging models are not marts: never read.
    staging = tmp_path / "models" / "staging"
    staging.mkdir()
    (staging / "_staging__models.yml").write_text(
        "models:\n  - name: stg\n    columns:\n      - name: y\n        description: Y.\n"
    )

    assert mart_column_descriptions(tmp_path) == {
        "first_mart": {
            "key": "The key.",
            "rate": "A long description folded over two lines.",
        },
        "second_mart": {"note": "Literal text on two lines."},
        "third_mart": {"x": "X."},
    }


def test_reader_of_a_project_without_marts_is_empty(tmp_path: Path) -> None:
    assert mart_column_descriptions(tmp_path) == {}


def test_layer_docs_note_documented_columns_only_and_own_columns_win() -> None:
    docs = {
        "m": {"count": "Offenses.", "rate": "Per 1,000.", "geom": "Internal geometry."},
        "dim_area": {"area_name": "Area name.", "population": "Not the mart's."},
    }
    described = layer_column_docs(
        docs,
        "m",
        area_name=True,
        notes={"count": "Suppressed.", "missing": "Nothing to append to."},
        own={"rate": "Replaced.", "geometry": "Polygon."},
    )
    assert described == {
        "count": "Offenses. Suppressed.",
        "rate": "Replaced.",
        "geom": "Internal geometry.",
        "area_name": "Area name.",
        "geometry": "Polygon.",
    }


def test_layers_without_docs_describe_only_what_they_create() -> None:
    layers = published_layers(PrivacyRules(), "EPSG:32610", "America/Los_Angeles", "salt")
    incidents = next(layer for layer in layers if layer.name == "incidents")
    assert "category" not in incidents.column_descriptions
    assert incidents.column_descriptions["offense_id"]


def test_project_marts_describe_the_published_columns(
    project_docs: dict[str, dict[str, str]],
) -> None:
    assert project_docs["area_month_rates"]["rate_per_1000"].startswith(
        "incident_count per 1,000 residents"
    )
    assert all("\n" not in text for mart in project_docs.values() for text in mart.values())


def test_every_layer_describes_the_columns_it_creates(
    project_docs: dict[str, dict[str, str]],
) -> None:
    rules = PrivacyRules()
    layers = {
        layer.name: layer
        for layer in published_layers(
            rules, "EPSG:32610", "America/Los_Angeles", "salt", column_docs=project_docs
        )
    }
    for layer in layers.values():
        assert all(text.strip() for text in layer.column_descriptions.values()), layer.name
        if layer.spatial:
            assert layer.column_descriptions.get(layer.geometry_column), layer.name
            assert layer.column_descriptions.get(COVERING_COLUMN), layer.name
        else:
            assert COVERING_COLUMN not in layer.column_descriptions, layer.name

    incidents = layers["incidents"].column_descriptions
    for column in ("offense_id", "occurred_date", "year", "month", "location_precision"):
        assert incidents[column], column
    assert f"{rules.point_cell_m:g} m" in incidents["location_precision"]
    assert incidents["category"] == project_docs["fct_incidents"]["category"]
    assert incidents["nibrs_code"].endswith("NULL for sensitive offences.")

    rates = layers["area_month_rates"].column_descriptions
    assert rates["count_suppressed"]
    assert rates["area_name"] == project_docs["dim_area"]["area_name"]
    assert rates["incident_count"].startswith(project_docs["area_month_rates"]["incident_count"])
    assert f"between 1 and {rules.min_cell_count - 1}" in rates["incident_count"]

    priority = layers["priority_areas"].column_descriptions
    assert "person_crime_count is suppressed" in priority["person_crime_z"]
    assert "suppressed" not in priority["deprivation_z"]

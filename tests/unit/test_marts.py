"""The marts as their model YAML declares them (crimemap.core.marts)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crimemap.core.marts import (
    MARTS_DIR,
    Publication,
    contracted_marts,
    declared_marts,
    mart_columns,
    published_marts,
    read_marts,
)

CRIME_YML = """
version: 2
models:
  - name: rates
    description: Not read here.
    columns:
      - name: area_id
        data_type: varchar
        description: >
          The area,
          folded.
      - name: rate
        data_type: double
      - description: a column without a name is no column
  - not a model
"""


def test_columns_keep_their_order_type_and_one_line_description() -> None:
    marts = read_marts([("crime", yaml.safe_load(CRIME_YML)), ("quality", {"models": None})])
    rates = marts["rates"]
    assert rates.column_names == ("area_id", "rate")
    assert [(c.data_type, c.description) for c in rates.columns] == [
        ("varchar", "The area, folded."),
        ("double", ""),
    ]
    assert rates.folder == "crime" and not rates.diagnostic


def test_a_mart_is_diagnostic_by_its_folder(tmp_path: Path) -> None:
    for folder in ("crime", "quality"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / f"_{folder}__models.yml").write_text(
            f"models:\n  - name: {folder}_mart\n    columns:\n      - name: x\n"
        )
    marts = declared_marts(tmp_path)
    assert {name: m.diagnostic for name, m in marts.items()} == {
        "crime_mart": False,
        "quality_mart": True,
    }


def test_the_projects_marts_are_declared_with_their_columns() -> None:
    """Read from the dbt project itself: every mart's SQL has a declaration, and the scorecard
    (a diagnostic) has no contract suite."""
    models = {p.stem for p in MARTS_DIR.glob("*/*.sql")}
    assert set(declared_marts()) == models
    assert "quality_scorecard" in models and "quality_scorecard" not in contracted_marts()
    assert mart_columns("priority_areas")[:2] == ("area_id", "area_name")
    with pytest.raises(KeyError, match="no mart 'nope' is declared"):
        mart_columns("nope")


PUBLISHED_YML = """
models:
  - name: {name}
    config:
      meta:
        publish: {publish}
    columns:
      - name: x
"""


def publication_of(name: str, publish: str) -> Publication | None:
    document = yaml.safe_load(PUBLISHED_YML.format(name=name, publish=publish))
    return read_marts([("crime", document)])[name].publication


def test_meta_publish_names_the_layer_and_how_it_is_published() -> None:
    assert publication_of("dim_area", "{layer: areas}") == Publication(layer="areas")
    table = publication_of(
        "stats", "{layer: stats, as_built: true, time_column: month, description: 'Per   month.'}"
    )
    assert table == Publication(
        "stats", as_built=True, description="Per month.", time_column="month"
    )
    with pytest.raises(ValueError, match="stats: a mart published as built needs a description"):
        publication_of("stats", "{layer: stats, as_built: true}")
    with pytest.raises(ValueError, match=r"stats: meta\.publish needs a layer name"):
        publication_of("stats", "{as_built: true}")


def test_every_published_mart_is_one_layer_of_the_name_its_yaml_gives() -> None:
    from crimemap.warehouse.layers import published_layers
    from crimemap.warehouse.privacy import PrivacyRules

    layers = published_layers(PrivacyRules(), "EPSG:32610", "America/Los_Angeles", "salt")
    declared = {m.publication.layer for m in published_marts() if m.publication}
    assert [layer.name for layer in layers] == [
        m.publication.layer for m in published_marts() if m.publication
    ]
    assert len(declared) == len(layers) == 18
    assert {"incidents", "areas", "grid_cells", "facilities", "initiative_impact"} <= declared


def suite_of(suite: str) -> dict[str, tuple[str, ...]]:
    document = yaml.safe_load(
        "models:\n  - name: m\n    config: {meta: {suite: " + suite + "}}\n"
        "    columns: [{name: area_id}, {name: month}, {name: rate}, {name: share}]\n"
    )
    return dict(read_marts([("crime", document)])["m"].suite)


def test_meta_suite_declares_expectations_on_declared_columns() -> None:
    assert suite_of("{key: [area_id, month], non_negative: [rate], shares: [share]}") == {
        "key": ("area_id", "month"),
        "non_negative": ("rate",),
        "shares": ("share",),
    }
    with pytest.raises(ValueError, match=r"m: meta\.suite takes key, not_null"):
        suite_of("{unique: [area_id]}")
    with pytest.raises(ValueError, match=r"m: meta\.suite names undeclared columns \['ratio'\]"):
        suite_of("{non_negative: [ratio]}")


def test_a_mart_without_a_suite_is_refused_by_name() -> None:
    from crimemap.quality.mart_registry import declared_suite_entry

    with pytest.raises(ValueError, match="mart dim_area has no suite: write one in"):
        declared_suite_entry("dim_area")

"""The fingerprint that chooses between an incremental and a full build of the incident tables."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import date
from pathlib import Path

import pytest

from crimemap.config.jurisdiction import DEFAULT_CONFIG, load_jurisdiction
from crimemap.config.paths import DataPaths
from crimemap.core.duckdb_spatial import connect
from crimemap.core.project import DBT_PROJECT_DIR
from crimemap.core.sql import sql_literal
from crimemap.orchestration.cli import narrows_the_build
from crimemap.warehouse.incremental import (
    PACKAGE_DIR,
    conform_files,
    file_content_digest,
    incident_inputs_digest,
    needs_full_refresh,
)

VARS = {"timezone": "America/Los_Angeles", "snap_tolerance_m": 50}


def write_areas(path: Path, rows: list[tuple[str, str, str]]) -> None:
    """An areas file: (area_id, WKT, load id) per row, with the landing's lineage columns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    values = ", ".join(
        f"({sql_literal(a)}, {sql_literal(w)}, {sql_literal(load)})" for a, w, load in rows
    )
    with connect() as con:
        con.execute(
            f"COPY (SELECT area_id, ST_AsWKB(ST_GeomFromText(wkt)) AS geom, 'areas.geojson' AS "
            f"_source_file, row_number() OVER () AS _row_number, now() AS _ingested_at, "
            f"load AS _load_id FROM (VALUES {values}) AS t(area_id, wkt, load)) "
            f"TO {sql_literal(str(path))} (FORMAT parquet)"
        )


SQUARE = "POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))"
OTHER = "POLYGON ((1 0, 2 0, 2 1, 1 1, 1 0))"


@pytest.fixture
def paths(tmp_path: Path) -> DataPaths:
    paths = DataPaths(tmp_path / "data")
    write_areas(
        paths.conformed / "areas" / "areas.parquet", [("A", SQUARE, "l1"), ("B", OTHER, "l1")]
    )
    return paths


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the dbt project, to edit."""
    copy = tmp_path / "dbt_project"
    for part in ("dbt_project.yml", "models", "macros", "seeds"):
        source = DBT_PROJECT_DIR / part
        if source.is_dir():
            shutil.copytree(source, copy / part)
        else:
            copy.mkdir(exist_ok=True)
            shutil.copy(source, copy / part)
    return copy


def test_the_same_rows_landed_again_in_another_order_keep_the_digest(paths: DataPaths) -> None:
    areas = paths.conformed / "areas" / "areas.parquet"
    before = file_content_digest(areas)
    write_areas(areas, [("B", OTHER, "l2"), ("A", SQUARE, "l2")])
    assert file_content_digest(areas) == before


def test_a_moved_boundary_changes_the_digest(paths: DataPaths, project: Path) -> None:
    before = incident_inputs_digest(paths, VARS, project)
    write_areas(
        paths.conformed / "areas" / "areas.parquet", [("A", SQUARE, "l1"), ("B", SQUARE, "l1")]
    )
    assert incident_inputs_digest(paths, VARS, project) != before


def test_a_missing_custom_crosswalk_differs_from_an_empty_one(paths: DataPaths) -> None:
    custom = paths.conformed / "crosswalks" / "custom.parquet"
    assert file_content_digest(custom) == "absent"
    custom.parent.mkdir(parents=True)
    with connect() as con:
        con.execute(f"COPY (SELECT 'x' AS offense_code LIMIT 0) TO {sql_literal(str(custom))}")
    assert file_content_digest(custom) not in ("absent", "")


def test_vars_and_models_are_part_of_the_digest(paths: DataPaths, project: Path) -> None:
    before = incident_inputs_digest(paths, VARS, project)
    assert incident_inputs_digest(paths, VARS, project) == before
    assert incident_inputs_digest(paths, {**VARS, "snap_tolerance_m": 25}, project) != before
    model = project / "models" / "marts" / "crime" / "fct_incidents.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    assert incident_inputs_digest(paths, VARS, project) != before


def test_police_partitions_are_not_part_of_the_digest(paths: DataPaths, project: Path) -> None:
    before = incident_inputs_digest(paths, VARS, project)
    month = paths.conformed_police("city_pd") / "month=2025-01" / "part.parquet"
    month.parent.mkdir(parents=True)
    month.write_bytes(b"PAR1")
    assert incident_inputs_digest(paths, VARS, project) == before


def test_a_full_refresh_is_needed_without_a_record_or_with_another_digest(tmp_path: Path) -> None:
    record = tmp_path / "incident_inputs.sha256"
    assert needs_full_refresh(record, "abc")
    record.write_text("abc\n")
    assert not needs_full_refresh(record, "abc")
    assert needs_full_refresh(record, "abd")


def test_police_settings_are_part_of_the_digest_but_not_the_months(
    paths: DataPaths, project: Path
) -> None:
    config = load_jurisdiction(DEFAULT_CONFIG)
    source = config.police[0]
    before = incident_inputs_digest(paths, VARS, project, config)
    next_month = dataclasses.replace(source, end_month=date(2031, 1, 1))
    assert (
        incident_inputs_digest(
            paths, VARS, project, dataclasses.replace(config, police=(next_month,))
        )
        == before
    )
    wider = dataclasses.replace(config, boundary_tolerance_m=config.boundary_tolerance_m + 10)
    assert incident_inputs_digest(paths, VARS, project, wider) != before
    renamed = dataclasses.replace(source, name=source.name + "_v2")
    assert (
        incident_inputs_digest(paths, VARS, project, dataclasses.replace(config, police=(renamed,)))
        != before
    )


def test_only_a_build_of_every_model_records_its_inputs() -> None:
    assert not narrows_the_build(["run", "--full-refresh", "--target-path", "t"])
    assert narrows_the_build(["build", "-s", "fct_incidents"])
    assert narrows_the_build(["run", "--select=stg_police__offenses"])
    assert narrows_the_build(["build", "--vars", "{}"])


def test_the_code_that_conforms_police_rows_is_part_of_the_digest() -> None:
    """The split's rules, its settings (set by the police assets) and the landing decide the
    conformed rows of a load id: a change to any of them rebuilds the incident tables."""
    files = {p.relative_to(PACKAGE_DIR).as_posix() for p in conform_files()}
    assert {
        "quality/police.py",
        "quality/rules.py",
        "ingestion/police/conform.py",
        "ingestion/landing.py",
        "orchestration/defs/police/assets.py",
    } <= files

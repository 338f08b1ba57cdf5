"""The recorded column lineage of the dbt models: kept current, and dropped for changed SQL."""

from __future__ import annotations

from pathlib import Path

from crimemap.warehouse.column_lineage import (
    current_lineage,
    load_lineage,
    sql_digest,
    stale_models,
)


def project_with(tmp_path: Path, models: dict[str, str]) -> Path:
    for name, sql in models.items():
        path = tmp_path / "models" / "marts" / f"{name}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
    return tmp_path


def test_the_committed_lineage_matches_every_model() -> None:
    stale = stale_models(load_lineage())
    assert stale == [], f"run `crimemap run`, then `crimemap lineage --write`: {stale}"


def test_a_changed_new_or_removed_model_is_stale(tmp_path: Path) -> None:
    project = project_with(tmp_path, {"a": "select 1 as x", "b": "select 2 as y"})
    files = project / "models" / "marts"
    lineage = {
        "a": {"sql_sha256": sql_digest(files / "a.sql"), "columns": {"x": []}},
        "gone": {"sql_sha256": "0", "columns": {}},
    }
    assert stale_models(lineage, project) == ["b", "gone"]
    (files / "a.sql").write_text("select 3 as x")
    assert stale_models(lineage, project) == ["a", "b", "gone"]


def test_lineage_of_a_changed_model_is_not_attached(tmp_path: Path) -> None:
    project = project_with(tmp_path, {"a": "select x from b"})
    path = project / "models" / "marts" / "a.sql"
    columns = {"x": [["marts", "b", "x"]]}
    lineage = {"a": {"sql_sha256": sql_digest(path), "columns": columns}}
    assert current_lineage("a", lineage, project) == columns
    path.write_text("select x + 1 as x from b")
    assert current_lineage("a", lineage, project) is None
    assert current_lineage("unknown", lineage, project) is None

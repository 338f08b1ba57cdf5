"""What makes a dbt build's inputs the same as the last build's, and its kept results."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, AssetObservation, Output

from crimemap.config.paths import DataPaths
from crimemap.core.sql import sql_literal
from crimemap.orchestration.defs.transform import last_build
from crimemap.warehouse.build_inputs import data_digest, warehouse_state


def write(path: Path, select: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute(f"COPY ({select}) TO {sql_literal(str(path))} (FORMAT parquet)")


def areas(ingested_at: str, name: str = "North") -> str:
    return (
        f"SELECT * FROM (VALUES ('A1', '{name}'), ('A2', 'South')) AS t(area_id, area_name) "
        f"CROSS JOIN (SELECT TIMESTAMPTZ '{ingested_at}' AS _ingested_at, 'areas/x' AS _load_id)"
    )


def police(load_id: str, ingested_at: str) -> str:
    return (
        "SELECT 'R1' AS report_number, '13A' AS offense_code, "
        f"'{load_id}' AS _load_id, TIMESTAMPTZ '{ingested_at}' AS _ingested_at"
    )


@pytest.fixture
def paths(tmp_path: Path) -> DataPaths:
    paths = DataPaths(tmp_path)
    write(paths.conformed / "areas" / "areas.parquet", areas("2026-01-01 00:00:00+00"))
    police_file = paths.conformed / "police" / "pd" / "month=2026-01" / "part.parquet"
    write(police_file, police("pd/2026-01/aaa", "2026-01-01 00:00:00+00"))
    write(paths.profiles / "areas" / "areas.parquet", "SELECT 'areas' AS source, 2 AS raw_rows")
    return paths


def test_files_landed_again_with_the_same_rows_are_the_same_inputs(paths: DataPaths) -> None:
    before = data_digest(paths)
    later = "2026-02-01 00:00:00+00"
    write(paths.conformed / "areas" / "areas.parquet", areas(later))
    police_file = paths.conformed / "police" / "pd" / "month=2026-01" / "part.parquet"
    write(police_file, police("pd/2026-01/aaa", later))
    assert data_digest(paths) == before


@pytest.mark.parametrize("change", ["area renamed", "police load", "new profile", "new file"])
def test_any_change_to_what_dbt_reads_is_new_input(paths: DataPaths, change: str) -> None:
    before = data_digest(paths)
    if change == "area renamed":
        write(paths.conformed / "areas" / "areas.parquet", areas("2026-01-01 00:00:00+00", "N"))
    elif change == "police load":
        police_file = paths.conformed / "police" / "pd" / "month=2026-01" / "part.parquet"
        write(police_file, police("pd/2026-01/bbb", "2026-01-01 00:00:00+00"))
    elif change == "new profile":
        write(paths.profiles / "police" / "pd.parquet", "SELECT 'pd' AS source, 1 AS raw_rows")
    else:
        write(paths.conformed / "facilities" / "facilities.parquet", "SELECT 'F1' AS facility_id")
    assert data_digest(paths) != before


def test_the_warehouse_state_changes_with_a_write_and_not_with_a_read(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE dim_area AS SELECT 1 AS area_id")
    built = warehouse_state(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("SELECT count(*) FROM dim_area").fetchall()
    assert warehouse_state(warehouse) == built
    with duckdb.connect(str(warehouse)) as con:
        con.execute("INSERT INTO dim_area VALUES (2)")
    assert warehouse_state(warehouse) != built


def events() -> list[Output | AssetCheckResult]:
    return [
        Output(None, output_name="marts__dim_area", metadata={"dagster/row_count": 120}),
        AssetCheckResult(
            asset_key=AssetKey(["marts", "dim_area"]),
            check_name="unique_dim_area_area_id",
            passed=False,
            severity=AssetCheckSeverity.WARN,
            metadata={"dagster_dbt/failed_row_count": 3},
        ),
    ]


def test_a_kept_build_gives_back_its_events_marked_as_standing_for_it(tmp_path: Path) -> None:
    kept = tmp_path / "last_build.dagster"
    build = last_build.LastBuild("inputs", [1, 2, -1, -1], "run-1", events())
    assert last_build.save(kept, build)
    assert last_build.standing(kept, "other inputs", [1, 2, -1, -1]) is None
    assert last_build.standing(kept, "inputs", [1, 3, -1, -1]) is None
    loaded = last_build.standing(kept, "inputs", [1, 2, -1, -1])
    assert loaded is not None
    output, check = loaded.events
    assert isinstance(output, Output) and isinstance(check, AssetCheckResult)
    assert output.output_name == "marts__dim_area"
    assert output.metadata["dagster/row_count"].value == 120
    assert (check.passed, check.severity, check.check_name) == (
        False,
        AssetCheckSeverity.WARN,
        "unique_dim_area_area_id",
    )
    assert check.metadata["dagster_dbt/failed_row_count"].value == 3
    for event in loaded.events:
        assert "run run-1" in str(event.metadata[last_build.REPLAYED].value)


def test_a_build_with_events_a_replay_cannot_give_back_is_not_kept(tmp_path: Path) -> None:
    kept = tmp_path / "last_build.dagster"
    observation = AssetObservation(asset_key=AssetKey(["seeds", "x"]))
    build = last_build.LastBuild("inputs", [1, 2, -1, -1], "run-1", [*events(), observation])
    assert not last_build.save(kept, build)  # type: ignore[arg-type]
    assert not kept.exists()
    assert last_build.load(kept) is None
    kept.write_text("not a kept build")
    assert last_build.load(kept) is None

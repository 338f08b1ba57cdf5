"""An incremental build of the incident tables gives the same warehouse as a full rebuild.

From the shared run's data, the police partitions change the way real loads change them: a
month arrives, a month is re-published with rows dropped, moved and re-coded, and an incident
gains an offense filed in another month with a lower record id (every offense of it is
sequenced again, in every month); a month leaves. The incremental ``dbt run`` after those
changes must leave every model identical, row for row, to a ``--full-refresh`` build of the same
files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crimemap.core.duckdb_spatial import connect, fetch_one
from crimemap.core.sql import quote_ident, sql_literal
from tests.integration.conftest import PROJECT_ROOT, PipelineRun

pytestmark = pytest.mark.integration


def crimemap_dbt(data_dir: Path, target: Path, *dbt_args: str) -> str:
    """``crimemap dbt -- ...`` as a user runs it; returns its output."""
    env = {**os.environ, "CRIMEMAP_DATA_DIR": str(data_dir)}
    env.pop("DAGSTER_HOME", None)
    cmd = [sys.executable, "-m", "crimemap.orchestration.cli", "dbt", "--data-dir", str(data_dir)]
    completed = subprocess.run(
        [*cmd, "--", *dbt_args, "--target-path", str(target)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-3000:]
    return completed.stdout


def partition(data_dir: Path, month: str) -> Path:
    (path,) = (data_dir / "conformed" / "police").glob(f"*/month={month}/part.parquet")
    return path


def rewrite(path: Path, select_sql: str, load_id: str) -> None:
    """Replace a partition with ``select_sql`` (over ``part``), under a new load id, as landing
    writes a changed month."""
    with connect() as con:
        con.execute(f"CREATE TABLE part AS SELECT * FROM read_parquet({sql_literal(str(path))})")
        con.execute(f"CREATE TABLE changed AS {select_sql}")
        con.execute(f"UPDATE changed SET _load_id = {sql_literal(load_id)}")
        con.execute(f"COPY changed TO {sql_literal(str(path))} (FORMAT parquet)")


def model_tables(warehouse: Path) -> list[str]:
    with connect(warehouse, read_only=True) as con:
        rows = con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY 1"
        ).fetchall()
    return [name for (name,) in rows]


# DuckDB sums floating-point values in parallel, in no fixed order, so two builds of a mart can
# differ in the last bits of a DOUBLE even from the same tables (survey_area_responses, which no
# police row reaches, shows it between any two builds): doubles agree to this relative tolerance,
# everything else exactly.
FLOAT_TOLERANCE = 1e-9


def differing_rows(left: Path, right: Path, table: str) -> int:
    """Rows of ``table`` that differ between two warehouses, compared in sorted order."""
    with connect() as con:
        con.execute(f"ATTACH {sql_literal(str(left))} AS l (READ_ONLY)")
        con.execute(f"ATTACH {sql_literal(str(right))} AS r (READ_ONLY)")
        name = quote_ident(table)
        columns = con.execute(f"DESCRIBE r.{name}").fetchall()
        exact = [quote_ident(c) for c, kind, *_ in columns if kind != "DOUBLE"]
        floats = [quote_ident(c) for c, kind, *_ in columns if kind == "DOUBLE"]
        order = ", ".join([*exact, *floats])

        def numbered(side: str) -> str:
            return f"SELECT row_number() OVER (ORDER BY {order}) AS n, * FROM {side}.{name}"

        mismatches = [
            *(f"a.{c} IS DISTINCT FROM b.{c}" for c in exact),
            *(
                f"(a.{c} IS NULL) <> (b.{c} IS NULL) OR abs(a.{c} - b.{c}) > "
                f"{FLOAT_TOLERANCE} * greatest(1, abs(a.{c}), abs(b.{c}))"
                for c in floats
            ),
        ]
        (count,) = fetch_one(
            con,
            f"SELECT count(*) FROM ({numbered('l')}) AS a FULL JOIN ({numbered('r')}) AS b "
            f"USING (n) WHERE a.n IS NULL OR b.n IS NULL OR "
            + " OR ".join(f"coalesce({m}, false)" for m in mismatches),
        )
    return int(count)


def test_an_incremental_build_equals_a_full_rebuild(
    pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(pipeline_run.data_dir, data_dir, ignore=shutil.ignore_patterns("published"))
    target = tmp_path / "target"
    months = sorted(p.parent.name[6:] for p in (data_dir / "conformed" / "police").glob("*/*/*"))
    arriving, changed, leaving = months[-1], months[-4], months[2]
    # The warehouse before: every month but the one that arrives.
    held = tmp_path / "held.parquet"
    shutil.move(partition(data_dir, arriving), held)
    crimemap_dbt(data_dir, target, "run", "--full-refresh")

    shutil.move(held, partition_dir(data_dir, arriving) / "part.parquet")
    # An offense of an incident from another month, with a lower record id than its own.
    donor = f"read_parquet({sql_literal(str(partition(data_dir, months[-6])))})"
    rewrite(
        partition(data_dir, changed),
        f"""
        SELECT * FROM part WHERE _row_number % 17 <> 0
        UNION ALL BY NAME
        SELECT * REPLACE (longitude + 0.004 AS longitude, 'X' || offense_code AS offense_code)
        FROM part WHERE _row_number % 17 = 0 AND _row_number % 2 = 0
        UNION ALL BY NAME
        SELECT * REPLACE ('0' AS record_id, _row_number + 1000000 AS _row_number)
        FROM (FROM {donor} WHERE report_number IS NOT NULL LIMIT 3)
        """,
        load_id=f"{changed}/changed",
    )
    shutil.rmtree(partition(data_dir, leaving).parent)

    # `run`, not `build`: the hand-made changes bypass landing, so the quality scorecard's
    # reconciliation with the load profiles would rightly fail.
    log = crimemap_dbt(data_dir, target, "run")
    assert "--full-refresh" not in log
    models = target / "run" / "crimemap" / "models"
    for compiled in (
        models / "marts" / "crime" / "fct_incidents.sql",
        models / "intermediate" / "hotspots" / "int_incidents__grid_assigned.sql",
    ):
        assert "delete from" in compiled.read_text().lower(), f"{compiled.stem}: not incremental"
    incremental = tmp_path / "incremental.duckdb"
    shutil.copy(data_dir / "warehouse.duckdb", incremental)

    crimemap_dbt(data_dir, target, "run", "--full-refresh")
    full = data_dir / "warehouse.duckdb"
    tables = model_tables(full)
    assert {"stg_police__offenses", "fct_incidents", "area_month_rates"} <= set(tables)
    assert model_tables(incremental) == tables
    differing = {t: n for t in tables if (n := differing_rows(incremental, full, t))}
    assert differing == {}


def partition_dir(data_dir: Path, month: str) -> Path:
    (source,) = (data_dir / "conformed" / "police").iterdir()
    return source / f"month={month}"

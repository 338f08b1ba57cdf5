"""A run whose dbt inputs are the last build's replays that build; a changed input builds.

A city onboarded from its own export (police and boundaries) is run three times by
``crimemap run --config``: once to build, once with nothing new, once after its portal withdrew
some of a month's rows. The second run must leave the warehouse untouched and give the UI the first
build's models and check results, marked as standing for it; the third must build again and
count without the withdrawn rows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from dagster import DagsterEventType, DagsterInstance

from crimemap.core.duckdb_spatial import fetch_one
from crimemap.orchestration.defs.transform.last_build import REPLAYED
from crimemap.samplecity.generate import generate_sample_city
from crimemap.samplecity.settings import SampleCityConfig
from crimemap.warehouse.build_inputs import warehouse_state
from crimemap.warehouse.publish import latest_release, read_manifest
from tests.integration.conftest import PROJECT_ROOT, open_warehouse

pytestmark = pytest.mark.integration

CITY = """name: Unchanged City
timezone: America/Los_Angeles
projected_crs: EPSG:32610
police:
  - {name: city_pd, layout: seattle_spd, path: exports/police.csv}
boundaries: {mode: file, path: exports/areas.geojson, id_field: GEOID, name_field: NAME}
"""
NOT_RUN = "dbt: not run"


def run(config: Path, data_dir: Path) -> str:
    env = {**os.environ, "CRIMEMAP_DATA_DIR": str(data_dir)}
    env.pop("DAGSTER_HOME", None)
    completed = subprocess.run(
        [sys.executable, "-m", "crimemap.orchestration.cli", "run", "--config", str(config)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    (log,) = sorted((data_dir / "logs").glob("run-*.log"), key=lambda p: p.stat().st_mtime)[-1:]
    return log.read_text(encoding="utf-8")


def dbt_results(data_dir: Path, run_id: str) -> dict[str, Any]:
    """The run's dbt model materializations (key -> metadata) and check outcomes."""
    with DagsterInstance.from_config(str(data_dir / "dagster")) as instance:
        records = instance.all_logs(
            run_id,
            of_type={
                DagsterEventType.ASSET_MATERIALIZATION,
                DagsterEventType.ASSET_CHECK_EVALUATION,
            },
        )
    models, checks = {}, {}
    for record in records:
        event = record.get_dagster_event()
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            key = event.asset_key.to_user_string()
            if key.split("/")[0] in ("staging", "intermediate", "marts", "seeds"):
                models[key] = event.step_materialization_data.materialization.metadata
        else:
            data = event.asset_check_evaluation_data
            checks[(data.asset_key.to_user_string(), data.check_name)] = data.passed
    return {"models": models, "checks": checks}


def run_ids(data_dir: Path) -> list[str]:
    with DagsterInstance.from_config(str(data_dir / "dagster")) as instance:
        return [r.run_id for r in reversed(instance.get_runs())]


def offenses(data_dir: Path) -> int:
    with open_warehouse(data_dir) as con:
        return int(fetch_one(con, "SELECT count(*) FROM fct_incidents")[0])


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("unchanged-city")
    files = generate_sample_city(root / "exports", SampleCityConfig(n_incidents=3000))
    shutil.copy(files.police_csv, root / "exports" / "police.csv")
    config = root / "city.yml"
    config.write_text(CITY)
    data_dir = root / "data"
    first_log = run(config, data_dir)
    built = warehouse_state(data_dir / "warehouse.duckdb")
    counted = offenses(data_dir)
    second_log = run(config, data_dir)
    return {
        "root": root,
        "config": config,
        "data_dir": data_dir,
        "logs": (first_log, second_log),
        "built": built,
        "counted": counted,
    }


def test_a_run_with_nothing_new_replays_the_last_build(city: dict[str, Any]) -> None:
    data_dir = city["data_dir"]
    first_log, second_log = city["logs"]
    assert NOT_RUN not in first_log
    assert NOT_RUN in second_log
    assert "Running dbt command" not in second_log
    assert warehouse_state(data_dir / "warehouse.duckdb") == city["built"]
    first, second = (dbt_results(data_dir, run_id) for run_id in run_ids(data_dir)[:2])
    # Every model the build materialized is materialized again, with what the UI showed of it
    # and a note naming the build it stands for; every check has the build's outcome.
    assert second["models"].keys() == first["models"].keys()
    assert len(first["models"]) >= 40
    first_run = run_ids(data_dir)[0]
    for key, metadata in second["models"].items():
        assert first_run in str(metadata[REPLAYED].value), key
        assert metadata["dagster/row_count"] == first["models"][key]["dagster/row_count"]
    assert second["checks"] == first["checks"]
    assert len(first["checks"]) >= 150
    # The release shows the sources the YAML declared, and the others only as absent.
    release = latest_release(data_dir / "published")
    assert release is not None
    freshness = read_manifest(release)["source_freshness"]
    assert {f["source"] for f in freshness if f["mode"] != "none"} == {"city_pd", "boundaries"}
    assert all(f["rows"] == 0 for f in freshness if f["mode"] == "none")


def test_a_changed_export_builds_again(city: dict[str, Any]) -> None:
    data_dir, export = city["data_dir"], city["root"] / "exports" / "police.csv"
    rows = pl.read_csv(export, infer_schema=False)
    # The portal withdrew a tenth of the reports filed in January 2025.
    january = pl.col("Report DateTime").str.contains(r"^01/\d\d/2025 ").fill_null(False)
    withdrawn = january & (pl.int_range(pl.len()) % 10 == 0)
    kept = rows.filter(~withdrawn)
    assert 0 < len(kept) < len(rows)
    kept.write_csv(export)
    log = run(city["config"], data_dir)
    assert NOT_RUN not in log
    assert "Running dbt command" in log
    assert 0 < offenses(data_dir) < city["counted"]


def test_a_warehouse_written_since_the_build_is_built_again(city: dict[str, Any]) -> None:
    data_dir = city["data_dir"]
    log = run(city["config"], data_dir)
    assert NOT_RUN in log  # nothing new since the last test's build
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as con:
        con.execute("DELETE FROM fct_incidents WHERE true")
    log = run(city["config"], data_dir)
    assert NOT_RUN not in log
    assert offenses(data_dir) > 0

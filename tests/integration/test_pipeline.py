"""End to end on a small sample city: quarantine, reconciliation, spatial assignment, release."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from PIL import Image

from crimemap.core.duckdb_spatial import connect
from crimemap.samplecity.settings import DEFECT_REASONS
from crimemap.warehouse.previews import PALETTE
from crimemap.warehouse.publish import latest_release, release_ids
from tests.integration.conftest import PipelineRun, run_crimemap

pytestmark = pytest.mark.integration
# The incidents layer: a hive-partitioned directory (year=/month=).
INCIDENTS_SQL = "read_parquet('{release}/incidents/**/*.parquet', hive_partitioning = true)"


def test_run_reports_where_outputs_are(pipeline_run: PipelineRun) -> None:
    out = pipeline_run.stdout
    assert "run succeeded" in out
    for label in ("release:", "layers:", "warehouse:", "serving db:", "quality report:", "map:"):
        assert label in out
    assert str(pipeline_run.release_dir) in out
    assert str(pipeline_run.release_dir / "map" / "index.html") in out
    styles = sorted(p.name for p in (pipeline_run.release_dir / "styles").glob("*.qml"))
    assert styles == ["facilities.qml", "hotspots.qml", "priority_areas.qml"]


def test_the_terminal_shows_stages_and_the_log_file_holds_the_rest(
    pipeline_run: PipelineRun,
) -> None:
    out, err = pipeline_run.stdout, pipeline_run.stderr
    stages = [line for line in out.splitlines() if " done: " in line]
    assert [line.split()[1] for line in stages] == ["sources", "quality", "dbt", "marts", "publish"]
    by_stage = {line.split()[1]: line for line in stages}
    assert re.search(r"done: \d+ step\(s\), [\d,]+ rows landed \(", by_stage["sources"])
    assert re.search(r"[\d,]+ rows accepted, checks \d+ passed", by_stage["quality"])
    assert re.search(r"crimemap: checks: \d+ passed, \d+ warned, 0 failed", out)
    # No Dagster event and no dbt line reaches the terminal; they are all in the run's log.
    assert "dagster - " not in out + err and "START sql" not in out + err
    assert len(out.splitlines()) < 40
    log = min((pipeline_run.data_dir / "logs").glob("run-*.log"))  # this run's: the first
    assert f"run log:        {log}" in out
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "dagster - INFO" in text and "Completed successfully" in text  # Dagster's and dbt's


def test_quarantine_holds_exactly_the_planted_defects(pipeline_run: PipelineRun) -> None:
    truth = pipeline_run.sample_dir / "truth_incidents.parquet"
    quarantine = pipeline_run.data_dir / "quarantine/police/seattle_spd/month=*/*.parquet"
    con = duckdb.connect()
    planted = set(
        con.execute(
            f"SELECT row_number, defect FROM read_parquet('{truth}') WHERE defect IS NOT NULL"
        ).fetchall()
    )
    quarantined = set(
        con.execute(f"SELECT _row_number, _reason FROM read_parquet('{quarantine}')").fetchall()
    )
    assert len(planted) > 50
    assert {reason for _, reason in planted} >= set(DEFECT_REASONS)
    # Unknown codes are kept (category 'unmapped'), every other defect is quarantined.
    assert quarantined == {(n, d) for n, d in planted if d != "offense_code_unknown"}


def test_unknown_codes_are_kept_unmapped_and_listed(pipeline_run: PipelineRun) -> None:
    truth = pipeline_run.sample_dir / "truth_incidents.parquet"
    with connect(pipeline_run.data_dir / "warehouse.duckdb", read_only=True) as con:
        planted = dict(
            con.execute(
                f"SELECT row_number, 'x' FROM read_parquet('{truth}') "
                "WHERE defect = 'offense_code_unknown'"
            ).fetchall()
        )
        kept = con.execute(
            "SELECT _row_number, category, is_sensitive FROM fct_incidents "
            "WHERE category = 'unmapped'"
        ).fetchall()
        listed = con.execute(
            "SELECT sum(offenses) FROM offense_codes_unmapped WHERE source = 'seattle_spd'"
        ).fetchone()[0]
        coverage = con.execute(
            "SELECT offenses, unmapped_offenses, offense_coverage FROM offense_mapping_coverage"
        ).fetchall()
    assert planted and {n for n, _, _ in kept} == set(planted)
    assert all(sensitive for _, _, sensitive in kept)
    assert listed == len(planted)
    ((offenses, unmapped, share),) = coverage
    assert unmapped == len(planted)
    assert share == pytest.approx(1 - unmapped / offenses, abs=1e-6)


def test_raw_rows_equal_canonical_plus_quarantined(pipeline_run: PipelineRun) -> None:
    data = pipeline_run.data_dir
    raw_files = data / "raw/police/seattle_spd/month=*/*.parquet"
    quarantine_files = data / "quarantine/police/seattle_spd/month=*/*.parquet"
    with connect(data / "warehouse.duckdb", read_only=True) as con:
        canonical = con.execute(
            "SELECT count(DISTINCT (_load_id, _row_number)) FROM fct_incidents"
        ).fetchone()[0]
        raw = con.execute(f"SELECT count(*) FROM read_parquet('{raw_files}')").fetchone()[0]
        quarantined = con.execute(
            f"SELECT count(*) FROM read_parquet('{quarantine_files}')"
        ).fetchone()[0]
    assert canonical > 0 and quarantined > 0
    assert raw == canonical + quarantined


def test_each_offense_finds_its_published_row_by_its_lineage(pipeline_run: PipelineRun) -> None:
    """The warehouse does not copy ``raw_record``: the lineage columns find it, one row each,
    holding the report number the offense carries (docs/data-contracts.md)."""
    conformed = pipeline_run.data_dir / "conformed/police/*/*/*.parquet"
    with connect(pipeline_run.data_dir / "warehouse.duckdb", read_only=True) as con:
        assert "raw_record" not in {c[0] for c in con.execute("DESCRIBE fct_incidents").fetchall()}
        offenses, found, matching = con.execute(
            f"""
            WITH published AS (
                SELECT DISTINCT _load_id, _source_file, _row_number, raw_record
                FROM read_parquet('{conformed}')
            )
            SELECT count(*), count(p.raw_record),
                count(*) FILTER (WHERE (p.raw_record->>'Report Number') = i.report_number)
            FROM fct_incidents AS i
            LEFT JOIN published AS p USING (_load_id, _source_file, _row_number)
            """
        ).fetchone()
    assert offenses > 0
    assert found == offenses  # one published row each: the join neither drops nor repeats
    assert matching == offenses


def test_incidents_are_assigned_to_their_true_area(pipeline_run: PipelineRun) -> None:
    truth = pipeline_run.sample_dir / "truth_incidents.parquet"
    with connect(pipeline_run.data_dir / "warehouse.duckdb", read_only=True) as con:
        mismatched, total = con.execute(
            f"""
            SELECT count(*) FILTER (WHERE f.area_id IS DISTINCT FROM t.area_id), count(*)
            FROM fct_incidents AS f
            JOIN read_parquet('{truth}') AS t ON t.row_number = f._row_number
            WHERE NOT t.on_edge
            """
        ).fetchone()
        unassigned = con.execute(
            "SELECT count(*) FROM fct_incidents WHERE area_id IS NULL"
        ).fetchone()[0]
    assert total > 1000
    assert mismatched == 0
    assert unassigned == 0


def test_release_layers_are_geoparquet_1_1(pipeline_run: PipelineRun) -> None:
    release = pipeline_run.release_dir
    for path in (
        release / "area_month_rates.parquet",
        *sorted((release / "incidents").glob("year=*/month=*/*.parquet")),
    ):
        geo = json.loads(pq.read_metadata(path).metadata[b"geo"])
        assert geo["version"] == "1.1.0"
        column = geo["columns"][geo["primary_column"]]
        assert column["encoding"] == "WKB"
        assert column["covering"]["bbox"]["xmin"] == ["bbox", "xmin"]
        assert "crs" not in column or column["crs"]["id"]["code"] == "CRS84"
        assert len(column["bbox"]) == 4
        schema = pq.read_schema(path)
        assert "bbox" in schema.names
        with connect() as con:
            rows = con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()[0]
            geometry_type = con.execute(
                f"SELECT typeof(geometry) FROM read_parquet('{path}') LIMIT 1"
            ).fetchone()[0]
        assert rows > 0
        assert geometry_type.startswith("GEOMETRY")


def test_manifest_describes_the_files(pipeline_run: PipelineRun) -> None:
    release = pipeline_run.release_dir
    manifest = json.loads((release / "manifest.json").read_text())
    layers = {layer["name"]: layer for layer in manifest["layers"]}
    assert set(layers) >= {"incidents", "area_month_rates", "quality_scorecard"}
    for layer in layers.values():
        for file in layer["files"]:
            path = release / file["path"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == file["sha256"]
            assert pq.read_metadata(path).num_rows == file["rows"]
        assert sum(file["rows"] for file in layer["files"]) == layer["rows"]
        if not layer["spatial"]:
            assert layer["bbox"] is None, layer["name"]
            continue
        xmin, ymin, xmax, ymax = layer["bbox"]
        assert -180 <= xmin < xmax <= 180 and -90 <= ymin < ymax <= 90
    extent = layers["incidents"]["time_extent"]
    assert extent["column"] == "occurred_date"
    assert extent["min"] < extent["max"]


def test_sensitive_offences_have_no_place_day_or_code(pipeline_run: PipelineRun) -> None:
    incidents = INCIDENTS_SQL.format(release=pipeline_run.release_dir)
    with connect() as con:
        sensitive, located = con.execute(
            f"SELECT count(*), count(geometry) + count(area_id) + count(occurred_date) "
            f"+ count(nibrs_code) FROM {incidents} WHERE is_sensitive"
        ).fetchone()
    assert sensitive > 0
    assert located == 0


def test_published_dates_are_local_dates(pipeline_run: PipelineRun) -> None:
    """occurred_date is the jurisdiction's calendar day, consistent with year/month."""
    incidents = INCIDENTS_SQL.format(release=pipeline_run.release_dir)
    with connect() as con:
        inconsistent, dated = con.execute(
            f"SELECT count(*) FILTER (WHERE year(occurred_date) <> year "
            f"OR month(occurred_date) <> month), count(occurred_date) FROM {incidents}"
        ).fetchone()
    assert dated > 1000
    assert inconsistent == 0


def test_serving_database_opens_read_only(pipeline_run: PipelineRun) -> None:
    with connect(pipeline_run.data_dir / "serving.duckdb", read_only=True) as con:
        incidents = con.execute("SELECT count(*) FROM incidents").fetchone()[0]
        rates = con.execute("SELECT count(*) FROM area_month_rates").fetchone()[0]
    assert incidents > 0 and rates > 0


def test_each_police_month_reports_its_own_row_count(pipeline_run: PipelineRun) -> None:
    """One step lands every month, but the UI shows each month's own rows, which add up to
    the landing."""
    from dagster import AssetKey, DagsterInstance

    landed = pq.read_table(
        pipeline_run.data_dir / "raw" / "police" / "seattle_spd", columns=["_row_number"]
    ).num_rows
    with DagsterInstance.from_config(str(pipeline_run.data_dir / "dagster")) as instance:
        for key, expected_total in ((["raw", "police", "seattle_spd"], landed),):
            records = instance.fetch_materializations(AssetKey(key), limit=1000).records
            counts = {
                r.asset_materialization.partition: r.asset_materialization.metadata[
                    "dagster/row_count"
                ].value
                for r in records
            }
            assert len(counts) > 12 and len(set(counts.values())) > 1
            assert sum(counts.values()) == expected_total


def test_a_second_run_with_nothing_new_publishes_no_release(
    pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    # A copy of the run's data directory: other tests hold its warehouse open for reading.
    data_dir = tmp_path / "data"
    shutil.copytree(pipeline_run.data_dir, data_dir)
    published = data_dir / "published"
    before = release_ids(published)
    again = run_crimemap(data_dir, "run")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing changed since the current release: no new release published" in again.stdout
    assert release_ids(published) == before
    assert latest_release(published) == published / "releases" / pipeline_run.release_dir.name


def preview_image(markdown: str) -> Image.Image:
    """The PNG a preview's markdown inlines."""
    match = re.fullmatch(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert match, markdown[:200]
    return Image.open(io.BytesIO(base64.b64decode(match.group(1)))).convert("RGB")


def assert_draws_a_map(markdown: str) -> None:
    """A preview in at least three of its palette's colours: areas drawn in classes."""
    colours = {colour for _, colour in preview_image(markdown).getcolors(maxcolors=1 << 16)}
    assert len(colours & set(PALETTE)) >= 3


def test_marts_and_layers_show_rows_schema_lineage_preview_and_top_ten(
    pipeline_run: PipelineRun, warehouse: duckdb.DuckDBPyConnection
) -> None:
    from dagster import AssetKey, DagsterInstance

    with DagsterInstance.from_config(str(pipeline_run.data_dir / "dagster")) as instance:
        for mart in ("dim_area", "priority_areas", "area_month_rates"):
            (record,) = instance.fetch_materializations(AssetKey(["marts", mart]), limit=1).records
            metadata = record.asset_materialization.metadata
            (rows,) = warehouse.execute(f"SELECT count(*) FROM main.{mart}").fetchone()
            assert metadata["dagster/row_count"].value == rows > 0
            schema = metadata["dagster/column_schema"].value
            assert "area_id" in {column.name for column in schema.columns}
            assert_draws_a_map(metadata["preview"].value)
            lineage = metadata["dagster/column_lineage"].value.deps_by_column
            assert lineage["area_id"], mart
        (record,) = instance.fetch_materializations(
            AssetKey(["marts", "priority_areas"]), limit=1
        ).records
        metadata = record.asset_materialization.metadata
        # The need index is made from the areas' indicators, among others.
        need_sources = {
            (dep.asset_key.to_user_string(), dep.column_name)
            for dep in metadata["dagster/column_lineage"].value.deps_by_column["need_index"]
        }
        assert ("marts/dim_area", "poverty_rate") in need_sources
        top_row = metadata["top_10"].value.splitlines()[2]
        (first_area,) = warehouse.execute(
            "SELECT area_id FROM priority_areas WHERE need_rank = 1"
        ).fetchone()
        assert top_row.startswith(f"| 1 | {first_area} |")
        manifest = json.loads((pipeline_run.release_dir / "manifest.json").read_text())
        for layer in manifest["layers"]:
            key = AssetKey(["published", layer["name"]])
            (record,) = instance.fetch_materializations(key, limit=1).records
            metadata = record.asset_materialization.metadata
            assert metadata["dagster/row_count"].value == layer["rows"]
            columns = [c.name for c in metadata["dagster/column_schema"].value.columns]
            assert columns == [c["name"] for c in layer["columns"]]
            assert ("preview" in metadata) == layer["spatial"], layer["name"]
        for name in ("priority_areas", "hotspots", "areas"):
            (record,) = instance.fetch_materializations(
                AssetKey(["published", name]), limit=1
            ).records
            assert_draws_a_map(record.asset_materialization.metadata["preview"].value)


def test_status_shows_the_last_run_the_release_and_each_source(pipeline_run: PipelineRun) -> None:
    status = subprocess.run(
        [sys.executable, "-m", "crimemap.orchestration.cli", "status"],
        env={**os.environ, "CRIMEMAP_DATA_DIR": str(pipeline_run.data_dir)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert status.returncode == 0, status.stderr
    out = status.stdout
    assert re.search(r"last run: +SUCCESS \d{4}-\d\d-\d\d \d\d:\d\d UTC", out)
    assert f"current release: {pipeline_run.release_dir.name}, 18 layers" in out
    assert re.search(r"seattle_spd +\d{4}-\d\d-\d\d +\d{4}-\d\d-\d\dT\d\d:\d\d +[\d,]+", out)
    assert re.search(r"checks \(last run\): \d+ passed, 0 not passed", out)

"""Atomic releases, manifest and the serving database."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from crimemap.core.duckdb_spatial import connect
from crimemap.warehouse import publish
from crimemap.warehouse.geoparquet import validate_geoparquet
from crimemap.warehouse.publish import (
    LayerSpec,
    ReleaseValidationError,
    latest_release,
    layer_scan_sql,
    prune_releases,
    publish_release,
    read_manifest,
)
from crimemap.warehouse.schema_contract import validate_manifest
from crimemap.warehouse.serving import build_serving_database

INCIDENTS = LayerSpec(
    name="incident_points",
    query="""
        SELECT i AS incident_id,
               DATE '2024-01-01' + (i % 30)::INTEGER AS occurred_date,
               'offense_' || (i % 3) AS offense,
               CASE WHEN i % 5 = 0 THEN NULL
                    ELSE ST_Point(-87.70 + (i % 9) * 0.002, 41.80 + (i % 7) * 0.002)
               END AS geometry
        FROM range(40) AS t(i)
    """,
    spatial=True,
    description="Incidents generalized to hundred-block centroids",
    time_column="occurred_date",
    column_descriptions={"incident_id": "Surrogate incident key"},
)
TRACTS = LayerSpec(
    name="tracts",
    query="""
        SELECT 'T' || i AS tract_id, ST_Buffer(ST_Point(-87.7 + i * 0.01, 41.8), 0.004) AS geom
        FROM range(5) AS t(i)
    """,
    spatial=True,
    description="Census tracts",
    geometry_column="geom",
)
COUNTS = LayerSpec(
    name="tract_counts",
    query="SELECT 'T' || i AS tract_id, i * 5 AS incidents FROM range(5) AS t(i) ORDER BY i",
    spatial=False,
    description="Incident counts by tract (k-suppressed)",
)
LAYERS = (INCIDENTS, TRACTS, COUNTS)
MONTHLY = LayerSpec(
    name="monthly_points",
    query="""
        SELECT i AS incident_id,
               (2024 + i // 40)::INTEGER AS year,
               (1 + (i // 10) % 3)::INTEGER AS month,
               CASE WHEN i % 7 = 0 THEN NULL
                    ELSE ST_Point(-87.70 + (i % 9) * 0.002, 41.80 + (i % 7) * 0.002)
               END AS geometry
        FROM range(60) AS t(i)
    """,
    spatial=True,
    description="Points partitioned by year and month",
    partition_by=("year", "month"),
)
BROKEN = LayerSpec(
    name="broken",
    query="SELECT ST_Point(0, 0) AS geometry, error('warehouse table vanished') AS x",
    spatial=True,
    description="fails while it is being written",
)


FRESHNESS = {
    "source": "city_pd",
    "family": "police",
    "column": "occurred_at",
    "latest": "2024-01-31",
    "loaded_at": "2024-02-01T06:00:00+00:00",
    "rows": 40,
}


@pytest.fixture
def published(tmp_path: Path) -> Path:
    return tmp_path / "published"


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` with its bytes, to prove nothing changed."""
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def temp_dirs(published: Path) -> list[Path]:
    return list((published / "releases").glob(".tmp-*"))


# --------------------------------------------------------------------------- publishing


def test_publish_writes_release_and_points_latest_at_it(
    con: duckdb.DuckDBPyConnection, published: Path
) -> None:
    release = publish_release(
        con,
        LAYERS,
        published,
        privacy_rules=["k_anonymity_5", "sensitive_offences_no_point"],
        code_version="1.2.3+abc",
        extra={"jurisdiction": "Test City", "source_freshness": [FRESHNESS]},
    )
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", release.release_id)
    assert (published / "LATEST").read_text().strip() == release.release_id
    assert latest_release(published) == published / "releases" / release.release_id
    assert release.path == latest_release(published)
    assert sorted(p.name for p in release.path.iterdir()) == [
        "incident_points.parquet",
        "manifest.json",
        "tract_counts.parquet",
        "tracts.parquet",
    ]
    assert temp_dirs(published) == []
    assert not (published / "LATEST.tmp").exists()

    manifest = read_manifest(release.path)
    assert manifest == json.loads(json.dumps(release.manifest))
    assert manifest["release_id"] == release.release_id
    assert manifest["manifest_version"] == 2
    assert manifest["schema_version"] == "1.0.0"
    assert manifest["code_version"] == "1.2.3+abc"
    assert manifest["privacy_rules"] == ["k_anonymity_5", "sensitive_offences_no_point"]
    assert manifest["source_freshness"] == [FRESHNESS]
    assert manifest["jurisdiction"] == "Test City"
    assert validate_manifest(manifest) == []
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["created_at"])
    assert [layer["name"] for layer in manifest["layers"]] == [
        "incident_points",
        "tracts",
        "tract_counts",
    ]


def test_manifest_describes_each_file(con: duckdb.DuckDBPyConnection, published: Path) -> None:
    release = publish_release(con, LAYERS, published)
    layers = {layer["name"]: layer for layer in release.manifest["layers"]}
    for layer in layers.values():
        assert layer["path"] == f"{layer['name']}.parquet"
        assert layer["partitioning"] is None
        [file] = layer["files"]
        data = (release.path / file["path"]).read_bytes()
        assert file["sha256"] == hashlib.sha256(data).hexdigest()
        assert file["bytes"] == layer["bytes"] == len(data)
        assert file["rows"] == layer["rows"]

    points = layers["incident_points"]
    assert points["spatial"] is True
    assert points["rows"] == 40
    assert points["geometry_types"] == ["Point"]
    assert points["time_extent"] == {
        "column": "occurred_date",
        "min": "2024-01-01",
        "max": "2024-01-30",
    }
    xmin, ymin, xmax, ymax = points["bbox"]
    assert (xmin, ymin) == pytest.approx((-87.700, 41.800))
    assert (xmax, ymax) == pytest.approx((-87.684, 41.812))
    columns = {c["name"]: c for c in points["columns"]}
    assert columns["incident_id"] == {
        "name": "incident_id",
        "type": "BIGINT",
        "description": "Surrogate incident key",
    }
    assert columns["geometry"]["type"].startswith("GEOMETRY")
    assert validate_geoparquet(release.path / points["path"]) == []

    counts = layers["tract_counts"]
    assert (counts["spatial"], counts["rows"], counts["bbox"]) == (False, 5, None)
    assert [c["name"] for c in counts["columns"]] == ["tract_id", "incidents"]
    assert layers["tracts"]["geometry_types"] == ["Polygon"]


def test_partitioned_layer_is_a_hive_directory_of_geoparquet_files(
    con: duckdb.DuckDBPyConnection, published: Path
) -> None:
    release = publish_release(con, (MONTHLY, COUNTS), published)
    [layer] = [entry for entry in release.manifest["layers"] if entry["name"] == "monthly_points"]
    assert layer["path"] == "monthly_points"
    assert layer["partitioning"] == {"flavor": "hive", "columns": ["year", "month"]}
    expected = con.execute(
        f"SELECT DISTINCT year, month, count(*) OVER (PARTITION BY year, month) "
        f"FROM ({MONTHLY.query}) ORDER BY ALL"
    ).fetchall()
    assert [(file["path"], file["rows"]) for file in layer["files"]] == [
        (f"monthly_points/year={y}/month={m}/part-0.parquet", n) for y, m, n in expected
    ]
    assert layer["rows"] == 60 == sum(file["rows"] for file in layer["files"])
    for file in layer["files"]:
        path = release.path / file["path"]
        assert validate_geoparquet(path) == []
        assert hashlib.sha256(path.read_bytes()).hexdigest() == file["sha256"]
        # Standard hive layout: the partition values live in the path, not in the file.
        assert {"year", "month"}.isdisjoint(pq.read_schema(path).names)
    types = {c["name"]: c["type"] for c in layer["columns"]}
    assert (types["year"], types["month"]) == ("INTEGER", "INTEGER")
    read_back = con.execute(
        f"SELECT incident_id, year, month, ST_AsText(geometry) "
        f"FROM {layer_scan_sql(release.path, layer)} ORDER BY incident_id"
    ).fetchall()
    original = con.execute(
        f"SELECT incident_id, year, month, ST_AsText(geometry) FROM ({MONTHLY.query}) "
        "ORDER BY incident_id"
    ).fetchall()
    assert read_back == original


def test_a_manifest_off_its_json_schema_blocks_the_release(
    con: duckdb.DuckDBPyConnection, published: Path
) -> None:
    with pytest.raises(ReleaseValidationError, match=r"source_freshness\[0\]\.rows"):
        publish_release(
            con, LAYERS, published, extra={"source_freshness": [{**FRESHNESS, "rows": -1}]}
        )
    assert latest_release(published) is None


def test_table_files_are_validated_too(
    con: duckdb.DuckDBPyConnection, published: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publish, "validate_parquet_table", lambda path: [f"{path}: not zstd"])
    with pytest.raises(ReleaseValidationError, match=r"tract_counts\.parquet: not zstd"):
        publish_release(con, LAYERS, published)
    assert latest_release(published) is None


def test_breaking_schema_change_needs_a_major_version(
    con: duckdb.DuckDBPyConnection, published: Path
) -> None:
    publish_release(con, (COUNTS,), published, release_id="r1", schema_version="1.2.0")
    before = snapshot(published)
    renamed = LayerSpec(
        name="tract_counts",
        query="SELECT 'T' || i AS tract_id, i * 5 AS offenses FROM range(5) AS t(i) ORDER BY i",
        spatial=False,
        description="a column renamed: consumers reading 'incidents' break",
    )
    with pytest.raises(ReleaseValidationError, match=r"tract_counts\.incidents.*2\.0\.0"):
        publish_release(con, (renamed,), published, release_id="r2", schema_version="1.3.0")
    assert snapshot(published) == before
    release = publish_release(con, (renamed,), published, release_id="r3", schema_version="2.0.0")
    assert release.manifest["schema_version"] == "2.0.0"


def test_added_layer_needs_a_minor_version(con: duckdb.DuckDBPyConnection, published: Path) -> None:
    publish_release(con, (COUNTS,), published, release_id="r1", schema_version="1.2.0")
    with pytest.raises(ReleaseValidationError, match="tracts"):
        publish_release(con, (COUNTS, TRACTS), published, release_id="r2", schema_version="1.2.0")
    publish_release(con, (COUNTS, TRACTS), published, release_id="r3", schema_version="1.3.0")
    assert read_manifest(latest_release(published))["schema_version"] == "1.3.0"


def test_new_release_switches_latest_and_keeps_the_previous_one(
    con: duckdb.DuckDBPyConnection, published: Path
) -> None:
    first = publish_release(con, LAYERS, published, release_id="r1")
    kept = snapshot(first.path)
    # Dropping layers is a breaking change: a major version.
    second = publish_release(con, (COUNTS,), published, release_id="r2", schema_version="2.0.0")
    assert latest_release(published) == second.path
    assert snapshot(first.path) == kept


def test_failing_layer_leaves_previous_release_and_latest_untouched(
    con: duckdb.DuckDBPyConnection, published: Path
) -> None:
    publish_release(con, LAYERS, published, release_id="r1")
    before = snapshot(published)
    with pytest.raises(duckdb.Error, match="warehouse table vanished"):
        publish_release(con, (INCIDENTS, BROKEN, COUNTS), published, release_id="r2")
    assert snapshot(published) == before
    assert temp_dirs(published) == []
    assert not (published / "releases" / "r2").exists()
    assert latest_release(published) == published / "releases" / "r1"


def test_validation_failure_blocks_the_release(
    con: duckdb.DuckDBPyConnection, published: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_release(con, LAYERS, published, release_id="r1")
    before = snapshot(published)
    monkeypatch.setattr(publish, "validate_geoparquet", lambda path: [f"{path}: broken bbox"])
    with pytest.raises(ReleaseValidationError, match="broken bbox") as caught:
        publish_release(con, LAYERS, published, release_id="r2")
    assert len(caught.value.problems) == 2  # one per spatial layer
    assert snapshot(published) == before
    assert temp_dirs(published) == []


def test_failure_while_switching_latest_unpublishes_the_new_release(
    con: duckdb.DuckDBPyConnection, published: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_release(con, LAYERS, published, release_id="r1")
    before = snapshot(published)

    def crash(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(publish, "_switch_latest", crash)
    with pytest.raises(OSError, match="disk full"):
        publish_release(con, LAYERS, published, release_id="r2")
    assert snapshot(published) == before
    assert sorted(p.name for p in (published / "releases").iterdir()) == ["r1"]


@pytest.mark.parametrize(
    ("layers", "kwargs", "message"),
    [
        ((), {}, "at least one layer"),
        ((COUNTS, COUNTS), {}, "duplicate layer names"),
        ((LayerSpec("Bad-Name", "SELECT 1", False, ""),), {}, "must match"),
        ((LayerSpec("releases", "SELECT 1", False, ""),), {}, "reserved"),
        ((COUNTS,), {"release_id": "../escape"}, "release id"),
        ((COUNTS,), {"extra": {"layers": []}}, "clash"),
    ],
)
def test_invalid_requests_fail_before_writing_anything(
    con: duckdb.DuckDBPyConnection,
    published: Path,
    layers: tuple[LayerSpec, ...],
    kwargs: dict,
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        publish_release(con, layers, published, **kwargs)
    assert not published.exists()


def test_existing_release_id_is_refused(con: duckdb.DuckDBPyConnection, published: Path) -> None:
    publish_release(con, (COUNTS,), published, release_id="r1")
    before = snapshot(published)
    with pytest.raises(FileExistsError):
        publish_release(con, (COUNTS,), published, release_id="r1")
    assert snapshot(published) == before


def rates_layer(offset: float) -> LayerSpec:
    return LayerSpec(
        name="tract_rates",
        query=f"SELECT 'T' || i AS tract_id, i / 3 + {offset!r} AS rate FROM range(5) AS t(i)",
        spatial=False,
        description="Rates by tract",
    )


def test_a_run_with_nothing_new_publishes_no_release(
    con: duckdb.DuckDBPyConnection, published: Path
) -> None:
    first = publish_release(con, LAYERS, published, skip_unchanged=True)
    assert set(first.manifest["content"]) == {layer.name for layer in LAYERS}
    again = publish_release(con, LAYERS, published, skip_unchanged=True)
    assert (again.published, again.release_id, again.path) == (False, first.release_id, first.path)
    assert publish.release_ids(published) == [first.release_id]
    assert temp_dirs(published) == []
    assert again.manifest == read_manifest(first.path)


def test_float_noise_is_no_change_and_a_real_change_is(
    con: duckdb.DuckDBPyConnection, published: Path
) -> None:
    first = publish_release(con, (rates_layer(0.0),), published, skip_unchanged=True)
    # Parallel sums differ in their last bits from run to run: the same content.
    noisy = publish_release(con, (rates_layer(1e-12),), published, skip_unchanged=True)
    assert not noisy.published and noisy.release_id == first.release_id
    changed = publish_release(con, (rates_layer(1e-3),), published, skip_unchanged=True)
    assert changed.published and changed.release_id != first.release_id
    # Without skip_unchanged (a re-publish asked for), the same content publishes again.
    forced = publish_release(con, (rates_layer(1e-3),), published)
    assert forced.published and forced.release_id != changed.release_id


def test_latest_release_is_none_before_first_publish(published: Path) -> None:
    assert latest_release(published) is None


def test_release_ids_are_unique_and_sortable() -> None:
    ids = {publish.new_release_id() for _ in range(50)}
    assert len(ids) == 50


# --------------------------------------------------------------------------- serving


def test_serving_database_has_a_table_per_layer(
    con: duckdb.DuckDBPyConnection, published: Path, tmp_path: Path
) -> None:
    release = publish_release(con, LAYERS, published, code_version="1.2.3")
    serving = build_serving_database(release.path, tmp_path / "serving.duckdb")
    assert serving == tmp_path / "serving.duckdb"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

    with connect(serving, read_only=True) as reader:
        assert reader.execute("SELECT count(*) FROM incident_points").fetchone() == (40,)
        assert reader.execute("SELECT count(*) FROM tract_counts").fetchone() == (5,)
        geometry_type, located = reader.execute(
            "SELECT any_value(typeof(geometry)), count(geometry) FROM incident_points"
        ).fetchone()
        assert geometry_type.startswith("GEOMETRY") and located == 32
        assert reader.execute("SELECT sum(ST_Area(geom)) > 0 FROM tracts").fetchone() == (True,)
        tables = dict(
            reader.execute(
                "SELECT table_name, comment FROM duckdb_tables() WHERE table_name <> 'releases'"
            ).fetchall()
        )
        assert tables == {
            "incident_points": "Incidents generalized to hundred-block centroids",
            "tracts": "Census tracts",
            "tract_counts": "Incident counts by tract (k-suppressed)",
        }
        assert reader.execute(
            "SELECT comment FROM duckdb_columns() "
            "WHERE table_name = 'incident_points' AND column_name = 'incident_id'"
        ).fetchone() == ("Surrogate incident key",)
        assert reader.execute(
            "SELECT release_id, layer, rows FROM releases ORDER BY layer"
        ).fetchall() == [
            (release.release_id, "incident_points", 40),
            (release.release_id, "tract_counts", 5),
            (release.release_id, "tracts", 5),
        ]


def test_serving_database_is_swapped_while_readers_hold_the_old_one(
    con: duckdb.DuckDBPyConnection, published: Path, tmp_path: Path
) -> None:
    first = publish_release(con, LAYERS, published, release_id="r1")
    serving = build_serving_database(first.path, tmp_path / "serving.duckdb")
    with connect(serving, read_only=True) as old_reader:
        second = publish_release(con, (COUNTS,), published, release_id="r2", schema_version="2.0.0")
        build_serving_database(second.path, serving)
        # The open reader keeps its consistent (old) database ...
        assert old_reader.execute("SELECT count(*) FROM incident_points").fetchone() == (40,)
    # ... and new readers see the new release.
    with connect(serving, read_only=True) as new_reader:
        assert new_reader.execute("SELECT DISTINCT release_id FROM releases").fetchall() == [
            ("r2",)
        ]
        tables = {r[0] for r in new_reader.execute("SHOW TABLES").fetchall()}
        assert tables == {"releases", "tract_counts"}


def test_the_serving_database_is_portable(
    con: duckdb.DuckDBPyConnection, published: Path, tmp_path: Path
) -> None:
    """Copied to a BI server, with the release pruned or never there, it still answers."""
    release = publish_release(con, LAYERS, published, release_id="r1")
    built = build_serving_database(release.path, tmp_path / "serving.duckdb")
    elsewhere = tmp_path / "bi-server" / "crimemap.duckdb"
    elsewhere.parent.mkdir()
    shutil.copyfile(built, elsewhere)
    shutil.rmtree(release.path)

    with connect(elsewhere, read_only=True) as reader:
        assert reader.execute("SELECT count(*) FROM incident_points").fetchone() == (40,)
        assert reader.execute("SELECT count(*) FROM tract_counts").fetchone() == (5,)


def test_a_long_lived_reader_sees_the_new_release_once_it_reconnects(
    con: duckdb.DuckDBPyConnection, published: Path, tmp_path: Path
) -> None:
    """DuckDB shares one open database among a process's connections to a path: a connection
    made while an old one is open reads the old file; closing them all picks up the new one."""
    first = publish_release(con, LAYERS, published, release_id="r1")
    serving = build_serving_database(first.path, tmp_path / "serving.duckdb")
    held = connect(serving, read_only=True)
    second = publish_release(con, (COUNTS,), published, release_id="r2", schema_version="2.0.0")
    build_serving_database(second.path, serving)
    prune_releases(published, keep=1)  # the first release's files are gone

    also_old = connect(serving, read_only=True)
    release_ids = "SELECT DISTINCT release_id FROM releases"
    assert also_old.execute(release_ids).fetchall() == [("r1",)]
    assert also_old.execute("SELECT count(*) FROM tract_counts").fetchone() == (5,)  # no error
    also_old.close()
    held.close()

    with connect(serving, read_only=True) as fresh:
        assert fresh.execute(release_ids).fetchall() == [("r2",)]


def test_the_release_waits_for_every_mart_its_layers_read() -> None:
    """The publish asset's dependencies cover each table a layer selects from, so a new layer
    cannot be published from a mart the run has not built yet."""
    from crimemap.orchestration.defs.publish.assets import PUBLISHED_MARTS
    from crimemap.warehouse.layers import published_layers
    from crimemap.warehouse.privacy import PrivacyRules

    dependencies = {key.path[-1] for key in PUBLISHED_MARTS}
    layers = published_layers(PrivacyRules(), "EPSG:32610", "America/Los_Angeles", "salt")
    read = {
        table
        for layer in layers
        for table in re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", layer.query, flags=re.IGNORECASE)
        if not table.startswith("__crimemap_")  # registered by the layer itself
    }
    assert {"fct_incidents", "hotspots", "dim_grid_cell", "priority_areas"} <= read
    assert read <= dependencies, read - dependencies


def monthly_with(changes: str) -> LayerSpec:
    """MONTHLY with its rows put through ``changes`` (SQL over ``base``)."""
    return LayerSpec(
        name=MONTHLY.name,
        query=f"WITH base AS ({MONTHLY.query}) {changes}",
        spatial=True,
        description=MONTHLY.description,
        partition_by=MONTHLY.partition_by,
    )


def partition_files(release: publish.Release) -> dict[str, Path]:
    [layer] = [e for e in release.manifest["layers"] if e["name"] == MONTHLY.name]
    return {f["path"].split("/", 1)[1]: release.path / f["path"] for f in layer["files"]}


def test_a_partition_whose_rows_are_unchanged_is_linked_from_the_current_release(
    con: duckdb.DuckDBPyConnection, published: Path
) -> None:
    first = publish_release(con, (MONTHLY,), published)
    # One month's rows change, one month arrives; the other months are as they were.
    layer = monthly_with(
        "SELECT * REPLACE (CASE WHEN month = 2 AND incident_id = 12 THEN NULL ELSE geometry END "
        "AS geometry) FROM base "
        "UNION ALL SELECT 999, 2025, 1, ST_Point(-87.69, 41.81)"
    )
    second = publish_release(con, (layer,), published)
    before, after = partition_files(first), partition_files(second)
    linked = sorted(p for p in after if p in before and after[p].samefile(before[p]))
    assert linked == sorted(p for p in before if not p.startswith("year=2024/month=2/"))
    assert len(after) == len(before) + 1
    # Every file reads back as the layer's rows, linked or written, and the manifest says so.
    [entry] = second.manifest["layers"]
    read_back = con.execute(
        f"SELECT incident_id, year, month, ST_AsText(geometry) "
        f"FROM {layer_scan_sql(second.path, entry)} ORDER BY ALL"
    ).fetchall()
    expected = con.execute(
        f"SELECT incident_id, year, month, ST_AsText(geometry) FROM ({layer.query}) ORDER BY ALL"
    ).fetchall()
    assert read_back == expected
    assert validate_manifest(read_manifest(second.path)) == []
    for file in entry["files"]:
        path = second.path / file["path"]
        assert validate_geoparquet(path) == []
        assert hashlib.sha256(path.read_bytes()).hexdigest() == file["sha256"]
    assert entry["bbox"] == first_bbox_with(con, layer)


def first_bbox_with(con: duckdb.DuckDBPyConnection, layer: LayerSpec) -> list[float]:
    row = con.execute(
        f"SELECT min(ST_XMin(geometry)), min(ST_YMin(geometry)), max(ST_XMax(geometry)), "
        f"max(ST_YMax(geometry)) FROM ({layer.query})"
    ).fetchone()
    assert row is not None
    return list(row)


def test_a_current_file_whose_bytes_changed_is_written_again(
    con: duckdb.DuckDBPyConnection, published: Path
) -> None:
    first = publish_release(con, (MONTHLY,), published)
    tampered = partition_files(first)["year=2024/month=1/part-0.parquet"]
    damaged = tampered.read_bytes()
    tampered.unlink()
    tampered.write_bytes(damaged[:-1] + bytes([damaged[-1] ^ 1]))
    second = publish_release(con, (MONTHLY,), published)
    rewritten = partition_files(second)["year=2024/month=1/part-0.parquet"]
    assert not rewritten.samefile(tampered)
    assert validate_geoparquet(rewritten) == []
    kept = partition_files(second)["year=2024/month=2/part-0.parquet"]
    assert kept.samefile(partition_files(first)["year=2024/month=2/part-0.parquet"])


def test_a_partition_under_other_columns_is_written_again(
    con: duckdb.DuckDBPyConnection, published: Path
) -> None:
    first = publish_release(con, (MONTHLY,), published)
    # The same values under another column name: no file of the first release fits.
    renamed = monthly_with("SELECT * RENAME (incident_id AS offense_id) FROM base")
    second = publish_release(con, (renamed,), published, schema_version="2.0.0")
    before, after = partition_files(first), partition_files(second)
    assert not any(after[p].samefile(before[p]) for p in before)
    assert all("offense_id" in pq.read_schema(path).names for path in after.values())

"""``crimemap export``: a filtered, self-describing copy of the latest release."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import geopandas
import pyarrow.parquet as pq
import pytest
import shapely
from pyproj import CRS

from crimemap.core.duckdb_spatial import connect
from crimemap.orchestration.cli import main
from crimemap.warehouse import publish
from crimemap.warehouse.export import ExportError, export_release, parse_bbox, parse_since
from crimemap.warehouse.geoparquet import validate_geoparquet, validate_parquet_table
from crimemap.warehouse.publish import (
    LayerSpec,
    publish_release,
    read_manifest,
    validate_release_files,
)
from crimemap.warehouse.schema_contract import validate_manifest

# Day 0 is 2024-11-03, then every third day (day 210 is SINCE); partitioned by that date, so
# rows without an occurred_date still have a partition.
INCIDENTS = LayerSpec(
    name="incidents",
    query="""
        SELECT i AS incident_id,
               'offense_' || (i % 4) AS offense,
               CASE WHEN i % 17 = 0 THEN NULL
                    ELSE DATE '2024-11-03' + (i * 3)::INTEGER END AS occurred_date,
               CASE WHEN i % 10 = 1 THEN NULL
                    ELSE ST_Point(-87.70 + (i % 20) * 0.005, 41.80 + (i % 15) * 0.005)
               END AS geometry,
               year(DATE '2024-11-03' + (i * 3)::INTEGER)::INTEGER AS year,
               month(DATE '2024-11-03' + (i * 3)::INTEGER)::INTEGER AS month
        FROM range(200) AS t(i)
    """,
    spatial=True,
    description="Incidents at grid-cell centroids.",
    time_column="occurred_date",
    column_descriptions={"incident_id": "Incident key", "occurred_date": "Day it occurred"},
    partition_by=("year", "month"),
)
# The box used throughout; A3 is an L whose envelope covers the box but whose shape misses it.
BOX = (-87.66, 41.82, -87.63, 41.85)
AREAS = LayerSpec(
    name="areas",
    query="""
        SELECT area_id, ST_GeomFromText(wkt) AS geometry FROM (VALUES
            ('A1', 'POLYGON((-87.655 41.825, -87.645 41.825, -87.645 41.835,
                             -87.655 41.835, -87.655 41.825))'),
            ('A2', 'POLYGON((-87.635 41.83, -87.62 41.83, -87.62 41.84, -87.635 41.84,
                             -87.635 41.83))'),
            ('A3', 'POLYGON((-87.70 41.80, -87.69 41.80, -87.69 41.86, -87.62 41.86,
                             -87.62 41.87, -87.70 41.87, -87.70 41.80))'),
            ('A4', 'POLYGON((-87.51 41.95, -87.50 41.95, -87.50 41.96, -87.51 41.95))'),
            ('A5', NULL)
        ) AS t(area_id, wkt)
    """,
    spatial=True,
    description="Areas.",
    column_descriptions={"area_id": "Area key"},
)
COUNTS = LayerSpec(
    name="area_counts",
    query="""
        SELECT 'A' || (i % 5 + 1) AS area_id,
               CASE WHEN i = 7 THEN NULL ELSE DATE '2025-01-01' + INTERVAL (i) MONTH END::DATE
                   AS month,
               i * 3 AS incidents
        FROM range(12) AS t(i) ORDER BY i
    """,
    spatial=False,
    description="Incidents per area and month.",
    time_column="month",
)
SINCE = "2025-06-01"
PRIVACY = {
    "min_cell_count": 5,
    "point_generalization": "grid",
    "point_cell_m": 250.0,
    "min_population": 300,
}
FRESHNESS = [
    {
        "source": "police",
        "family": "police",
        "column": "occurred_at",
        "latest": "2026-05-20",
        "loaded_at": "2026-05-21T06:00:00Z",
        "rows": 200,
    }
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose published/ holds one release of the three layers."""
    root = tmp_path_factory.mktemp("export-data")
    with connect() as con:
        publish_release(
            con,
            (INCIDENTS, AREAS, COUNTS),
            root / "published",
            release_id="20260101T000000Z-abcdef",
            schema_version="1.0.0",
            privacy_rules=["points generalized to 250 m grid-cell centroids"],
            code_version="crimemap 0.1.0+gtest",
            extra={"jurisdiction": "Test City", "privacy": PRIVACY, "source_freshness": FRESHNESS},
        )
    return root


@pytest.fixture(scope="module")
def release(data_dir: Path) -> Path:
    return data_dir / "published" / "releases" / "20260101T000000Z-abcdef"


def snapshot(directory: Path) -> dict[str, bytes | None]:
    """Every entry under ``directory`` (directories as None), to prove nothing changed."""
    return {
        str(p.relative_to(directory)): p.read_bytes() if p.is_file() else None
        for p in directory.rglob("*")
    }


def layers_of(manifest: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {layer["name"]: layer for layer in manifest["layers"]}


def read_layer(directory: Path, layer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of a release/export layer read with pyarrow (partition columns included)."""
    return pq.read_table(directory / layer["path"]).to_pylist()


def geometry(row: Mapping[str, Any]) -> shapely.Geometry | None:
    return None if row["geometry"] is None else shapely.from_wkb(row["geometry"])


def expected_ids(
    rows: list[dict[str, Any]], key: str, box: tuple[float, ...] | None, since: str | None
) -> set[Any]:
    """Brute force, independent of DuckDB: shapely intersects, Python date comparison."""
    query = shapely.box(*box) if box else None
    kept = set()
    for row in rows:
        if query is not None:
            shape = geometry(row)
            if shape is None or not shapely.intersects(shape, query):
                continue
        if since is not None and "occurred_date" in row:
            day = row["occurred_date"]
            if day is None or day < dt.date.fromisoformat(since):
                continue
        kept.add(row[key])
    return kept


@pytest.fixture(scope="module")
def filtered(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """incidents and areas cut to BOX and SINCE (area_counts left out)."""
    target = tmp_path_factory.mktemp("filtered") / "agency"
    export_release(
        data_dir / "published",
        target,
        layers=["incidents", "areas"],
        bbox=BOX,
        since=parse_since(SINCE),
    )
    return target


# --------------------------------------------------------------------------- content


def test_only_the_requested_layers_are_written(filtered: Path, release: Path) -> None:
    manifest = read_manifest(filtered)
    assert [layer["name"] for layer in manifest["layers"]] == ["incidents", "areas"]
    assert sorted(p.name for p in filtered.iterdir()) == [
        "areas.parquet",
        "incidents",
        "manifest.json",
    ]
    source = read_manifest(release)
    assert manifest["export"] == {
        "from_release": source["release_id"],
        "layers": ["incidents", "areas"],
        "bbox": list(BOX),
        "since": SINCE,
    }
    assert manifest["release_id"] == f"{source['release_id']}-export"
    for key in ("schema_version", "code_version", "jurisdiction", "privacy_rules", "privacy"):
        assert manifest[key] == source[key], key
    assert manifest["source_freshness"] == source["source_freshness"]


def test_bbox_and_since_keep_exactly_the_matching_rows(filtered: Path, release: Path) -> None:
    source = layers_of(read_manifest(release))
    exported = layers_of(read_manifest(filtered))

    want = expected_ids(read_layer(release, source["incidents"]), "incident_id", BOX, SINCE)
    got = [row["incident_id"] for row in read_layer(filtered, exported["incidents"])]
    assert len(got) == len(set(got))
    assert 0 < len(want) < source["incidents"]["rows"]
    assert set(got) == want
    assert exported["incidents"]["rows"] == len(want)
    # The filters are inclusive: rows on the box's edge and on the start date are kept.
    kept = read_layer(filtered, exported["incidents"])
    edge = shapely.box(*BOX).boundary
    assert any(shapely.intersects(geometry(row), edge) for row in kept)
    assert dt.date.fromisoformat(SINCE) in {row["occurred_date"] for row in kept}

    # A3's envelope overlaps the box (passes the covering prefilter) but its shape does not.
    areas = {row["area_id"] for row in read_layer(filtered, exported["areas"])}
    assert areas == {"A1", "A2"}
    assert areas == expected_ids(read_layer(release, source["areas"]), "area_id", BOX, None)


def test_manifest_recomputes_extent_and_notes_the_filters(filtered: Path) -> None:
    incidents = layers_of(read_manifest(filtered))["incidents"]
    rows = read_layer(filtered, incidents)
    dates = [row["occurred_date"] for row in rows]
    assert None not in dates
    assert incidents["time_extent"] == {
        "column": "occurred_date",
        "min": min(dates).isoformat(),
        "max": max(dates).isoformat(),
    }
    assert min(dates) >= dt.date.fromisoformat(SINCE)
    shapes = [geometry(row) for row in rows]
    assert None not in shapes
    xmin, ymin, xmax, ymax = incidents["bbox"]
    assert BOX[0] <= xmin <= xmax <= BOX[2] and BOX[1] <= ymin <= ymax <= BOX[3]
    assert incidents["geometry_types"] == ["Point"]
    # Only partitions that kept rows; the partition columns read back as before.
    partitions = {(row["year"], row["month"]) for row in rows}
    written = {
        tuple(int(part.split("=")[1]) for part in Path(file["path"]).parts[1:3])
        for file in incidents["files"]
    }
    assert written == partitions
    assert {c["name"]: c["type"] for c in incidents["columns"]}["year"] == "INTEGER"
    assert "intersects" in incidents["description"]
    assert "without a geometry" in incidents["description"]
    assert "on or after 2025-06-01" in incidents["description"]
    columns = {c["name"]: c.get("description") for c in incidents["columns"]}
    assert columns["incident_id"] == "Incident key"


def test_since_filters_tables_and_spares_layers_without_time(
    data_dir: Path, release: Path, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    result = export_release(
        data_dir / "published", target, layers=["area_counts", "areas"], since=dt.date(2025, 6, 1)
    )
    exported = layers_of(result.manifest)
    source = layers_of(read_manifest(release))
    counts = read_layer(target, exported["area_counts"])
    source_counts = read_layer(release, source["area_counts"])
    assert counts == [
        row for row in source_counts if row["month"] and row["month"] >= dt.date(2025, 6, 1)
    ]
    assert len(counts) == 6  # months 6..12 of 2025 minus the NULL one
    # areas has no time column: copied whole, NULL geometry included.
    assert read_layer(target, exported["areas"]) == read_layer(release, source["areas"])
    assert "no time column" in exported["areas"]["description"]


def test_bbox_copies_tables_whole(data_dir: Path, release: Path, tmp_path: Path) -> None:
    target = tmp_path / "out"
    result = export_release(data_dir / "published", target, layers=["area_counts"], bbox=BOX)
    counts = layers_of(result.manifest)["area_counts"]
    source = layers_of(read_manifest(release))["area_counts"]
    assert read_layer(target, counts) == read_layer(release, source)
    assert "does not apply" in counts["description"]


def test_export_without_filters_reproduces_every_layer(
    data_dir: Path, release: Path, tmp_path: Path
) -> None:
    target = tmp_path / "all"
    result = export_release(data_dir / "published", target)
    source = read_manifest(release)
    assert [layer["name"] for layer in result.manifest["layers"]] == [
        "incidents",
        "areas",
        "area_counts",
    ]
    assert result.manifest["export"]["bbox"] is None and result.manifest["export"]["since"] is None
    for name, layer in layers_of(result.manifest).items():
        original = layers_of(source)[name]
        for key in ("rows", "bbox", "time_extent", "geometry_types", "columns", "partitioning"):
            assert layer[key] == original[key], (name, key)
        key = {"incidents": "incident_id", "areas": "area_id"}.get(name)
        if key:
            assert sorted(r[key] for r in read_layer(target, layer)) == sorted(
                r[key] for r in read_layer(release, original)
            )
    assert [(r.name, r.rows, r.source_rows) for r in result.layers] == [
        ("incidents", 200, 200),
        ("areas", 5, 5),
        ("area_counts", 12, 12),
    ]


# --------------------------------------------------------------------------- files


def test_every_file_is_valid_and_matches_the_manifest(filtered: Path) -> None:
    manifest = read_manifest(filtered)
    assert validate_manifest(manifest) == []
    listed = set()
    for layer in manifest["layers"]:
        validate = validate_geoparquet if layer["spatial"] else validate_parquet_table
        for file in layer["files"]:
            path = filtered / file["path"]
            listed.add(path)
            data = path.read_bytes()
            assert hashlib.sha256(data).hexdigest() == file["sha256"]
            assert len(data) == file["bytes"]
            assert pq.ParquetFile(path).metadata.num_rows == file["rows"]
            assert validate(path) == []
    on_disk = {p for p in filtered.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert on_disk == listed


def test_geopandas_and_pyarrow_read_the_export(filtered: Path) -> None:
    layers = layers_of(read_manifest(filtered))
    areas = geopandas.read_parquet(filtered / "areas.parquet")
    incidents = geopandas.read_parquet(filtered / "incidents")
    for frame, layer in ((areas, layers["areas"]), (incidents, layers["incidents"])):
        assert frame.crs is not None and frame.crs.equals(CRS("EPSG:4326"), ignore_axis_order=True)
        assert len(frame) == layer["rows"]
        assert frame.geometry.notna().all()
    assert sorted(areas["area_id"]) == ["A1", "A2"]
    assert {"year", "month", "incident_id"} <= set(incidents.columns)
    assert pq.read_table(filtered / "incidents").num_rows == layers["incidents"]["rows"]


# --------------------------------------------------------------------------- refusals


def test_refuses_a_non_empty_directory_and_leaves_it_untouched(
    data_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "agency"
    (target / "old").mkdir(parents=True)
    (target / "old" / "report.csv").write_text("keep me\n")
    before = snapshot(target)
    with pytest.raises(ExportError, match="not empty"):
        export_release(data_dir / "published", target)
    assert snapshot(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agency"]  # no temp dir left


def test_refuses_a_file_and_accepts_an_empty_directory(data_dir: Path, tmp_path: Path) -> None:
    existing = tmp_path / "file"
    existing.write_text("x")
    with pytest.raises(ExportError, match="not a directory"):
        export_release(data_dir / "published", existing)
    assert existing.read_text() == "x"
    empty = tmp_path / "empty"
    empty.mkdir()
    export_release(data_dir / "published", empty, layers=["area_counts"])
    assert sorted(p.name for p in empty.iterdir()) == ["area_counts.parquet", "manifest.json"]


def test_refuses_a_directory_inside_the_published_tree(data_dir: Path) -> None:
    target = data_dir / "published" / "releases" / "mine"
    with pytest.raises(ExportError, match="inside the published directory"):
        export_release(data_dir / "published", target, layers=["area_counts"])
    assert not target.exists()


def test_unknown_layer_names_the_layer_and_lists_the_available_ones(
    data_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(ExportError) as caught:
        export_release(data_dir / "published", tmp_path / "out", layers=["areas", "crimes"])
    message = str(caught.value)
    assert "crimes" in message
    assert "available: incidents, areas, area_counts" in message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("1,2,3", "expected 4"),
        ("1,2,3,4,5", "expected 4"),
        ("-87.7,41.8,east,41.9", "xmax 'east' is not a number"),
        ("-87.6,41.8,-87.7,41.9", "xmin -87.6 must be less than xmax -87.7"),
        ("-87.7,41.9,-87.6,41.9", "ymin 41.9 must be less than ymax 41.9"),
        ("-190,41.8,-87.6,41.9", "xmin -190.0 is outside -180..180"),
        ("-87.7,41.8,-87.6,91", "ymax 91.0 is outside -90..90"),
        ("-87.7,nan,-87.6,41.9", "ymin is nan"),
    ],
)
def test_bad_bbox_names_the_problem(text: str, problem: str) -> None:
    with pytest.raises(ExportError, match="--bbox") as caught:
        parse_bbox(text)
    assert problem in str(caught.value)


@pytest.mark.parametrize("text", ["2025-13-01", "2025-6-1", "20250601", "June", "2025-02-30"])
def test_bad_since_is_refused(text: str) -> None:
    with pytest.raises(ExportError, match="--since"):
        parse_since(text)


def test_since_takes_a_day_or_a_month_as_quality_does() -> None:
    assert parse_since("2025-06-15") == date(2025, 6, 15)
    assert parse_since("2025-06") == date(2025, 6, 1)  # the same rule as `quality --since`


def test_a_partitioned_layer_left_empty_is_an_empty_readable_layer(
    data_dir: Path, release: Path, tmp_path: Path
) -> None:
    result = export_release(
        data_dir / "published", tmp_path / "out", layers=["incidents"], since=dt.date(2030, 1, 1)
    )
    incidents = layers_of(result.manifest)["incidents"]
    source = layers_of(json.loads((release / "manifest.json").read_text()))["incidents"]
    assert incidents["rows"] == 0 and len(incidents["files"]) == 1
    assert incidents["columns"] == source["columns"]  # the same schema, no rows
    assert read_layer(tmp_path / "out", incidents) == []
    assert validate_release_files(tmp_path / "out", [incidents]) == []


def test_a_single_file_layer_left_empty_is_written_empty(data_dir: Path, tmp_path: Path) -> None:
    result = export_release(
        data_dir / "published", tmp_path / "out", layers=["areas"], bbox=(10.0, 10.0, 11.0, 11.0)
    )
    areas = layers_of(result.manifest)["areas"]
    assert (areas["rows"], areas["bbox"], areas["geometry_types"]) == (0, None, [])
    assert validate_geoparquet(tmp_path / "out" / "areas.parquet") == []


def test_validation_failure_leaves_no_directory(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The export validates with the publisher's validator.
    monkeypatch.setattr(publish, "validate_geoparquet", lambda path: [f"{path}: bad bbox"])
    with pytest.raises(ExportError, match=r"layer areas: .*areas\.parquet: bad bbox"):
        export_release(data_dir / "published", tmp_path / "out", layers=["area_counts", "areas"])
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_release_is_not_exported(tmp_path: Path) -> None:
    published = tmp_path / "published"
    with connect() as con:
        release = publish_release(con, (COUNTS,), published, schema_version="1.0.0")
    path = release.path / "area_counts.parquet"
    path.write_bytes(path.read_bytes()[:-1] + b"\0")
    with pytest.raises(ExportError, match=r"area_counts\.parquet does not match"):
        export_release(published, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_nothing_published_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="nothing is published"):
        export_release(tmp_path / "published", tmp_path / "out")


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CLI exports its data paths to the environment; restore them after the test."""
    for name in ("CRIMEMAP_DATA_DIR", "DAGSTER_HOME", "CRIMEMAP_DUCKDB_EXTENSION_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "env" / name))


@pytest.mark.usefixtures("cli_env")
def test_cli_exports_and_reports_progress(
    data_dir: Path, release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "agency"
    code = main(
        [
            "export",
            "--layers",
            "incidents,area_counts",
            f"--bbox={','.join(map(str, BOX))}",
            "--since",
            SINCE,
            "--to",
            str(target),
            "--data-dir",
            str(data_dir),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    manifest = read_manifest(target)
    rows = {layer["name"]: layer["rows"] for layer in manifest["layers"]}
    assert rows["area_counts"] == 6
    assert f"incidents: {rows['incidents']:,} of 200 rows" in out
    assert "area_counts: 6 of 12 rows" in out
    assert f"{sum(rows.values()):,} rows" in out
    assert str(target) in out
    assert manifest["export"]["layers"] == ["incidents", "area_counts"]
    assert validate_manifest(json.loads((target / "manifest.json").read_text())) == []


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--layers", "nope"], "no layer(s) nope; available: incidents, areas, area_counts"),
        (["--bbox", "1,2,3"], "--bbox '1,2,3': expected 4"),
        (["--since", "2025-02-30"], "--since '2025-02-30'"),
    ],
)
def test_cli_errors_are_clear_and_write_nothing(
    data_dir: Path, tmp_path: Path, arguments: list[str], message: str
) -> None:
    target = tmp_path / "agency"
    argv = ["export", *arguments, "--to", str(target), "--data-dir", str(data_dir)]
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert str(caught.value).startswith("crimemap: ")
    assert message in str(caught.value)
    assert not target.exists()


@pytest.mark.usefixtures("cli_env")
def test_cli_says_when_nothing_is_published(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"crimemap: .*nothing is published"):
        main(["export", "--to", str(tmp_path / "out"), "--data-dir", str(tmp_path / "empty")])

"""GeoParquet 1.1 writer and validator, on small layers built with DuckDB."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyproj import CRS

from crimemap.warehouse import geoparquet
from crimemap.warehouse.geoparquet import (
    MAX_ROW_GROUP_ROWS,
    validate_geoparquet,
    write_geoparquet,
    write_parquet_table,
    writer_identity,
)

# 60 points scattered over a few city blocks; every 7th incident is sensitive (no point).
POINTS = """
    SELECT i AS incident_id,
           'offense_' || (i % 4) AS offense,
           CASE WHEN i % 7 = 0 THEN NULL
                ELSE ST_Point(-87.70 + ((i * 37) % 60) * 0.001, 41.80 + ((i * 11) % 45) * 0.001)
           END AS geometry
    FROM range(60) AS t(i)
"""

# Tracts: polygons and multipolygons, one without geometry.
POLYGONS = """
    SELECT i AS tract_id,
           CASE WHEN i = 3 THEN NULL
                WHEN i % 2 = 0 THEN ST_Buffer(ST_Point(-87.7 + i * 0.01, 41.8), 0.004)
                ELSE ST_Collect([ST_Buffer(ST_Point(-87.7 + i * 0.01, 41.9), 0.002),
                                 ST_Buffer(ST_Point(-87.7 + i * 0.01, 41.95), 0.002)])
           END AS geom
    FROM range(8) AS t(i)
"""


@pytest.fixture
def points_file(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> Path:
    path = tmp_path / "incidents.parquet"
    write_geoparquet(con, POINTS, path, row_group_size=16)
    return path


@pytest.fixture
def polygons_file(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> Path:
    path = tmp_path / "tracts.parquet"
    write_geoparquet(con, POLYGONS, path, geometry_column="geom")
    return path


def geo_of(path: Path) -> dict[str, Any]:
    return json.loads(pq.read_schema(path).metadata[b"geo"])


def rewrite(
    src: Path,
    dst: Path,
    mutate_geo: Callable[[dict[str, Any]], None] | None = None,
    transform: Callable[[pa.Table], pa.Table] | None = None,
    **write_options: Any,
) -> Path:
    """Copy a GeoParquet file, optionally breaking its metadata, data or layout."""
    table = pq.read_table(src)
    geo = json.loads(table.schema.metadata[b"geo"])
    if transform:
        table = transform(table)
    if mutate_geo:
        mutate_geo(geo)
    table = table.replace_schema_metadata({"geo": json.dumps(geo)})
    pq.write_table(table, dst, **({"compression": "zstd"} | write_options))
    return dst


# --------------------------------------------------------------------------- writer


def test_point_layer_metadata_is_geoparquet_1_1(points_file: Path) -> None:
    geo = geo_of(points_file)
    assert geo["version"] == "1.1.0"
    assert geo["primary_column"] == "geometry"
    column = geo["columns"]["geometry"]
    assert column["encoding"] == "WKB"
    assert column["geometry_types"] == ["Point"]
    assert column["crs"] == CRS("OGC:CRS84").to_json_dict()
    assert column["covering"] == {
        "bbox": {f: ["bbox", f] for f in ("xmin", "ymin", "xmax", "ymax")}
    }
    xmin, ymin, xmax, ymax = column["bbox"]
    assert -87.70 <= xmin < xmax <= -87.64 and 41.80 <= ymin < ymax <= 41.845

    schema = pq.read_schema(points_file)
    assert pa.types.is_binary(schema.field("geometry").type)
    assert schema.field("bbox").type == pa.struct(
        [(f, pa.float64()) for f in ("xmin", "ymin", "xmax", "ymax")]
    )


def test_point_layer_round_trips_through_duckdb(
    con: duckdb.DuckDBPyConnection, points_file: Path
) -> None:
    expected = con.execute(
        f"SELECT incident_id, offense, ST_AsText(geometry) FROM ({POINTS}) ORDER BY 1"
    ).fetchall()
    actual = con.execute(
        f"SELECT incident_id, offense, ST_AsText(geometry) FROM read_parquet('{points_file}')"
        " ORDER BY 1"
    ).fetchall()
    assert actual == expected
    assert sum(1 for row in actual if row[2] is None) == 9
    (geometry_type,) = con.execute(
        f"SELECT DISTINCT typeof(geometry) FROM read_parquet('{points_file}')"
    ).fetchone()
    assert geometry_type.startswith("GEOMETRY")


def test_polygon_layer_round_trips_with_nulls_and_bbox_covering(
    con: duckdb.DuckDBPyConnection, polygons_file: Path
) -> None:
    column = geo_of(polygons_file)["columns"]["geom"]
    assert column["geometry_types"] == ["MultiPolygon", "Polygon"]
    rows = con.execute(
        f"""SELECT f.tract_id, ST_Equals(f.geom, s.geom),
                   f.bbox = {{'xmin': ST_XMin(s.geom), 'ymin': ST_YMin(s.geom),
                              'xmax': ST_XMax(s.geom), 'ymax': ST_YMax(s.geom)}},
                   f.geom IS NULL, f.bbox IS NULL
            FROM read_parquet('{polygons_file}') f JOIN ({POLYGONS}) s USING (tract_id)
            ORDER BY 1"""
    ).fetchall()
    assert len(rows) == 8
    for tract_id, same_geometry, same_bbox, geom_null, bbox_null in rows:
        if tract_id == 3:
            assert geom_null and bbox_null
        else:
            assert same_geometry and same_bbox
    (extent,) = con.execute(
        f"SELECT [min(ST_XMin(geom)), min(ST_YMin(geom)), max(ST_XMax(geom)), "
        f"max(ST_YMax(geom))] FROM ({POLYGONS})"
    ).fetchone()
    assert column["bbox"] == extent


def test_rows_follow_the_hilbert_curve_with_null_geometries_last(
    con: duckdb.DuckDBPyConnection, points_file: Path
) -> None:
    rows = con.execute(
        f"""WITH f AS (SELECT * FROM read_parquet('{points_file}', file_row_number = true)),
                 ext AS (SELECT ST_Extent(ST_Extent_Agg(geometry)) AS box FROM f)
            SELECT ST_Hilbert(geometry, ext.box) FROM f, ext ORDER BY file_row_number"""
    ).fetchall()
    keys = [key for (key,) in rows]
    located = [k for k in keys if k is not None]
    assert keys == located + [None] * 9
    assert located == sorted(located)
    assert len(set(located)) > 10  # the curve really spreads the points


def test_output_is_byte_stable_whatever_the_input_order(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    a = write_geoparquet(con, POINTS + " ORDER BY i", tmp_path / "a.parquet")
    b = write_geoparquet(con, POINTS + " ORDER BY i DESC", tmp_path / "b.parquet")
    assert a.sha256 == b.sha256
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_stats_describe_the_written_file(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "incidents.parquet"
    stats = write_geoparquet(con, POINTS, path)
    assert stats.path == path
    assert stats.rows == 60
    assert stats.geometry_types == ("Point",)
    assert list(stats.bbox) == geo_of(path)["columns"]["geometry"]["bbox"]
    assert stats.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert stats.bytes == path.stat().st_size


def test_row_groups_and_compression(points_file: Path) -> None:
    metadata = pq.read_metadata(points_file)
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    assert sizes == [16, 16, 16, 12]
    codecs = {
        metadata.row_group(i).column(j).compression
        for i in range(metadata.num_row_groups)
        for j in range(metadata.row_group(i).num_columns)
    }
    assert codecs == {"ZSTD"}


def test_all_null_geometries_give_an_empty_type_list_and_no_bbox(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "sensitive.parquet"
    stats = write_geoparquet(
        con, "SELECT 1 AS n, NULL::GEOMETRY AS geometry UNION ALL SELECT 2, NULL", path
    )
    assert (stats.rows, stats.bbox, stats.geometry_types) == (2, None, ())
    column = geo_of(path)["columns"]["geometry"]
    assert column["geometry_types"] == [] and "bbox" not in column
    assert validate_geoparquet(path) == []


@pytest.mark.parametrize(
    ("query", "kwargs", "error"),
    [
        ("SELECT 1 AS id, 'POINT (1 2)' AS geometry", {}, TypeError),
        ("SELECT 1 AS id, ST_Point(1, 2) AS geom", {}, ValueError),
        ("SELECT ST_Point(1, 2) AS geometry, 0 AS bbox", {}, ValueError),
        ("SELECT ST_Point(1, 2) AS geometry, ST_Point(3, 4) AS other", {}, ValueError),
        ("SELECT ST_SetCRS(ST_Point(1, 2), 'EPSG:3857') AS geometry", {}, ValueError),
        (
            "SELECT ST_Point(1, 2) AS geometry",
            {"row_group_size": MAX_ROW_GROUP_ROWS + 1},
            ValueError,
        ),
    ],
)
def test_writer_rejects_bad_input(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, query: str, kwargs: dict, error: type
) -> None:
    with pytest.raises(error):
        write_geoparquet(con, query, tmp_path / "x.parquet", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_previous_file_and_leaves_no_temp_files(
    con: duckdb.DuckDBPyConnection, points_file: Path
) -> None:
    before = points_file.read_bytes()
    failing = "SELECT ST_Point(1, 2) AS geometry, error('source went away') AS x"
    with pytest.raises(duckdb.Error, match="source went away"):
        write_geoparquet(con, failing, points_file)
    assert points_file.read_bytes() == before
    assert [p.name for p in points_file.parent.iterdir()] == [points_file.name]
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone() == (0,)


def test_write_parquet_table(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "counts.parquet"
    stats = write_parquet_table(
        con, "SELECT i AS cell, i * 5 AS n FROM range(40) t(i) ORDER BY i;", path, row_group_size=25
    )
    assert stats.rows == 40
    assert stats.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    metadata = pq.read_metadata(path)
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [25, 15]
    assert metadata.row_group(0).column(0).compression == "ZSTD"
    assert pq.read_table(path).column("n").to_pylist() == [i * 5 for i in range(40)]


# --------------------------------------------------------------------------- validator


def test_validator_accepts_written_files(points_file: Path, polygons_file: Path) -> None:
    assert validate_geoparquet(points_file) == []
    assert validate_geoparquet(polygons_file) == []


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Mutator setting a dotted key of the ``geo`` metadata."""

    def mutate(geo: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target = geo
        for key in parents:
            target = target[key]
        target[leaf] = value

    return mutate


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(geo: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target = geo
        for key in parents:
            target = target[key]
        del target[leaf]

    return mutate


def _shift_first_covering(table: pa.Table) -> pa.Table:
    boxes = table.column("bbox").to_pylist()
    boxes[0] = {"xmin": 0.0, "ymin": 0.0, "xmax": 1.0, "ymax": 1.0}
    index = table.schema.get_field_index("bbox")
    return table.set_column(index, "bbox", pa.array(boxes, table.schema.field("bbox").type))


@pytest.mark.parametrize(
    ("mutate_geo", "transform", "expected"),
    [
        (_set("version", "1.0.0"), None, "geo.version is '1.0.0'"),
        (_set("primary_column", "geom"), None, "geo.primary_column 'geom'"),
        (_set("columns.geometry.encoding", "WKT"), None, "geo.columns.geometry.encoding"),
        (_set("columns.geometry.geometry_types", ["point"]), None, "invalid names ['point']"),
        (_set("columns.geometry.geometry_types", ["Polygon"]), None, "omits ['Point']"),
        (_set("columns.geometry.crs", "EPSG:4326"), None, "geo.columns.geometry.crs"),
        (_set("columns.geometry.crs", {"type": "Nonsense"}), None, "not valid PROJJSON"),
        (_set("columns.geometry.crs", None), None, "unknown CRS"),
        (_set("columns.geometry.bbox", [0, 0, 1, 1]), None, "does not contain the data extent"),
        (_set("columns.geometry.bbox", [1, 2, 3]), None, "geo.columns.geometry.bbox"),
        (_delete("columns.geometry.covering"), None, "covering.bbox: missing"),
        (None, lambda t: t.drop_columns(["bbox"]), "covering column 'bbox' does not exist"),
        (None, _shift_first_covering, "does not contain the geometry (first at row 0)"),
        (None, lambda t: t.drop_columns(["geometry"]), "not in the file schema"),
    ],
)
def test_validator_names_the_problem(
    points_file: Path,
    tmp_path: Path,
    mutate_geo: Callable[[dict[str, Any]], None] | None,
    transform: Callable[[pa.Table], pa.Table] | None,
    expected: str,
) -> None:
    bad = rewrite(points_file, tmp_path / "bad.parquet", mutate_geo, transform)
    problems = validate_geoparquet(bad)
    assert any(expected in p for p in problems), problems
    assert all(p.startswith(str(bad)) for p in problems)


def test_validator_reports_missing_geo_metadata(points_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "plain.parquet"
    table = pq.read_table(points_file).replace_schema_metadata(None)
    pq.write_table(table, bad, compression="zstd")
    assert validate_geoparquet(bad) == [f"{bad}: no 'geo' key in the Parquet file metadata"]


def test_validator_reports_invalid_json(points_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "garbled.parquet"
    table = pq.read_table(points_file).replace_schema_metadata({"geo": "{not json"})
    pq.write_table(table, bad, compression="zstd")
    assert "'geo' metadata is not valid JSON" in validate_geoparquet(bad)[0]


def test_validator_reports_compression_other_than_zstd(points_file: Path, tmp_path: Path) -> None:
    bad = rewrite(points_file, tmp_path / "snappy.parquet", compression="snappy")
    problems = validate_geoparquet(bad)
    assert len(problems) == 1
    assert problems[0].startswith(f"{bad}: columns ['incident_id', 'offense', 'geometry',")
    assert problems[0].endswith("are compressed with SNAPPY, not ZSTD")


def test_validator_reports_row_groups_over_128k(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    many = f"""SELECT i AS id, ST_Point(-87.7 + (i % 1000) * 0.0001, 41.8 + (i // 1000) * 0.0001)
               AS geometry FROM range({MAX_ROW_GROUP_ROWS + 10}) AS t(i)"""
    good = tmp_path / "many.parquet"
    write_geoparquet(con, many, good, row_group_size=MAX_ROW_GROUP_ROWS)
    assert validate_geoparquet(good) == []
    bad = rewrite(good, tmp_path / "big_groups.parquet", row_group_size=MAX_ROW_GROUP_ROWS + 10)
    problems = validate_geoparquet(bad)
    assert f"{bad}: row group 0 has {MAX_ROW_GROUP_ROWS + 10} rows (max {MAX_ROW_GROUP_ROWS})" in (
        problems
    )


def test_validator_reports_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "not.parquet"
    bad.write_text("hello")
    assert "not a readable Parquet file" in validate_geoparquet(bad)[0]


def test_geometry_with_a_matching_crs_type_is_accepted(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    query = "SELECT ST_SetCRS(ST_Point(-87.6, 41.8), 'EPSG:4326') AS geometry"
    assert write_geoparquet(con, query, tmp_path / "x.parquet").rows == 1
    assert geoparquet.column_crs("GEOMETRY('OGC:CRS84')") == "OGC:CRS84"
    assert geoparquet.column_crs("GEOMETRY") is None


def test_geometry_type_names() -> None:
    assert geoparquet.geoparquet_type_name("MULTIPOLYGON Z") == "MultiPolygon Z"
    assert geoparquet.geoparquet_type_name("GEOMETRYCOLLECTION") == "GeometryCollection"
    with pytest.raises(ValueError, match="M coordinates"):
        geoparquet.geoparquet_type_name("POINT M")


# The bytes each writer gives for the same rows, under the identity that names them. A release
# links a file of the last one when the rows and ``writer_identity()`` are the same, so a
# change to the writers that changes these bytes must bump ``WRITER_REVISION`` (and record the
# new bytes here); a new pyarrow or DuckDB changes the identity by itself.
WRITER_BYTES = {
    "crimemap writers r1; GeoParquet 1.1.0 OGC:CRS84; zstd; pyarrow 26.0.1; duckdb 1.5.5": (
        "2a4a29251f7a2b550426451a52a7de8700187a14d11d290340d3f0dc2124dc7c",
        "b26fd7275e85029fca85e466982e791a0fd45ddd7d5a3818d3eb71d9d043c078",
        "4f71e0c1cd4ef126f78c3ff565e2d75bb1ed21e102480b42ab3d96e4a04dad79",
    ),
}


def test_the_writer_identity_names_the_bytes_written(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    table = f"SELECT incident_id, offense FROM ({POINTS}) ORDER BY incident_id"
    written = (
        write_geoparquet(con, POINTS, tmp_path / "points.parquet").sha256,
        write_geoparquet(con, POLYGONS, tmp_path / "tracts.parquet", geometry_column="geom").sha256,
        write_parquet_table(con, table, tmp_path / "table.parquet").sha256,
    )
    assert WRITER_BYTES.get(writer_identity()) == written, (
        f"the writers' bytes under {writer_identity()!r} are {written}: bump WRITER_REVISION "
        "if the writers changed, and record the bytes here"
    )

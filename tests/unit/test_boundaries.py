"""Area boundaries end to end on tiny real files: GeoJSON, shapefiles (plain and zipped) and CSV
with WKT, landed with ``land_boundaries`` and split with ``split_boundaries`` in DuckDB spatial.

Reprojected coordinates are checked against an independent transformation (pyproj when it is
installed, else DuckDB's own ``ST_Transform`` of the published points)."""

from __future__ import annotations

import csv
import json
import zipfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from pyproj import Transformer

from crimemap.core.sql import sql_literal
from crimemap.ingestion.boundaries import (
    SOURCE_CRS_COLUMN,
    WGS84,
    BoundaryError,
    BoundarySpec,
    boundary_format,
    crs_from_name,
    land_boundaries,
    parse_boundary_spec,
)
from crimemap.ingestion.surveys import area_key_sql as survey_area_key_sql
from crimemap.ingestion.surveys import normalize_area_id
from crimemap.quality.boundaries import (
    CONFORMED_AREA_COLUMNS,
    area_key_sql,
    repaired_area_changes,
    split_boundaries,
)
from crimemap.quality.rules import REASON_CODES_COLUMN, REASON_COLUMN, SplitResult

INGESTED_AT = datetime(2024, 6, 1, tzinfo=UTC)
LOAD_ID = "load-1"
TOLERANCE_DEG = 1e-7
STATE_PLANE = "EPSG:2926"  # NAD83(HARN) / Washington North, US survey feet
UTM_10N = "EPSG:32610"  # WGS 84 / UTM zone 10N, metres
# Two adjacent State Plane squares (5,000 ft) in Seattle sharing the edge x = 1,275,000.
SP_WEST = (1_270_000.0, 250_000.0, 1_275_000.0, 255_000.0)
SP_EAST = (1_275_000.0, 250_000.0, 1_280_000.0, 255_000.0)
# A 1 km UTM square in Seattle.
UTM_SQUARE = (550_000.0, 5_270_000.0, 551_000.0, 5_271_000.0)
# Two adjacent 0.05° squares sharing the edge lon = -122.35.
WEST = (-122.40, 47.60, -122.35, 47.65)
EAST = (-122.35, 47.60, -122.30, 47.65)
GEOID_A, GEOID_B = "53033000100", "53033000200"
# A custom projection no authority code names (the kind of .prj a county GIS shop exports).
CUSTOM_PROJ = (
    "+proj=lcc +lat_0=47 +lon_0=-121 +lat_1=48 +lat_2=47.5 +x_0=500000 +y_0=0 "
    "+ellps=GRS80 +units=m +no_defs"
)


# --- fixtures and builders ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    from crimemap.core.duckdb_spatial import connect

    connection = connect(extension_directory=tmp_path_factory.mktemp("duckdb_extensions"))
    yield connection
    connection.close()


def ring(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def polygon(box: Sequence[float]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring(*box)]}


def polygon_wkt(box: Sequence[float]) -> str:
    return "POLYGON ((" + ", ".join(f"{x!r} {y!r}" for x, y in ring(*box)) + "))"


def corners(box: Sequence[float]) -> list[tuple[float, float]]:
    x0, y0, x1, y1 = box
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def write_geojson(
    path: Path,
    features: list[tuple[dict[str, Any], dict[str, Any] | None]],
    crs: Any = None,
) -> Path:
    doc: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": props, "geometry": geom} for props, geom in features
        ],
    }
    if crs is not None:
        doc["crs"] = {"type": "name", "properties": {"name": crs}} if isinstance(crs, str) else crs
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_shapefile(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    rows: list[tuple[str, str, str]],
    srs: str | None = STATE_PLANE,
) -> Path:
    """A shapefile of (GEOID, NAME, WKT) rows written by GDAL, its .prj declaring ``srs``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    values = ", ".join(
        f"({i}, {sql_literal(g)}, {sql_literal(n)}, {sql_literal(w)})"
        for i, (g, n, w) in enumerate(rows)
    )
    options = "FORMAT GDAL, DRIVER 'ESRI Shapefile'"
    if srs:
        options += f", SRS {sql_literal(srs)}"
    con.execute(
        "COPY (SELECT GEOID, NAME, ST_GeomFromText(wkt) AS geom "
        f"FROM (VALUES {values}) AS t(i, GEOID, NAME, wkt) ORDER BY i) "
        f"TO {sql_literal(str(path))} ({options})"
    )
    return path


def zip_shapefile(shp: Path, archive: Path, folder: str = "layers/areas") -> Path:
    """Zip every sidecar of ``shp`` into ``folder`` inside ``archive``."""
    with zipfile.ZipFile(archive, "w") as zf:
        for sidecar in sorted(shp.parent.glob(f"{shp.stem}.*")):
            zf.write(sidecar, f"{folder}/{sidecar.name}")
    return archive


def spec_of(**mapping: Any) -> BoundarySpec:
    """Census tracts keyed as GEOIDs (the sample city's boundaries); ``id_kind`` overrides."""
    return parse_boundary_spec(
        {"id_field": "GEOID", "name_field": "NAME", "id_kind": "geoid", **mapping}, "areas"
    )


def land(
    con: duckdb.DuckDBPyConnection, source: Path, spec: BoundarySpec, dest: Path | None = None
) -> Path:
    dest = dest or source.parent / "raw" / "areas.parquet"
    result = land_boundaries(source, dest, spec, load_id=LOAD_ID, con=con, ingested_at=INGESTED_AT)
    assert result.path == dest
    return dest


def split(con: duckdb.DuckDBPyConnection, raw: Path, spec: BoundarySpec) -> SplitResult:
    out = raw.parent.parent
    result = split_boundaries(
        con,
        spec,
        raw_parquet=raw,
        quarantine_path=out / "quarantine" / "areas.parquet",
        conformed_path=out / "conformed" / "areas.parquet",
    )
    assert result.balanced
    return result


def run(
    con: duckdb.DuckDBPyConnection, source: Path, spec: BoundarySpec | None = None
) -> SplitResult:
    spec = spec or spec_of()
    return split(con, land(con, source, spec), spec)


def conformed(con: duckdb.DuckDBPyConnection, result: SplitResult) -> dict[str, dict[str, Any]]:
    """Conformed rows by area_id, with the geometry as WKT, GeoJSON, area and type added."""
    assert result.clean_path is not None
    rel = con.execute(
        "SELECT *, ST_AsText(g) AS wkt, ST_AsGeoJSON(g) AS geojson, ST_Area(g) AS area, "
        "ST_GeometryType(g) AS geom_type, ST_IsValid(g) AS valid FROM ("
        f"SELECT *, ST_GeomFromWKB(geom_wkb) AS g "
        f"FROM read_parquet({sql_literal(str(result.clean_path))})) ORDER BY area_id"
    )
    names = [c[0] for c in rel.description]
    rows = [dict(zip(names, row, strict=True)) for row in rel.fetchall()]
    return {row["area_id"]: row for row in rows}


def quarantined(con: duckdb.DuckDBPyConnection, result: SplitResult) -> dict[int, list[str]]:
    """Reason codes of every quarantined row, by ``_row_number``."""
    return dict(
        con.execute(
            f"SELECT _row_number, {REASON_CODES_COLUMN} "
            f"FROM read_parquet({sql_literal(str(result.quarantine_path))}) ORDER BY _row_number"
        ).fetchall()
    )


def vertices(geojson: str) -> set[tuple[float, float]]:
    """Every distinct vertex of a GeoJSON (Multi)Polygon."""

    def walk(coords: Any) -> Iterator[tuple[float, float]]:
        if coords and isinstance(coords[0], int | float):
            yield (float(coords[0]), float(coords[1]))
        else:
            for item in coords:
                yield from walk(item)

    return set(walk(json.loads(geojson)["coordinates"]))


def to_lonlat(crs: str, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The published points in lon/lat by pyproj, a reference independent of DuckDB."""
    transformer = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return [transformer.transform(x, y) for x, y in points]


def assert_same_vertices(
    actual: set[tuple[float, float]], expected: list[tuple[float, float]]
) -> None:
    assert len(actual) == len(expected), (sorted(actual), expected)
    for ex, ey in expected:
        nearest = min(max(abs(ax - ex), abs(ay - ey)) for ax, ay in actual)
        assert nearest <= TOLERANCE_DEG, f"no vertex within {TOLERANCE_DEG}° of ({ex}, {ey})"


def raw_frame(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path)


# --- GeoJSON and CRS declarations --------------------------------------------------------------


def test_geojson_in_wgs84_lands_as_strings_and_passes_coordinates_through(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    source = write_geojson(
        tmp_path / "tracts.geojson",
        [
            ({"GEOID": GEOID_A, "NAME": "Tract 1", "POP": 4012}, polygon(WEST)),
            ({"GEOID": GEOID_B, "NAME": "Tract 2", "POP": 3870}, polygon(EAST)),
        ],
    )
    raw = land(con, source, spec_of())
    frame = raw_frame(raw)
    assert frame.columns == [
        "GEOID",
        "NAME",
        "POP",
        "geometry",
        "_source_file",
        "_row_number",
        "_ingested_at",
        "_load_id",
        SOURCE_CRS_COLUMN,
    ]
    assert frame["POP"].to_list() == ["4012", "3870"]  # every attribute a string
    assert frame[SOURCE_CRS_COLUMN].to_list() == [WGS84, WGS84]
    assert json.loads(frame["geometry"][0]) == polygon(WEST)

    result = split(con, raw, spec_of())
    assert (result.raw_rows, result.clean_rows, result.quarantined_rows) == (2, 2, 0)
    areas = conformed(con, result)
    assert list(areas) == [GEOID_A, GEOID_B]
    west = areas[GEOID_A]
    assert vertices(west["geojson"]) == set(corners(WEST))  # no transformation at all
    assert west["area"] == pytest.approx(0.05 * 0.05, rel=1e-12)
    assert (west["area_name"], west["source_crs"], west["geometry_repaired"]) == (
        "Tract 1",
        WGS84,
        False,
    )


@pytest.mark.parametrize(
    "declaration",
    [
        "urn:ogc:def:crs:EPSG::2926",
        "urn:ogc:def:crs:EPSG:6.3:2926",
        "EPSG:2926",
        "http://www.opengis.net/def/crs/EPSG/0/2926",
        {"type": "EPSG", "properties": {"code": 2926}},
    ],
)
def test_geojson_legacy_crs_member_is_reprojected_from_state_plane(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, declaration: Any
) -> None:
    source = write_geojson(
        tmp_path / "tracts.geojson",
        [({"GEOID": GEOID_A, "NAME": "Tract 1"}, polygon(SP_WEST))],
        crs=declaration,
    )
    raw = land(con, source, spec_of())
    assert raw_frame(raw)[SOURCE_CRS_COLUMN].to_list() == [STATE_PLANE]
    area = conformed(con, split(con, raw, spec_of()))[GEOID_A]
    assert area["source_crs"] == STATE_PLANE
    assert_same_vertices(vertices(area["geojson"]), to_lonlat(STATE_PLANE, corners(SP_WEST)))
    # Sanity: Seattle, not the feet read as degrees.
    lon, lat = next(iter(vertices(area["geojson"])))
    assert -122.5 < lon < -122.2 and 47.5 < lat < 47.8


def test_yaml_crs_overrides_the_file_declaration(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # The file claims lon/lat (CRS84) but holds State Plane feet: only the YAML's crs saves it.
    source = write_geojson(
        tmp_path / "tracts.geojson",
        [({"GEOID": GEOID_A, "NAME": "Tract 1"}, polygon(SP_WEST))],
        crs="urn:ogc:def:crs:OGC:1.3:CRS84",
    )
    as_declared = run(con, source)
    assert as_declared.clean_rows == 0
    assert quarantined(con, as_declared) == {1: ["geometry_invalid"]}

    spec = spec_of(crs="epsg:2926")
    assert spec.crs == STATE_PLANE
    raw = land(con, source, spec)
    assert raw_frame(raw)[SOURCE_CRS_COLUMN].to_list() == [STATE_PLANE]
    area = conformed(con, split(con, raw, spec))[GEOID_A]
    assert_same_vertices(vertices(area["geojson"]), to_lonlat(STATE_PLANE, corners(SP_WEST)))


def test_yaml_crs_wgs84_overrides_a_wrong_projected_declaration(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    source = write_geojson(
        tmp_path / "tracts.geojson",
        [({"GEOID": GEOID_A, "NAME": "Tract 1"}, polygon(WEST))],
        crs="urn:ogc:def:crs:EPSG::2926",
    )
    area = conformed(con, run(con, source, spec_of(crs="EPSG:4326")))[GEOID_A]
    assert area["source_crs"] == WGS84
    assert vertices(area["geojson"]) == set(corners(WEST))


def test_unreadable_crs_declaration_is_an_error_not_wgs84(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    source = write_geojson(
        tmp_path / "odd.geojson",
        [({"GEOID": GEOID_A, "NAME": "Tract 1"}, polygon(SP_WEST))],
        crs={"type": "link", "properties": {"href": "http://example.com/crs/42"}},
    )
    dest = tmp_path / "raw" / "areas.parquet"
    with pytest.raises(BoundaryError, match=r"odd\.geojson: cannot read the file's crs") as err:
        land(con, source, spec_of(), dest)
    assert "crs" in str(err.value) and "jurisdiction YAML" in str(err.value)
    assert not dest.exists()
    # The YAML's crs makes the declaration irrelevant.
    area = conformed(con, run(con, source, spec_of(crs=STATE_PLANE)))[GEOID_A]
    assert area["source_crs"] == STATE_PLANE


@pytest.mark.parametrize("document", ["[1, 2]", '{"type": "FeatureCollection", "crs": 7}'])
def test_malformed_geojson_is_reported_by_the_lander_not_a_crash(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, document: str
) -> None:
    source = tmp_path / "bad.geojson"
    source.write_text(document, encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.geojson"):
        land(con, source, spec_of())


@pytest.mark.parametrize(
    ("name", "crs"),
    [
        ("urn:ogc:def:crs:OGC:1.3:CRS84", WGS84),
        ("urn:ogc:def:crs:OGC::CRS84", WGS84),
        ("OGC:CRS84", WGS84),
        ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", WGS84),
        ("urn:ogc:def:crs:EPSG::4326", WGS84),
        ("urn:ogc:def:crs:EPSG::2926", STATE_PLANE),
        ("urn:ogc:def:crs:epsg:7.1:32610", UTM_10N),
        ("epsg:2926", STATE_PLANE),
        ("urn:ogc:def:crs:ESRI::102749", "ESRI:102749"),
        ("http://www.opengis.net/def/crs/EPSG/0/2926", STATE_PLANE),
        ("NAD83 / Washington North", None),
        ("", None),
    ],
)
def test_crs_from_name(name: str, crs: str | None) -> None:
    assert crs_from_name(name) == crs


# --- shapefiles --------------------------------------------------------------------------------


def state_plane_shapefile(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    return write_shapefile(
        con,
        path,
        [
            (GEOID_A, "Tract 1", polygon_wkt(SP_WEST)),
            (GEOID_B, "Tract 2", polygon_wkt(SP_EAST)),
        ],
    )


def assert_state_plane_tracts(
    con: duckdb.DuckDBPyConnection, result: SplitResult, source_name: str
) -> None:
    assert (result.raw_rows, result.clean_rows, result.quarantined_rows) == (2, 2, 0)
    areas = conformed(con, result)
    assert list(areas) == [GEOID_A, GEOID_B]
    for area_id, box, name, row in (
        (GEOID_A, SP_WEST, "Tract 1", 1),
        (GEOID_B, SP_EAST, "Tract 2", 2),
    ):
        area = areas[area_id]
        assert (
            area["area_name"],
            area["source_crs"],
            area["_source_file"],
            area["_row_number"],
        ) == (
            name,
            STATE_PLANE,
            source_name,
            row,
        )
        assert_same_vertices(vertices(area["geojson"]), to_lonlat(STATE_PLANE, corners(box)))


def test_shapefile_prj_crs_is_detected_and_reprojected(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    shp = state_plane_shapefile(con, tmp_path / "shp" / "tracts.shp")
    assert "Washington_North" in shp.with_suffix(".prj").read_text()
    raw = land(con, shp, spec_of())
    frame = raw_frame(raw)
    assert frame["GEOID"].to_list() == [GEOID_A, GEOID_B]  # in published order
    assert frame[SOURCE_CRS_COLUMN].to_list() == [STATE_PLANE, STATE_PLANE]
    assert frame["geometry"][0].startswith("POLYGON")  # WKT, in the source CRS (feet)
    assert "1270000" in frame["geometry"][0]
    assert_state_plane_tracts(con, split(con, raw, spec_of()), "tracts.shp")


def test_zipped_shapefile_in_a_subfolder_reads_like_the_shp(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    shp = state_plane_shapefile(con, tmp_path / "shp" / "tracts.shp")
    archive = zip_shapefile(shp, tmp_path / "tracts_2020.zip")
    # macOS adds resource forks beside the real files; they are not a second layer.
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("__MACOSX/layers/areas/._tracts.shp", b"\x00\x05\x16\x07")
    raw = land(con, archive, spec_of())
    assert raw_frame(raw)[SOURCE_CRS_COLUMN].to_list() == [STATE_PLANE, STATE_PLANE]
    assert_state_plane_tracts(con, split(con, raw, spec_of()), "tracts_2020.zip")


@pytest.mark.parametrize("shapes", [0, 2])
def test_zip_without_exactly_one_shapefile_is_an_error_naming_it(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, shapes: int
) -> None:
    archive = tmp_path / "county_layers.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "boundaries")
        for i in range(shapes):
            shp = state_plane_shapefile(con, tmp_path / f"shp{i}" / f"layer{i}.shp")
            for sidecar in shp.parent.iterdir():
                zf.write(sidecar, f"data/{sidecar.name}")
    dest = tmp_path / "raw" / "areas.parquet"
    with pytest.raises(BoundaryError, match=r"county_layers\.zip: expected exactly one \.shp"):
        land(con, archive, spec_of(), dest)
    assert not dest.exists()


def test_a_zip_that_is_not_a_zip_is_an_error_naming_it(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"not a zip archive")
    with pytest.raises(BoundaryError, match=r"broken\.zip: not a readable zip"):
        land(con, archive, spec_of())


def test_shapefile_with_a_custom_prj_is_reprojected_from_its_wkt(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    box = (0.0, 0.0, 1000.0, 1000.0)  # metres from the projection's false origin
    shp = write_shapefile(
        con, tmp_path / "shp" / "custom.shp", [(GEOID_A, "T", polygon_wkt(box))], CUSTOM_PROJ
    )
    raw = land(con, shp, spec_of())
    declared = raw_frame(raw)[SOURCE_CRS_COLUMN][0]
    assert declared.startswith("PROJCS[") and declared != WGS84
    area = conformed(con, split(con, raw, spec_of()))[GEOID_A]
    assert_same_vertices(vertices(area["geojson"]), to_lonlat(CUSTOM_PROJ, corners(box)))


def test_shapefile_without_prj_is_lon_lat(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    shp = write_shapefile(
        con, tmp_path / "shp" / "plain.shp", [(GEOID_A, "T", polygon_wkt(WEST))], srs=None
    )
    assert not shp.with_suffix(".prj").exists()
    raw = land(con, shp, spec_of())
    assert raw_frame(raw)[SOURCE_CRS_COLUMN].to_list() == [WGS84]
    area = conformed(con, split(con, raw, spec_of()))[GEOID_A]
    assert vertices(area["geojson"]) == set(corners(WEST))


def test_shapefile_yaml_crs_overrides_the_prj(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # A .prj that lies (says lon/lat) about State Plane coordinates.
    shp = write_shapefile(
        con, tmp_path / "shp" / "liar.shp", [(GEOID_A, "T", polygon_wkt(SP_WEST))], WGS84
    )
    assert quarantined(con, run(con, shp)) == {1: ["geometry_invalid"]}
    area = conformed(con, run(con, shp, spec_of(crs=STATE_PLANE)))[GEOID_A]
    assert_same_vertices(vertices(area["geojson"]), to_lonlat(STATE_PLANE, corners(SP_WEST)))


# --- CSV with WKT ------------------------------------------------------------------------------


def test_csv_wkt_in_utm_with_a_chosen_geometry_field(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    source = write_csv(
        tmp_path / "beats.csv",
        ["beat", "label", "the_geom", "WKT"],
        [["007", "Beat 7", polygon_wkt(UTM_SQUARE), "POINT (1 2)"]],
    )
    spec = parse_boundary_spec(
        {
            "id_field": "beat",
            "name_field": "label",
            "geometry_field": "the_geom",
            "crs": UTM_10N,
            "id_kind": "code",
        },
        "areas",
    )
    raw = land(con, source, spec)
    assert raw_frame(raw)[SOURCE_CRS_COLUMN].to_list() == [UTM_10N]
    areas = conformed(con, split(con, raw, spec))
    assert list(areas) == ["7"]
    beat = areas["7"]
    assert (beat["raw_id"], beat["area_name"], beat["source_crs"]) == ("007", "Beat 7", UTM_10N)
    assert_same_vertices(vertices(beat["geojson"]), to_lonlat(UTM_10N, corners(UTM_SQUARE)))


def test_csv_wkt_without_crs_is_lon_lat(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "areas.csv", ["GEOID", "NAME", "WKT"], [[GEOID_A, "T", polygon_wkt(WEST)]]
    )
    area = conformed(con, run(con, source))[GEOID_A]
    assert area["source_crs"] == WGS84
    assert vertices(area["geojson"]) == set(corners(WEST))


def test_csv_without_the_wkt_column_names_it_and_keeps_the_previous_landing(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    good = write_csv(
        tmp_path / "good.csv", ["GEOID", "NAME", "WKT"], [[GEOID_A, "T", polygon_wkt(WEST)]]
    )
    dest = land(con, good, spec_of())
    before = dest.read_bytes()
    bad = write_csv(tmp_path / "bad.csv", ["GEOID", "NAME", "shape"], [[GEOID_A, "T", "x"]])
    with pytest.raises(BoundaryError, match=r"bad\.csv: no WKT column 'geom_wkt'") as err:
        land(con, bad, spec_of(geometry_field="geom_wkt"), dest)
    assert "shape" in str(err.value)  # the columns the file does have
    assert dest.read_bytes() == before
    assert sorted(p.name for p in dest.parent.iterdir()) == ["areas.parquet"]  # no leftovers


# --- repair and quarantine ---------------------------------------------------------------------


def test_bow_tie_is_repaired_into_a_multipolygon_of_the_right_area(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    x0, y0, x1, y1 = WEST
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[x0, y0], [x1, y1], [x1, y0], [x0, y1], [x0, y0]]],
    }
    source = write_geojson(
        tmp_path / "areas.geojson",
        [
            ({"GEOID": GEOID_A, "NAME": "Bow"}, bow_tie),
            ({"GEOID": GEOID_B, "NAME": "Ok"}, polygon(EAST)),
        ],
    )
    result = run(con, source)
    assert (result.clean_rows, result.quarantined_rows) == (2, 0)
    areas = conformed(con, result)
    bow = areas[GEOID_A]
    assert bow["geom_type"] == "MULTIPOLYGON" and bow["valid"]
    # Two triangles meeting at the centre, each a quarter of the box.
    assert bow["area"] == pytest.approx((x1 - x0) * (y1 - y0) / 2, rel=1e-9)
    assert bow["geometry_repaired"] is True
    assert areas[GEOID_B]["geometry_repaired"] is False


def test_repairs_that_change_an_areas_size_are_named(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """A bow-tie's rings cancel (nothing drawn, two triangles repaired); a ring that loops back
    through its own start to trace an inner square is drawn as 18 but repairs to 14 (the
    square is a hole); a clean square does not change."""
    x0, y0, x1, y1 = WEST
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[x0, y0], [x1, y1], [x1, y0], [x0, y1], [x0, y0]]],
    }
    w, h = (x1 - x0) / 4, (y1 - y0) / 4
    looped = [
        (0, 0),
        (4, 0),
        (4, 4),
        (0, 4),
        (0, 0),
        (2, 1),
        (3, 2),
        (2, 3),
        (1, 2),
        (2, 1),
        (0, 0),
    ]
    spiral = {"type": "Polygon", "coordinates": [[[x0 + i * w, y0 + j * h] for i, j in looped]]}
    geoid_c = "53033000300"
    source = write_geojson(
        tmp_path / "areas.geojson",
        [
            ({"GEOID": GEOID_A, "NAME": "Bow"}, bow_tie),
            ({"GEOID": GEOID_B, "NAME": "Ok"}, polygon(EAST)),
            ({"GEOID": geoid_c, "NAME": "Looped"}, spiral),
        ],
    )
    raw = land(con, source, spec_of())

    changed = repaired_area_changes(con, spec_of(), raw, max_change=0.01)

    assert [(c.area_id, c.row_number) for c in changed] == [(GEOID_A, 1), (geoid_c, 3)]
    assert changed[0].message.startswith(f"area {GEOID_A} (row 1): repairing its geometry "
                                         "changed its size from nothing")  # fmt: skip
    assert changed[1].change == pytest.approx(4 / 18, rel=1e-9)
    assert f"area {geoid_c} (row 3): repairing its geometry changed its size by 22%" in (
        changed[1].message
    )
    assert [c.area_id for c in repaired_area_changes(con, spec_of(), raw, max_change=0.5)] == [
        GEOID_A
    ]


@pytest.mark.parametrize(
    ("geometry", "code"),
    [
        (
            {"type": "LineString", "coordinates": [[-122.4, 47.6], [-122.3, 47.7]]},
            "geometry_invalid",
        ),
        ({"type": "Point", "coordinates": [-122.4, 47.6]}, "geometry_invalid"),
        # Every vertex on one line: repair leaves no area.
        (
            {
                "type": "Polygon",
                "coordinates": [[[-122.5, 47.5], [-122.25, 47.75], [-122.0, 48.0], [-122.5, 47.5]]],
            },
            "geometry_invalid",
        ),
        (None, "geometry_invalid"),
        # State Plane feet published as lon/lat: out of range.
        (polygon(SP_WEST), "geometry_invalid"),
    ],
)
def test_unusable_geojson_geometry_is_quarantined(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, geometry: dict[str, Any] | None, code: str
) -> None:
    source = write_geojson(
        tmp_path / "areas.geojson",
        [
            ({"GEOID": GEOID_A, "NAME": "Ok"}, polygon(WEST)),
            ({"GEOID": GEOID_B, "NAME": "Bad"}, geometry),
        ],
    )
    result = run(con, source)
    assert quarantined(con, result) == {2: [code]}
    assert list(conformed(con, result)) == [GEOID_A]


def test_unparseable_wkt_and_blank_ids_are_quarantined_with_one_code_each(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    source = write_csv(
        tmp_path / "areas.csv",
        ["GEOID", "NAME", "WKT"],
        [
            [GEOID_A, "ok", polygon_wkt(WEST)],
            [GEOID_B, "garbage", "POLYGON ((oops"],
            ["53033000300", "blank", ""],
            ["", "no id", polygon_wkt(EAST)],
            ["   ", "spaces", polygon_wkt(EAST)],
            ["tract", "no digits", polygon_wkt(EAST)],
            ["53033000400", "line", "LINESTRING (-122.4 47.6, -122.3 47.7)"],
            # A polygon with a line: the polygon is the area.
            [
                "53033000500",
                "collection",
                f"GEOMETRYCOLLECTION ({polygon_wkt(EAST)}, LINESTRING (0 0, 1 1))",
            ],
        ],
    )
    result = run(con, source)
    assert quarantined(con, result) == {
        2: ["geometry_invalid"],
        3: ["geometry_invalid"],
        4: ["missing_key"],
        5: ["missing_key"],
        6: ["missing_key"],
        7: ["geometry_invalid"],
    }
    assert result.by_code == {"missing_key": 3, "geometry_invalid": 3}
    areas = conformed(con, result)
    assert list(areas) == [GEOID_A, "53033000500"]
    assert areas["53033000500"]["geom_type"] == "POLYGON"
    assert areas["53033000500"]["area"] == pytest.approx(0.05 * 0.05, rel=1e-9)
    reasons = con.execute(
        f"SELECT DISTINCT {REASON_COLUMN} "
        f"FROM read_parquet({sql_literal(str(result.quarantine_path))})"
    ).fetchall()
    assert {r[0] for r in reasons} == {"missing_key", "geometry_invalid"}


def test_z_values_are_dropped(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    with_z = {"type": "Polygon", "coordinates": [[[x, y, 12.5] for x, y in ring(*WEST)]]}
    source = write_geojson(
        tmp_path / "areas.geojson",
        [
            ({"GEOID": GEOID_A, "NAME": "z"}, with_z),
            ({"GEOID": GEOID_A, "NAME": "flat"}, polygon(EAST)),
        ],
    )
    result = run(con, source)
    (has_z,) = con.execute(
        "SELECT bool_or(ST_HasZ(ST_GeomFromWKB(geom_wkb))) "
        f"FROM read_parquet({sql_literal(str(result.clean_path))})"
    ).fetchone()
    assert has_z is False


# --- merging pieces of one area ----------------------------------------------------------------


def test_area_split_over_two_rows_is_merged(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    # Row 1: the west half; row 2: another area; row 3: the east half, its id in another form.
    source = write_geojson(
        tmp_path / "areas.geojson",
        [
            ({"GEOID": GEOID_A, "NAME": "Harbor West"}, polygon(WEST)),
            ({"GEOID": GEOID_B, "NAME": "Other"}, polygon((-122.40, 47.70, -122.35, 47.75))),
            ({"GEOID": f"1400000US{GEOID_A}", "NAME": "Harbor East"}, polygon(EAST)),
        ],
    )
    raw = land(con, source, spec_of())
    result = split(con, raw, spec_of())
    assert (result.raw_rows, result.clean_rows, result.quarantined_rows) == (3, 3, 0)
    areas = conformed(con, result)
    assert list(areas) == [GEOID_A, GEOID_B]
    harbor = areas[GEOID_A]
    assert harbor["source_rows"] == 2
    assert areas[GEOID_B]["source_rows"] == 1
    assert harbor["area"] == pytest.approx(2 * 0.05 * 0.05, rel=1e-9)  # the union, no overlap
    assert harbor["geom_type"] == "POLYGON"  # adjacent halves dissolve into one polygon
    assert (harbor["area_name"], harbor["raw_id"], harbor["_row_number"]) == (
        "Harbor West",
        GEOID_A,
        1,
    )
    assert (harbor["_source_file"], harbor["_load_id"], harbor["source_crs"]) == (
        "areas.geojson",
        LOAD_ID,
        WGS84,
    )
    assert harbor["_ingested_at"] == INGESTED_AT


def test_merged_pieces_in_state_plane_union_to_the_sum_of_their_areas(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    source = write_csv(
        tmp_path / "areas.csv",
        ["GEOID", "NAME", "WKT"],
        [[GEOID_A, "west", polygon_wkt(SP_WEST)], [GEOID_A, "east", polygon_wkt(SP_EAST)]],
    )
    spec = spec_of(crs=STATE_PLANE)
    area = conformed(con, run(con, source, spec))[GEOID_A]
    assert area["source_rows"] == 2 and area["area_name"] == "west"
    (pieces,) = con.execute(
        "SELECT sum(ST_Area(ST_Transform(ST_GeomFromText(w), 'EPSG:2926', 'EPSG:4326', "
        f"always_xy := true))) FROM (VALUES ({sql_literal(polygon_wkt(SP_WEST))}), "
        f"({sql_literal(polygon_wkt(SP_EAST))})) AS t(w)"
    ).fetchone()
    assert area["area"] == pytest.approx(pieces, rel=1e-9)


def test_merge_takes_the_first_named_piece_and_flags_any_repair(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    x0, y0, x1, y1 = EAST
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[x0, y0], [x1, y1], [x1, y0], [x0, y1], [x0, y0]]],
    }
    source = write_geojson(
        tmp_path / "areas.geojson",
        [({"GEOID": GEOID_A}, polygon(WEST)), ({"GEOID": GEOID_A, "NAME": "Named"}, bow_tie)],
    )
    area = conformed(con, run(con, source))[GEOID_A]
    assert (area["area_name"], area["_row_number"], area["source_rows"]) == ("Named", 1, 2)
    assert area["geometry_repaired"] is True


def test_piece_quarantined_is_not_merged(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    source = write_geojson(
        tmp_path / "areas.geojson",
        [
            ({"GEOID": GEOID_A, "NAME": "a"}, polygon(WEST)),
            (
                {"GEOID": GEOID_A, "NAME": "a"},
                {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
            ),
        ],
    )
    result = run(con, source)
    assert (result.clean_rows, result.quarantined_rows) == (1, 1)
    assert conformed(con, result)[GEOID_A]["source_rows"] == 1


# --- area keys ---------------------------------------------------------------------------------


KEY_CASES = [
    ("53033000100", "geoid", "53033000100"),
    ("1400000US53033000100", "geoid", "53033000100"),
    ("14000US53033000100", "geoid", "53033000100"),
    ("5303300100", "geoid", "05303300100"),
    ("1001020100", "geoid", "01001020100"),
    (" 53-033-000100 ", "geoid", "53033000100"),
    ("tract", "geoid", None),
    ("", "geoid", None),
    (None, "geoid", None),
    ("007", "code", "7"),
    ("7", "code", "7"),
    ("000", "code", "0"),
    (" ab ", "code", "AB"),
    ("ne-1", "code", "NE-1"),
    ("0A7", "code", "0A7"),
    ("NE  1", "code", "NE  1"),  # trimmed and upper-cased only: inner spaces are kept
    ("   ", "code", None),
]


@pytest.mark.parametrize(("raw", "kind", "key"), KEY_CASES)
def test_area_key_matches_the_contract_and_the_survey_key(
    con: duckdb.DuckDBPyConnection, raw: str | None, kind: str, key: str | None
) -> None:
    (boundary_key, survey_key) = con.execute(
        f"SELECT {area_key_sql('CAST($v AS VARCHAR)', kind)}, "
        f"{survey_area_key_sql('CAST($v AS VARCHAR)', kind)}",
        {"v": raw},
    ).fetchone()
    assert boundary_key == key
    assert survey_key == key
    assert normalize_area_id(raw, kind) == key


def test_area_key_sql_rejects_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="tract_code"):
        area_key_sql("x", "tract_code")


def test_code_ids_merge_across_spellings(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    source = write_geojson(
        tmp_path / "districts.geojson",
        [
            ({"district": "007", "label": "Seven"}, polygon(WEST)),
            ({"district": "7", "label": "Seven again"}, polygon(EAST)),
            ({"district": " ab ", "label": "Alpha"}, polygon((-122.40, 47.70, -122.35, 47.75))),
        ],
    )
    spec = parse_boundary_spec(
        {"id_field": "district", "name_field": "label", "id_kind": "code"}, "areas"
    )
    areas = conformed(con, run(con, source, spec))
    assert list(areas) == ["7", "AB"]
    assert (areas["7"]["source_rows"], areas["7"]["raw_id"], areas["7"]["area_name"]) == (
        2,
        "007",
        "Seven",
    )
    assert (areas["AB"]["raw_id"], areas["AB"]["area_name"]) == ("ab", "Alpha")


def test_geoid_ids_padded_and_prefixed_are_one_area(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    source = write_geojson(
        tmp_path / "tracts.geojson",
        [
            ({"GEOID": "5303300100", "NAME": "lost zero"}, polygon(WEST)),
            ({"GEOID": "1400000US05303300100", "NAME": "prefixed"}, polygon(EAST)),
        ],
    )
    areas = conformed(con, run(con, source))
    assert list(areas) == ["05303300100"]
    assert areas["05303300100"]["source_rows"] == 2


# --- reconciliation and schema -----------------------------------------------------------------


def test_counts_reconcile_and_outputs_have_the_contract_schema(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    source = write_geojson(
        tmp_path / "areas.geojson",
        [
            ({"GEOID": GEOID_A, "NAME": "a"}, polygon(WEST)),
            ({"GEOID": GEOID_A, "NAME": "a"}, polygon(EAST)),
            ({"GEOID": GEOID_B, "NAME": "b"}, polygon((-122.40, 47.70, -122.35, 47.75))),
            ({"GEOID": "", "NAME": "c"}, polygon(WEST)),
            ({"GEOID": "53033000300", "NAME": "d"}, None),
        ],
    )
    raw = land(con, source, spec_of())
    result = split(con, raw, spec_of())
    raw_rows = raw_frame(raw).height
    quarantine = pl.read_parquet(result.quarantine_path)
    conformed_frame = pl.read_parquet(result.clean_path)
    assert raw_rows == 5 == result.raw_rows
    assert result.clean_rows + result.quarantined_rows == raw_rows
    assert (result.clean_rows, result.quarantined_rows) == (3, 2)
    assert quarantine.height == result.quarantined_rows
    assert conformed_frame.height == 2  # three accepted rows, two areas
    assert int(conformed_frame["source_rows"].sum()) == result.clean_rows
    assert result.by_reason == {"missing_key": 1, "geometry_invalid": 1}

    assert tuple(conformed_frame.columns) == CONFORMED_AREA_COLUMNS
    types = dict(
        con.execute(
            "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet("
            f"{sql_literal(str(result.clean_path))}))"
        ).fetchall()
    )
    assert types["geom_wkb"] == "BLOB"
    assert types["source_rows"] == "BIGINT"
    assert types["geometry_repaired"] == "BOOLEAN"
    # Quarantine: the raw columns as landed, then the reasons; no derived columns.
    assert quarantine.columns == [*raw_frame(raw).columns, REASON_CODES_COLUMN, REASON_COLUMN]


@pytest.mark.parametrize(
    ("mapping", "missing"),
    [
        ({"id_field": "TRACTCE", "name_field": "NAME"}, ["TRACTCE"]),
        ({"id_field": "GEOID", "name_field": "NAMELSAD"}, ["NAMELSAD"]),
        ({"id_field": "TRACTCE", "name_field": "NAMELSAD"}, ["TRACTCE", "NAMELSAD"]),
    ],
)
def test_split_names_the_columns_the_yaml_names_but_the_file_lacks(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, mapping: dict[str, str], missing: list[str]
) -> None:
    source = write_geojson(
        tmp_path / "areas.geojson", [({"GEOID": GEOID_A, "NAME": "a"}, polygon(WEST))]
    )
    spec = parse_boundary_spec(mapping, "areas")
    raw = land(con, source, spec)
    with pytest.raises(ValueError, match="missing") as err:
        split(con, raw, spec)
    message = str(err.value)
    assert f"missing: {missing}" in message
    assert "'GEOID'" in message and "'NAME'" in message  # what the file does have


def test_a_property_named_like_the_wkt_column_is_not_read_as_geometry(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    source = write_geojson(
        tmp_path / "areas.geojson",
        [({"GEOID": GEOID_A, "NAME": "a", "WKT": "not a geometry"}, polygon(WEST))],
    )
    result = run(con, source)
    assert result.clean_rows == 1
    assert vertices(conformed(con, result)[GEOID_A]["geojson"]) == set(corners(WEST))


# --- the YAML spec -----------------------------------------------------------------------------


def test_parse_boundary_spec_defaults_and_normalization() -> None:
    spec = parse_boundary_spec({"id_field": "GEOID", "crs": "esri:102749"}, "areas")
    assert spec == BoundarySpec(
        id_field="GEOID",
        name_field=None,
        format=None,
        geometry_field="WKT",
        crs="ESRI:102749",
        id_kind="auto",
    )


@pytest.mark.parametrize(
    ("mapping", "key"),
    [
        ({}, "id_field"),
        ({"id_field": "  "}, "id_field"),
        ({"id_field": 7}, "id_field"),
        ({"id_field": "GEOID", "format": "kml"}, "format"),
        ({"id_field": "GEOID", "id_kind": "fips"}, "id_kind"),
        ({"id_field": "GEOID", "crs": "2926"}, "crs"),
        ({"id_field": "GEOID", "crs": "WGS84"}, "crs"),
        ({"id_field": "GEOID", "name_field": 3}, "name_field"),
        ({"id_field": "GEOID", "name_field": ""}, "name_field"),
        ({"id_field": "GEOID", "geometry_field": None}, "geometry_field"),
        ({"id_field": "GEOID", "geometry_field": ["WKT"]}, "geometry_field"),
    ],
)
def test_parse_boundary_spec_errors_name_the_key(mapping: dict[str, Any], key: str) -> None:
    where = "city.yaml: sources.areas"
    with pytest.raises(BoundaryError) as err:
        parse_boundary_spec(mapping, where)
    assert str(err.value).startswith(f"{where}.{key}:")


def test_parse_boundary_spec_rejects_a_non_mapping() -> None:
    with pytest.raises(BoundaryError, match=r"^city\.yaml: sources\.areas: expected a mapping"):
        parse_boundary_spec(["GEOID"], "city.yaml: sources.areas")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.geojson", "geojson"),
        ("a.JSON", "geojson"),
        ("a.shp", "shapefile"),
        ("a.zip", "shapefile"),
        ("a.csv", "csv_wkt"),
    ],
)
def test_boundary_format_from_the_extension(name: str, fmt: str) -> None:
    assert boundary_format(BoundarySpec(id_field="GEOID"), Path(name)) == fmt


def test_unknown_extension_names_the_file_and_format_overrides_it(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    with pytest.raises(BoundaryError, match=r"areas\.kml: cannot tell the boundary format"):
        boundary_format(BoundarySpec(id_field="GEOID"), Path("areas.kml"))
    source = write_csv(
        tmp_path / "areas.txt", ["GEOID", "NAME", "WKT"], [[GEOID_A, "a", polygon_wkt(WEST)]]
    )
    assert list(conformed(con, run(con, source, spec_of(format="csv_wkt")))) == [GEOID_A]


def test_missing_file_is_file_not_found(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"absent\.geojson"):
        land(con, tmp_path / "absent.geojson", spec_of())

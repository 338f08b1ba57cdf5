"""Facilities: the YAML field mapping, the type map, and the split of CSV and GeoJSON landings.

Raw fixtures are landed with ``crimemap.ingestion.landing``; the boundary is two squares near
Seattle loaded by ``tests.support.boundaries.load_boundary``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest

from crimemap.ingestion.facilities import (
    FacilityMapping,
    parse_facility_mapping,
)
from crimemap.ingestion.landing import LandingResult, land_csv, land_geojson
from crimemap.ingestion.layouts import FACILITY_COLUMNS
from crimemap.ingestion.police.layout import LayoutError
from crimemap.quality.facilities import split_facilities
from crimemap.quality.rules import SplitResult
from crimemap.samplecity.settings import SAMPLE_FACILITY_MAPPING
from tests.support.boundaries import load_boundary

PROJECTED_CRS = "EPSG:32610"
# Two adjacent squares (~2.2 km x 4.4 km) sharing the edge lon = -122.33.
WEST = (-122.36, 47.58, -122.33, 47.62)
EAST = (-122.33, 47.58, -122.30, 47.62)
WHERE = "riverton.yml: facilities.mapping"
CSV_COLUMNS = ("Site ID", "Site Name", "Service Type", "Street Address", "Lon", "Lat")
CSV_MAPPING: dict[str, Any] = {
    "id_field": "Site ID",
    "name_field": "Site Name",
    "type_field": "Service Type",
    "address_field": "Street Address",
    "longitude_field": "Lon",
    "latitude_field": "Lat",
    "type_map": {
        "Mental  Health Center": "mental_health",
        "DETOX": "substance_use",
        "Community Clinic": "clinic",
        "Youth Drop-In": "youth_services",
    },
}
CONFORMED = (
    "facility_id",
    "facility_name",
    "facility_type",
    "facility_type_raw",
    "address",
    "longitude",
    "latitude",
    "_source_file",
    "_row_number",
    "_ingested_at",
    "_load_id",
)


# --- builders ----------------------------------------------------------------------------------


def square(bounds: tuple[float, float, float, float]) -> dict[str, Any]:
    x0, y0, x1, y1 = bounds
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature_collection(features: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> str:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": props, "geometry": geom}
                for props, geom in features
            ],
        }
    )


@pytest.fixture
def boundary(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> str:
    source = tmp_path / "areas.geojson"
    source.write_text(
        feature_collection(
            [({"GEOID": "53033000100"}, square(WEST)), ({"GEOID": "53033000200"}, square(EAST))]
        )
    )
    landed = land_geojson(source, tmp_path / "raw" / "areas.parquet", load_id="areas/test")
    return load_boundary(con, landed.path, table="test_areas")


def land_facilities_csv(
    tmp_path: Path, rows: Sequence[Mapping[str, str]], columns: Sequence[str] = CSV_COLUMNS
) -> LandingResult:
    source = tmp_path / "exports" / "facilities.csv"
    source.parent.mkdir(parents=True, exist_ok=True)
    with source.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return land_csv(source, tmp_path / "raw" / "facilities.parquet", load_id="facilities/test")


def split(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    mapping: FacilityMapping,
    raw: Path,
    boundary: str,
    tolerance_m: float = 50.0,
) -> SplitResult:
    return split_facilities(
        con,
        mapping,
        boundary_table=boundary,
        projected_crs=PROJECTED_CRS,
        tolerance_m=tolerance_m,
        raw_parquet=raw,
        quarantine_path=tmp_path / "quarantine" / "facilities.parquet",
        conformed_path=tmp_path / "conformed" / "facilities.parquet",
    )


def quarantine_codes(con: duckdb.DuckDBPyConnection, path: Path) -> dict[int, list[str]]:
    rows = con.execute(
        f"SELECT _row_number, _reason_codes, _reason FROM read_parquet('{path}') ORDER BY 1"
    ).fetchall()
    assert all(reason == codes[0] for _, codes, reason in rows)
    return {n: codes for n, codes, _ in rows}


def conformed_rows(con: duckdb.DuckDBPyConnection, result: SplitResult) -> list[dict[str, Any]]:
    cursor = con.execute(f"SELECT * FROM read_parquet('{result.clean_path}') ORDER BY _row_number")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def site(site_id: str, **overrides: str) -> dict[str, str]:
    row = {
        "Site ID": site_id,
        "Site Name": "Harbor House",
        "Service Type": "Shelter",
        "Street Address": "12  Pine St",
        "Lon": "-122.34",
        "Lat": "47.60",
    }
    row.update(overrides)
    return row


# (row, exact expected reason codes); [] = accepted. Row numbers follow list order, 1-based.
CASES: list[tuple[dict[str, str], list[str]]] = [
    (site("F1"), []),
    (site("F2", **{"Service Type": "mental health   center"}), []),  # case and spaces ignored
    (site("F3", **{"Service Type": " detox"}), []),
    (site("F4", **{"Service Type": "YOUTH_SERVICES"}), []),  # a canonical name maps to itself
    (site("F5", **{"Site ID": " "}), ["missing_key"]),
    (site("F6", Lon="", Lat=""), ["coordinates_missing"]),
    (site("F7", Lat="north"), ["coordinates_missing"]),
    (site("F8", Lon="0", Lat="0"), ["coordinates_zero"]),
    (site("F9", Lon="-122.0", Lat="47.0"), ["out_of_jurisdiction"]),  # ~70 km away
    (site("F10", **{"Service Type": "Food Bank"}), ["type_unmapped"]),
    (site("F11", **{"Service Type": ""}), ["type_unmapped"]),
    (site("F1", **{"Site Name": "Harbor House annex"}), ["duplicate_record"]),
    # A defective row is not the original: its clean later copy is accepted.
    (site("F13", **{"Service Type": "Library"}), ["type_unmapped"]),
    (site("F13"), []),
    (
        site("", Lon="", **{"Service Type": "Food Bank"}),
        ["missing_key", "coordinates_missing", "type_unmapped"],
    ),
]


# --- the mapping -------------------------------------------------------------------------------


def test_type_lookup_is_canonical_names_plus_the_normalized_map() -> None:
    mapping = parse_facility_mapping(CSV_MAPPING, WHERE)

    assert mapping.type_lookup == {
        "mental_health": "mental_health",
        "substance_use": "substance_use",
        "shelter": "shelter",
        "clinic": "clinic",
        "youth_services": "youth_services",
        "mental health center": "mental_health",
        "detox": "substance_use",
        "community clinic": "clinic",
        "youth drop-in": "youth_services",
    }
    assert mapping.read_columns == CSV_COLUMNS
    assert [(loc.kind, loc.columns) for loc in mapping.locations] == [("lonlat", ("Lon", "Lat"))]


def test_explicit_label_wins_over_the_canonical_name() -> None:
    mapping = parse_facility_mapping(
        {**CSV_MAPPING, "type_map": {"Clinic": "mental_health"}}, WHERE
    )
    assert mapping.type_lookup["clinic"] == "mental_health"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"id_field": None}, f"{WHERE}: missing required key 'id_field'"),
        ({"type_field": ""}, f"{WHERE}.type_field: expected a column name"),
        ({"name_field": "cm_name"}, f"{WHERE}.name_field: names starting with 'cm_' are reserved"),
        ({"latitude_field": None}, f"{WHERE}: longitude_field and latitude_field go together"),
        (
            {"latitude_field": None, "longitude_field": None},
            f"{WHERE}: a location is required",
        ),
        ({"types": {}}, f"{WHERE}: unknown keys ['types']"),
        ({"type_map": ["shelter"]}, f"{WHERE}.type_map: expected a mapping"),
        (
            {"type_map": {"Detox": "detox"}},
            f"{WHERE}.type_map['Detox']: 'detox' is not one of mental_health, substance_use,",
        ),
        (
            {"type_map": {"Detox": "substance_use", " DETOX ": "clinic"}},
            f"{WHERE}.type_map[' DETOX ']: maps to 'clinic', but the same label",
        ),
        ({"type_map": {"  ": "clinic"}}, f"{WHERE}.type_map: a label cannot be blank"),
    ],
)
def test_mapping_errors_name_the_key(change: dict[str, Any], expected: str) -> None:
    with pytest.raises(LayoutError) as exc:
        parse_facility_mapping({**CSV_MAPPING, **change}, WHERE)
    assert str(exc.value).startswith(expected)


def test_a_mapping_built_in_code_is_checked_too() -> None:
    with pytest.raises(LayoutError, match="'hospital' is not one of"):
        FacilityMapping(
            "id", "name", "type", {"ER": "hospital"}, longitude_field="x", latitude_field="y"
        )
    with pytest.raises(LayoutError, match="a location is required"):
        FacilityMapping("id", "name", "type")


def test_sample_city_mapping_reads_the_sample_layout() -> None:
    assert set(SAMPLE_FACILITY_MAPPING.read_columns) == set(FACILITY_COLUMNS)


# --- the split: CSV ----------------------------------------------------------------------------


def test_each_defect_gets_exactly_its_reason_and_rows_reconcile(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    landed = land_facilities_csv(tmp_path, [r for r, _ in CASES])
    result = split(con, tmp_path, parse_facility_mapping(CSV_MAPPING, WHERE), landed.path, boundary)

    expected = {i: codes for i, (_, codes) in enumerate(CASES, start=1) if codes}
    assert quarantine_codes(con, result.quarantine_path) == expected
    conformed = conformed_rows(con, result)
    accepted = [i for i, (_, codes) in enumerate(CASES, start=1) if not codes]
    assert [r["_row_number"] for r in conformed] == accepted
    quarantined = con.execute(
        f"SELECT count(*) FROM read_parquet('{result.quarantine_path}')"
    ).fetchone()[0]
    assert result.raw_rows == landed.rows == len(conformed) + quarantined
    assert result.balanced
    assert result.by_reason == {
        "missing_key": 2,
        "coordinates_missing": 2,
        "coordinates_zero": 1,
        "out_of_jurisdiction": 1,
        "duplicate_record": 1,
        "type_unmapped": 3,
    }


def test_conformed_facilities_schema_and_types(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    landed = land_facilities_csv(tmp_path, [r for r, _ in CASES])
    result = split(con, tmp_path, parse_facility_mapping(CSV_MAPPING, WHERE), landed.path, boundary)

    schema = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{result.clean_path}')").fetchall()
    assert [(name, kind) for name, kind, *_ in schema] == [
        ("facility_id", "VARCHAR"),
        ("facility_name", "VARCHAR"),
        ("facility_type", "VARCHAR"),
        ("facility_type_raw", "VARCHAR"),
        ("address", "VARCHAR"),
        ("longitude", "DOUBLE"),
        ("latitude", "DOUBLE"),
        ("_source_file", "VARCHAR"),
        ("_row_number", "BIGINT"),
        ("_ingested_at", "TIMESTAMP WITH TIME ZONE"),
        ("_load_id", "VARCHAR"),
    ]
    rows = conformed_rows(con, result)
    assert [(r["facility_id"], r["facility_type"], r["facility_type_raw"]) for r in rows] == [
        ("F1", "shelter", "Shelter"),
        ("F2", "mental_health", "mental health   center"),
        ("F3", "substance_use", " detox"),
        ("F4", "youth_services", "YOUTH_SERVICES"),
        ("F13", "shelter", "Shelter"),
    ]
    assert rows[0]["facility_name"] == "Harbor House"
    assert rows[0]["address"] == "12 Pine St"
    assert (rows[0]["longitude"], rows[0]["latitude"]) == (-122.34, 47.60)
    assert {r["_source_file"] for r in rows} == {"facilities.csv"}


def test_quarantine_keeps_the_published_columns(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    landed = land_facilities_csv(tmp_path, [site("F1", **{"Service Type": "Food Bank"})])
    result = split(con, tmp_path, parse_facility_mapping(CSV_MAPPING, WHERE), landed.path, boundary)

    cursor = con.execute(f"SELECT * FROM read_parquet('{result.quarantine_path}')")
    names = [d[0] for d in cursor.description]
    assert names == [*landed.columns, "_reason_codes", "_reason"]
    assert cursor.fetchone()[names.index("Service Type")] == "Food Bank"


def test_a_far_facility_is_in_with_a_wide_tolerance(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    # ~110 m east of the boundary's east edge (lon -122.30).
    landed = land_facilities_csv(tmp_path, [site("F1", Lon="-122.2985")])
    mapping = parse_facility_mapping(CSV_MAPPING, WHERE)

    near = split(con, tmp_path / "a", mapping, landed.path, boundary, tolerance_m=50)
    wide = split(con, tmp_path / "b", mapping, landed.path, boundary, tolerance_m=200)

    assert quarantine_codes(con, near.quarantine_path) == {1: ["out_of_jurisdiction"]}
    assert wide.clean_rows == 1


def test_the_sample_city_layout_needs_no_type_map(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    rows = [
        dict(zip(FACILITY_COLUMNS, values, strict=True))
        for values in [
            ("F001", "Alki Shelter", "shelter", "1 Main St", "47.60", "-122.34"),
            ("F002", "Orca Clinic", "clinic", "2 Main St", "47.61", "-122.31"),
            ("F003", "Odd One", "hospital", "3 Main St", "47.61", "-122.31"),
        ]
    ]
    landed = land_facilities_csv(tmp_path, rows, columns=FACILITY_COLUMNS)
    result = split(con, tmp_path, SAMPLE_FACILITY_MAPPING, landed.path, boundary)

    assert quarantine_codes(con, result.quarantine_path) == {3: ["type_unmapped"]}
    assert [r["facility_type"] for r in conformed_rows(con, result)] == ["shelter", "clinic"]


def test_schema_drift_names_the_file_and_the_columns(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    columns = tuple("Type" if c == "Service Type" else c for c in CSV_COLUMNS)
    rows = [{("Type" if k == "Service Type" else k): v for k, v in site("F1").items()}]
    landed = land_facilities_csv(tmp_path, rows, columns=columns)

    with pytest.raises(ValueError, match=r"facilities \(facilities\.parquet\)") as exc:
        split(con, tmp_path, parse_facility_mapping(CSV_MAPPING, WHERE), landed.path, boundary)
    assert "missing: ['Service Type']" in str(exc.value)


# --- the split: GeoJSON ------------------------------------------------------------------------

GEOJSON_MAPPING: dict[str, Any] = {
    "id_field": "OBJECTID",
    "name_field": "NAME",
    "type_field": "CATEGORY",
    "geometry_field": "geometry",
    "type_map": {"Behavioral Health": "mental_health", "Emergency Shelter": "shelter"},
}


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def test_geojson_points_are_located_from_the_geometry(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    def props(oid: int, category: str = "Emergency Shelter") -> dict[str, Any]:
        return {"OBJECTID": oid, "NAME": f"Site {oid}", "CATEGORY": category}

    features = [
        (props(1), point(-122.345, 47.605)),
        (props(2, "behavioral  health"), point(-122.31, 47.59)),
        (props(3), None),  # a feature without geometry
        (props(4), square(WEST)),  # not a point
        (props(5), point(0, 0)),
        (props(6), point(-73.99, 40.73)),  # another city
        (props(7, "Soup Kitchen"), point(-122.34, 47.60)),
        (props(1), point(-122.345, 47.605)),
    ]
    source = tmp_path / "facilities.geojson"
    source.write_text(feature_collection(features))
    landed = land_geojson(source, tmp_path / "raw" / "facilities.parquet", load_id="fac/test")
    mapping = parse_facility_mapping(GEOJSON_MAPPING, WHERE)
    result = split(con, tmp_path, mapping, landed.path, boundary)

    assert quarantine_codes(con, result.quarantine_path) == {
        3: ["coordinates_missing"],
        4: ["coordinates_missing"],
        5: ["coordinates_zero"],
        6: ["out_of_jurisdiction"],
        7: ["type_unmapped"],
        8: ["duplicate_record"],
    }
    rows = conformed_rows(con, result)
    picked = ("facility_id", "facility_type", "longitude", "latitude")
    assert [tuple(r[c] for c in picked) for r in rows] == [
        ("1", "shelter", -122.345, 47.605),
        ("2", "mental_health", -122.31, 47.59),
    ]
    assert [r["address"] for r in rows] == [None, None]  # no address field mapped
    assert result.balanced and result.raw_rows == len(features)


def test_lon_lat_columns_win_over_the_geometry(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    common = {"name": "n", "type": "clinic"}
    features = [
        ({"id": "A", **common, "x": "-122.31", "y": "47.61"}, point(-122.35, 47.59)),
        ({"id": "B", **common, "x": "", "y": ""}, point(-122.35, 47.59)),
    ]
    source = tmp_path / "facilities.geojson"
    source.write_text(feature_collection(features))
    landed = land_geojson(source, tmp_path / "raw" / "facilities.parquet", load_id="fac/test")
    mapping = FacilityMapping(
        id_field="id",
        name_field="name",
        type_field="type",
        longitude_field="x",
        latitude_field="y",
        geometry_field="geometry",
    )
    result = split(con, tmp_path, mapping, landed.path, boundary)

    got = [(r["longitude"], r["latitude"]) for r in conformed_rows(con, result)]
    assert got == [(-122.31, 47.61), (-122.35, 47.59)]

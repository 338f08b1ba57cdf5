"""Conformed columns and offense rows, on tiny raw relations where every value is a string.

Expected instants come from ``zoneinfo`` and expected coordinates from ``pyproj``, never from
DuckDB itself.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pytest
from pyproj import Transformer

from crimemap.ingestion.police.conform import conformed_columns_sql, offense_rows_sql
from crimemap.ingestion.police.layout import PoliceLayout, builtin_layout, parse_layout

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LOS_ANGELES = "America/Los_Angeles"
INGESTED_AT = datetime(2024, 8, 1, 6, 0, tzinfo=UTC)
RAW = "raw_rows"


# --- builders ----------------------------------------------------------------------------------


def published(layout: PoliceLayout) -> tuple[str, ...]:
    return layout.columns or layout.read_columns


def register_raw(
    con: duckdb.DuckDBPyConnection, layout: PoliceLayout, rows: Sequence[Mapping[str, str]]
) -> None:
    """Register ``rows`` (missing columns blank) as a landed relation with lineage."""
    columns = published(layout)
    for row in rows:
        assert set(row) <= set(columns), (
            f"not published by {layout.name}: {set(row) - set(columns)}"
        )
    data: dict[str, list[Any]] = {c: [row.get(c, "") for row in rows] for c in columns}
    data["_source_file"] = [f"{layout.name}.csv"] * len(rows)
    data["_row_number"] = list(range(1, len(rows) + 1))
    data["_ingested_at"] = [INGESTED_AT] * len(rows)
    data["_load_id"] = [f"{layout.name}/test"] * len(rows)
    schema = pa.schema(
        [
            *((c, pa.string()) for c in columns),
            ("_source_file", pa.string()),
            ("_row_number", pa.int64()),
            ("_ingested_at", pa.timestamp("us", tz="UTC")),
            ("_load_id", pa.string()),
        ]
    )
    con.register(RAW, pa.Table.from_pydict(data, schema=schema))


def fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def conform(
    con: duckdb.DuckDBPyConnection,
    layout: PoliceLayout,
    rows: Sequence[Mapping[str, str]],
    timezone: str,
) -> list[dict[str, Any]]:
    """Conformed rows in input order; instants also as epoch microseconds (zone-independent)."""
    register_raw(con, layout, rows)
    sql = conformed_columns_sql(layout, RAW, timezone)
    return fetch_dicts(
        con,
        f"SELECT *, epoch_us(cm_occurred_at) AS occurred_us, "
        f"epoch_us(cm_reported_at) AS reported_us FROM ({sql}) ORDER BY _row_number",
    )


def offenses(
    con: duckdb.DuckDBPyConnection,
    layout: PoliceLayout,
    rows: Sequence[Mapping[str, str]],
    timezone: str,
) -> list[dict[str, Any]]:
    register_raw(con, layout, rows)
    accepted = f"({conformed_columns_sql(layout, RAW, timezone)})"
    sql = offense_rows_sql(layout, "test_source", accepted, published(layout))
    return fetch_dicts(con, f"SELECT * FROM ({sql}) ORDER BY _row_number, offense_index")


def epoch_us(moment: datetime) -> int:
    assert moment.tzinfo is not None
    return (moment - EPOCH) // timedelta(microseconds=1)


def local_us(timezone: str, *parts: int, fold: int = 0) -> int:
    """Epoch microseconds of a wall-clock time in ``timezone`` (zoneinfo is the reference)."""
    return epoch_us(datetime(*parts, tzinfo=ZoneInfo(timezone), fold=fold))


def custom_layout(location: list[dict[str, str]], **extra: Any) -> PoliceLayout:
    mapping: dict[str, Any] = {
        "occurred": {"column": "Occurred", "formats": ["%Y-%m-%d %H:%M:%S"]},
        "offense_codes": "Code",
        "location": location,
        **extra,
    }
    return parse_layout(mapping, name="custom", where="custom.yml")


def wkb_point_hex(x: float, y: float) -> str:
    """Little-endian ISO WKB of a 2D point, hex-encoded."""
    return struct.pack("<BIdd", 1, 1, x, y).hex().upper()


def wkb_linestring_hex(*coords: float) -> str:
    return struct.pack(f"<BII{len(coords)}d", 1, 2, len(coords) // 2, *coords).hex()


# --- LAPD: date column + unpadded hhmm time column ---------------------------------------------


# TIME OCC as written -> (hour, minute) on DATE OCC; an unusable time keeps the date's midnight.
LAPD_TIMES: dict[str, tuple[int, int]] = {
    "5": (0, 5),
    "45": (0, 45),
    "930": (9, 30),
    "1230": (12, 30),
    "2359": (23, 59),
    " 0815 ": (8, 15),
    "0000": (0, 0),
    "2400": (0, 0),
    "1275": (0, 0),
    "abc": (0, 0),
    "12:30": (0, 0),
    "12345": (0, 0),
    "-5": (0, 0),
    "": (0, 0),
}


def test_lapd_time_occ_is_an_unpadded_24_hour_clock(con: duckdb.DuckDBPyConnection) -> None:
    date_occ = "03/01/2024 12:00:00 AM"
    rows = conform(
        con,
        builtin_layout("lapd"),
        [{"DATE OCC": date_occ, "TIME OCC": time_occ} for time_occ in LAPD_TIMES],
        LOS_ANGELES,
    )

    got = {time_occ: r["occurred_us"] for time_occ, r in zip(LAPD_TIMES, rows, strict=True)}
    assert got == {
        time_occ: local_us(LOS_ANGELES, 2024, 3, 1, hour, minute)
        for time_occ, (hour, minute) in LAPD_TIMES.items()
    }
    assert [r["cm_occurred_raw"] for r in rows] == [f"{date_occ} {t}" for t in LAPD_TIMES]


def test_lapd_date_column_time_part_is_ignored(con: duckdb.DuckDBPyConnection) -> None:
    rows = conform(
        con,
        builtin_layout("lapd"),
        [
            {"DATE OCC": "03/01/2024 03:00:00 PM", "TIME OCC": "5"},
            {"DATE OCC": "2024-03-01T00:00:00.000", "TIME OCC": "1230"},
            {"DATE OCC": "03/01/2024", "TIME OCC": "1230"},
            {"DATE OCC": "not a date", "TIME OCC": "1230"},
        ],
        LOS_ANGELES,
    )

    assert [r["occurred_us"] for r in rows] == [
        local_us(LOS_ANGELES, 2024, 3, 1, 0, 5),
        local_us(LOS_ANGELES, 2024, 3, 1, 12, 30),
        local_us(LOS_ANGELES, 2024, 3, 1, 12, 30),
        None,
    ]


def test_lapd_wall_clock_converts_like_zoneinfo(con: duckdb.DuckDBPyConnection) -> None:
    cases = {
        ("03/09/2024 12:00:00 AM", "1200"): (2024, 3, 9, 12, 0),  # PST
        ("03/10/2024 12:00:00 AM", "0100"): (2024, 3, 10, 1, 0),  # before spring-forward
        ("03/10/2024 12:00:00 AM", "0300"): (2024, 3, 10, 3, 0),  # after spring-forward
        ("03/10/2024 12:00:00 AM", "1200"): (2024, 3, 10, 12, 0),
        ("07/04/2024 12:00:00 AM", "2330"): (2024, 7, 4, 23, 30),  # PDT
        ("11/03/2024 12:00:00 AM", "0030"): (2024, 11, 3, 0, 30),  # before fall-back
        ("11/03/2024 12:00:00 AM", "0230"): (2024, 11, 3, 2, 30),  # after fall-back
        ("11/03/2024 12:00:00 AM", "1200"): (2024, 11, 3, 12, 0),
        ("12/31/2024 12:00:00 AM", "2359"): (2024, 12, 31, 23, 59),
    }
    rows = conform(
        con,
        builtin_layout("lapd"),
        [{"DATE OCC": date_occ, "TIME OCC": time_occ} for date_occ, time_occ in cases],
        LOS_ANGELES,
    )

    got = {case: r["occurred_us"] for case, r in zip(cases, rows, strict=True)}
    assert got == {case: local_us(LOS_ANGELES, *parts) for case, parts in cases.items()}


def test_lapd_spring_forward_hour_is_one_hour_in_utc(con: duckdb.DuckDBPyConnection) -> None:
    rows = conform(
        con,
        builtin_layout("lapd"),
        [
            {"DATE OCC": "03/10/2024 12:00:00 AM", "TIME OCC": "0100"},
            {"DATE OCC": "03/10/2024 12:00:00 AM", "TIME OCC": "0300"},
        ],
        LOS_ANGELES,
    )

    # 01:00 PST and 03:00 PDT are two wall-clock hours but one real hour apart.
    assert rows[1]["occurred_us"] - rows[0]["occurred_us"] == 3_600_000_000
    assert rows[0]["occurred_us"] == epoch_us(datetime(2024, 3, 10, 9, 0, tzinfo=UTC))


def test_lapd_nonexistent_spring_forward_time_reads_with_standard_offset(
    con: duckdb.DuckDBPyConnection,
) -> None:
    [row] = conform(
        con,
        builtin_layout("lapd"),
        [{"DATE OCC": "03/10/2024 12:00:00 AM", "TIME OCC": "0230"}],
        LOS_ANGELES,
    )

    # 02:30 does not exist that day; like zoneinfo (fold=0) it is read at UTC-8, i.e. 03:30 PDT.
    assert row["occurred_us"] == local_us(LOS_ANGELES, 2024, 3, 10, 2, 30)
    assert row["occurred_us"] == epoch_us(datetime(2024, 3, 10, 10, 30, tzinfo=UTC))


def test_lapd_ambiguous_fall_back_time_resolves_to_standard_time(
    con: duckdb.DuckDBPyConnection,
) -> None:
    [row] = conform(
        con,
        builtin_layout("lapd"),
        [{"DATE OCC": "11/03/2024 12:00:00 AM", "TIME OCC": "0130"}],
        LOS_ANGELES,
    )

    first = local_us(LOS_ANGELES, 2024, 11, 3, 1, 30, fold=0)
    second = local_us(LOS_ANGELES, 2024, 11, 3, 1, 30, fold=1)
    assert second - first == 3_600_000_000
    # 01:30 happens twice; the conversion picks the second one (PST, UTC-8).
    assert row["occurred_us"] == second


def test_lapd_reported_date_without_time_column_is_local_midnight(
    con: duckdb.DuckDBPyConnection,
) -> None:
    [row] = conform(
        con,
        builtin_layout("lapd"),
        [{"DATE OCC": "03/01/2024", "TIME OCC": "5", "Date Rptd": "03/02/2024 12:00:00 AM"}],
        LOS_ANGELES,
    )

    assert row["reported_us"] == local_us(LOS_ANGELES, 2024, 3, 2, 0, 0)
    assert row["cm_reported_raw"] == "03/02/2024 12:00:00 AM"


# --- formats with and without offsets ----------------------------------------------------------


def test_baltimore_nibrs_offset_is_the_instant_whatever_the_zone(
    con: duckdb.DuckDBPyConnection,
) -> None:
    instant = epoch_us(datetime(2024, 7, 1, 7, 30, tzinfo=UTC))
    for timezone in ("America/New_York", "Asia/Tokyo", "UTC"):
        rows = conform(
            con,
            builtin_layout("baltimore_nibrs"),
            [
                {"CrimeDateTime": "2024/07/01 07:30:00+00"},
                {"CrimeDateTime": "2024-07-01T07:30:00+00:00"},
                {"CrimeDateTime": "2024/07/01 07:30:00"},
            ],
            timezone,
        )

        # Without an offset the same text is wall-clock time in the jurisdiction's zone.
        assert [r["occurred_us"] for r in rows] == [
            instant,
            instant,
            local_us(timezone, 2024, 7, 1, 7, 30),
        ], timezone


def test_baltimore_legacy_crime_time_variants(con: duckdb.DuckDBPyConnection) -> None:
    timezone = "America/New_York"
    cases = {"23:55:00": (23, 55), "23:55": (23, 55), "2355": (23, 55), "5": (0, 5), "": (0, 0)}
    rows = conform(
        con,
        builtin_layout("baltimore_legacy"),
        [{"CrimeDate": "07/01/2024", "CrimeTime": crime_time} for crime_time in cases],
        timezone,
    )

    got = {crime_time: r["occurred_us"] for crime_time, r in zip(cases, rows, strict=True)}
    assert got == {
        crime_time: local_us(timezone, 2024, 7, 1, hour, minute)
        for crime_time, (hour, minute) in cases.items()
    }


def test_sfpd_slash_date_with_meridiem(con: duckdb.DuckDBPyConnection) -> None:
    rows = conform(
        con,
        builtin_layout("sfpd"),
        [
            {"Incident Datetime": "2024/03/12 05:30:00 AM"},
            {"Incident Datetime": "2024/03/12 05:30:00 PM"},
            {"Incident Datetime": "2024-03-12T17:30:00.000"},
            {"Incident Datetime": "03/12/2024 05:30:00 PM"},
        ],
        LOS_ANGELES,
    )

    assert [r["occurred_us"] for r in rows] == [
        local_us(LOS_ANGELES, 2024, 3, 12, 5, 30),
        local_us(LOS_ANGELES, 2024, 3, 12, 17, 30),
        local_us(LOS_ANGELES, 2024, 3, 12, 17, 30),
        None,  # not one of the layout's formats
    ]


def test_seattle_export_and_socrata_api_formats(con: duckdb.DuckDBPyConnection) -> None:
    texts = ["2024-07-01T12:00:00.000", "2024-07-01T12:00:00", "07/01/2024 12:00:00 PM"]
    rows = conform(
        con,
        builtin_layout("seattle_spd"),
        [{"Offense Start DateTime": text, "Report DateTime": text} for text in texts],
        LOS_ANGELES,
    )

    expected = local_us(LOS_ANGELES, 2024, 7, 1, 12, 0)
    assert [r["occurred_us"] for r in rows] == [expected] * 3
    assert [r["reported_us"] for r in rows] == [expected] * 3
    assert [r["cm_occurred_raw"] for r in rows] == texts


def test_unparseable_date_is_null_not_an_error(con: duckdb.DuckDBPyConnection) -> None:
    rows = conform(
        con,
        builtin_layout("seattle_spd"),
        [
            {"Offense Start DateTime": "yesterday"},
            {"Offense Start DateTime": ""},
            {"Offense Start DateTime": "02/30/2024 10:00:00 AM"},
        ],
        LOS_ANGELES,
    )

    assert [r["cm_occurred_at"] for r in rows] == [None, None, None]
    assert [r["cm_occurred_raw"] for r in rows] == ["yesterday", "", "02/30/2024 10:00:00 AM"]


# --- offense codes -----------------------------------------------------------------------------


def test_chicago_iucr_codes_are_padded_to_four(con: duckdb.DuckDBPyConnection) -> None:
    cases = {
        "486": "0486",
        "0486": "0486",
        " 41a ": "041A",
        "0110": "0110",
        "12345": "12345",  # longer than the width: never truncated
        "": None,
        "   ": None,
    }
    rows = conform(con, builtin_layout("chicago"), [{"IUCR": c} for c in cases], "America/Chicago")

    assert [r["cm_offense_codes"] for r in rows] == [[code] for code in cases.values()]
    assert [r["cm_offense_codes_raw"] for r in rows] == [[raw] for raw in cases]


def test_sfpd_incident_codes_are_padded_to_five(con: duckdb.DuckDBPyConnection) -> None:
    rows = conform(
        con,
        builtin_layout("sfpd"),
        [{"Incident Code": "7041"}, {"Incident Code": "07041"}],
        LOS_ANGELES,
    )

    assert [r["cm_offense_codes"] for r in rows] == [["07041"], ["07041"]]


def test_seattle_codes_are_only_trimmed_and_upper_cased(con: duckdb.DuckDBPyConnection) -> None:
    [row] = conform(con, builtin_layout("seattle_spd"), [{"Offense Code": " 23h "}], LOS_ANGELES)

    assert row["cm_offense_codes"] == ["23H"]


def test_lapd_offense_rows_one_per_code(con: duckdb.DuckDBPyConnection) -> None:
    rows = offenses(
        con,
        builtin_layout("lapd"),
        [
            {
                "DR_NO": " 240104455 ",
                "DATE OCC": "03/01/2024 12:00:00 AM",
                "TIME OCC": "1230",
                "Crm Cd": "510",
                "Crm Cd Desc": "VEHICLE - STOLEN",
                "Crm Cd 1": "510",
                "Crm Cd 2": "48",
                "Crm Cd 3": "998",
                "Crm Cd 4": "  ",
            },
            {"DR_NO": "240104456", "Crm Cd": "230", "Crm Cd Desc": "ASSAULT"},
        ],
        LOS_ANGELES,
    )

    assert [(r["report_number"], r["offense_index"], r["offense_code"]) for r in rows] == [
        ("240104455", 1, "510"),
        ("240104455", 2, "048"),
        ("240104455", 3, "998"),
        ("240104456", 1, "230"),
    ]
    assert [r["offense_code_raw"] for r in rows] == ["510", "48", "998", "230"]
    assert [r["offense_desc_raw"] for r in rows] == ["VEHICLE - STOLEN", None, None, "ASSAULT"]
    assert {r["record_id"] for r in rows} == {"240104455", "240104456"}
    assert {(r["source"], r["agency"], r["layout"], r["crosswalk"]) for r in rows} == {
        ("test_source", "Los Angeles Police Department", "lapd", "lapd")
    }
    assert rows[0]["occurred_at"] is not None
    assert [r["_row_number"] for r in rows] == [1, 1, 1, 2]
    assert {r["_load_id"] for r in rows} == {"lapd/test"}


def test_lapd_offense_index_is_the_code_position(con: duckdb.DuckDBPyConnection) -> None:
    rows = offenses(
        con,
        builtin_layout("lapd"),
        [{"DR_NO": "1", "Crm Cd": "510", "Crm Cd 2": "", "Crm Cd 3": "998", "Crm Cd 4": ""}],
        LOS_ANGELES,
    )

    assert [(r["offense_index"], r["offense_code"]) for r in rows] == [(1, "510"), (3, "998")]


def test_row_without_any_code_has_no_offense_row(con: duckdb.DuckDBPyConnection) -> None:
    rows = offenses(
        con,
        builtin_layout("seattle_spd"),
        [{"Offense ID": "a", "Offense Code": ""}, {"Offense ID": "b", "Offense Code": "13A"}],
        LOS_ANGELES,
    )

    assert [(r["record_id"], r["offense_code"]) for r in rows] == [("b", "13A")]


# --- locations ---------------------------------------------------------------------------------


def test_lonlat_location_and_zero_placeholder(con: duckdb.DuckDBPyConnection) -> None:
    rows = conform(
        con,
        builtin_layout("lapd"),
        [
            {"LON": "-118.2437", "LAT": "34.0522"},
            {"LON": "0", "LAT": "0"},
            {"LON": "0.0", "LAT": "-0"},
            {"LON": "", "LAT": ""},
            {"LON": "-118.2437", "LAT": ""},
            {"LON": "west", "LAT": "34"},
        ],
        LOS_ANGELES,
    )

    located = [(r["cm_longitude"], r["cm_latitude"], r["cm_location_zero"]) for r in rows]
    assert located == [
        (-118.2437, 34.0522, False),
        (None, None, True),
        (None, None, True),
        (None, None, False),
        (None, None, False),
        (None, None, False),
    ]
    assert [r["cm_location_source"] for r in rows] == ["lonlat", None, None, None, None, None]
    assert rows[0]["cm_location_raw"] == "-118.2437, 34.0522"
    assert rows[1]["cm_location_raw"] == "0, 0"


def test_chicago_falls_back_to_location_text_then_projected(
    con: duckdb.DuckDBPyConnection,
) -> None:
    x, y = 1170000.0, 1880000.0
    rows = conform(
        con,
        builtin_layout("chicago"),
        [
            {
                "Latitude": "41.88",
                "Longitude": "-87.63",
                "Location": "(41.8, -87.6)",
                "X Coordinate": "1170000",
                "Y Coordinate": "1880000",
            },
            {"Location": "(41.8, -87.6)", "X Coordinate": "1170000", "Y Coordinate": "1880000"},
            {"Location": "(41.8,-87.6)"},
            {
                "Latitude": "0",
                "Longitude": "0",
                "X Coordinate": "1170000",
                "Y Coordinate": "1880000",
            },
            {"Latitude": "0", "Longitude": "0", "Location": "(0, 0)", "X Coordinate": "0"},
        ],
        "America/Chicago",
    )

    lon, lat = Transformer.from_crs("EPSG:3435", "EPSG:4326", always_xy=True).transform(x, y)
    assert [r["cm_location_source"] for r in rows] == [
        "lonlat",
        "point_text",
        "point_text",
        "projected",
        None,
    ]
    assert (rows[0]["cm_longitude"], rows[0]["cm_latitude"]) == (-87.63, 41.88)
    assert (rows[1]["cm_longitude"], rows[1]["cm_latitude"]) == (-87.6, 41.8)
    assert (rows[2]["cm_longitude"], rows[2]["cm_latitude"]) == (-87.6, 41.8)
    assert rows[3]["cm_longitude"] == pytest.approx(lon, abs=1e-7)
    assert rows[3]["cm_latitude"] == pytest.approx(lat, abs=1e-7)
    assert rows[3]["cm_location_raw"] == "1170000, 1880000"
    assert rows[1]["cm_location_raw"] == "(41.8, -87.6)"
    # A placeholder (0, 0) with nothing better is flagged, not placed at Null Island.
    assert [r["cm_location_zero"] for r in rows] == [False, False, False, False, True]
    assert rows[4]["cm_longitude"] is None


def test_a_projected_point_outside_its_crs_is_no_location(con: duckdb.DuckDBPyConnection) -> None:
    # Found by the parser properties: State Plane x = 55,787,020 ft transforms to infinity, and
    # an infinite point is neither missing nor measurable, so it would have been accepted.
    x, y = 55787020.0, 0.0
    lon, _ = Transformer.from_crs("EPSG:3435", "EPSG:4326", always_xy=True).transform(x, y)
    assert not math.isfinite(lon)
    (row,) = conform(
        con,
        builtin_layout("chicago"),
        [{"X Coordinate": "55787020.0", "Y Coordinate": "0"}],
        "America/Chicago",
    )
    assert (row["cm_longitude"], row["cm_latitude"], row["cm_location_source"]) == (None,) * 3
    assert row["cm_location_zero"] is False


def test_custom_projected_location_matches_pyproj(con: duckdb.DuckDBPyConnection) -> None:
    layout = custom_layout(
        [
            {"kind": "lonlat", "lon": "Lon", "lat": "Lat"},
            {"kind": "projected", "x": "X", "y": "Y", "crs": "EPSG:2926"},
        ]
    )
    points = [(1266000.5, 229000.25), (1290000.0, 215000.0), (1250500.75, 260100.5)]
    rows = conform(con, layout, [{"X": str(x), "Y": str(y)} for x, y in points], "UTC")

    to_wgs84 = Transformer.from_crs("EPSG:2926", "EPSG:4326", always_xy=True)
    for row, (x, y) in zip(rows, points, strict=True):
        lon, lat = to_wgs84.transform(x, y)
        assert row["cm_location_source"] == "projected"
        assert row["cm_longitude"] == pytest.approx(lon, abs=1e-7)
        assert row["cm_latitude"] == pytest.approx(lat, abs=1e-7)
        # Seattle, not somewhere a swapped axis order would put it.
        assert -123 < row["cm_longitude"] < -122
        assert 47 < row["cm_latitude"] < 48


def test_sfpd_wkt_point_is_the_fallback(con: duckdb.DuckDBPyConnection) -> None:
    rows = conform(
        con,
        builtin_layout("sfpd"),
        [
            {"point": "POINT (-122.4 47.6)"},
            {"Latitude": "37.77", "Longitude": "-122.42", "point": "POINT (-122.4 47.6)"},
            {"point": "LINESTRING (0 0, 1 1)"},
            {"point": "POINT EMPTY"},
            {"point": "POINT (-122.4"},
        ],
        LOS_ANGELES,
    )

    assert [(r["cm_longitude"], r["cm_latitude"], r["cm_location_source"]) for r in rows] == [
        (-122.4, 47.6, "wkt"),
        (-122.42, 37.77, "lonlat"),
        (None, None, None),
        (None, None, None),
        (None, None, None),
    ]
    assert rows[0]["cm_location_raw"] == "POINT (-122.4 47.6)"


def test_custom_wkb_hex_geojson_and_point_text_kinds(con: duckdb.DuckDBPyConnection) -> None:
    layout = custom_layout(
        [
            {"kind": "wkb_hex", "column": "Wkb"},
            {"kind": "geojson", "column": "GeoJson"},
            {"kind": "point_text", "column": "LonLat", "order": "lonlat"},
            {"kind": "wkt", "column": "Projected", "crs": "EPSG:2926"},
        ]
    )
    point_wkb = wkb_point_hex(-122.4, 47.6)
    rows = conform(
        con,
        layout,
        [
            {"Wkb": point_wkb, "GeoJson": '{"type": "Point", "coordinates": [-1, 1]}'},
            {"Wkb": point_wkb.lower()},
            {"GeoJson": '{"type": "Point", "coordinates": [-122.3, 47.5]}'},
            {"LonLat": "-122.2 47.4"},
            {"Projected": "POINT (1266000.5 229000.25)"},
            {
                "Wkb": wkb_linestring_hex(0, 0, 1, 1),
                "GeoJson": '{"type": "LineString", "coordinates": [[0, 0], [1, 1]]}',
                "LonLat": "somewhere",
                "Projected": "not wkt",
            },
            {"Wkb": "zz", "GeoJson": "{"},
        ],
        "UTC",
    )

    assert [r["cm_location_source"] for r in rows] == [
        "wkb_hex",
        "wkb_hex",
        "geojson",
        "point_text",
        "wkt",
        None,
        None,
    ]
    assert [(r["cm_longitude"], r["cm_latitude"]) for r in rows[:4]] == [
        (-122.4, 47.6),
        (-122.4, 47.6),
        (-122.3, 47.5),
        (-122.2, 47.4),
    ]
    lon, lat = Transformer.from_crs("EPSG:2926", "EPSG:4326", always_xy=True).transform(
        1266000.5, 229000.25
    )
    assert rows[4]["cm_longitude"] == pytest.approx(lon, abs=1e-7)
    assert rows[4]["cm_latitude"] == pytest.approx(lat, abs=1e-7)
    assert rows[0]["cm_location_raw"] == point_wkb
    assert rows[2]["cm_location_raw"] == '{"type": "Point", "coordinates": [-122.3, 47.5]}'
    assert [r["cm_location_zero"] for r in rows] == [False] * 7


# --- text columns, flags, raw record -----------------------------------------------------------


def test_block_address_collapses_whitespace(con: duckdb.DuckDBPyConnection) -> None:
    cases = {
        "1100 W  39TH  PL": "1100 W 39TH PL",
        "  1100 W 39TH PL  ": "1100 W 39TH PL",
        "1100\tW \t 39TH PL": "1100 W 39TH PL",
        "   ": None,
    }
    rows = conform(con, builtin_layout("chicago"), [{"Block": b} for b in cases], "America/Chicago")

    assert [r["cm_block_address"] for r in rows] == list(cases.values())
    assert [r["Block"] for r in rows] == list(cases)


def test_chicago_domestic_flag_in_offense_rows(con: duckdb.DuckDBPyConnection) -> None:
    rows = offenses(
        con,
        builtin_layout("chicago"),
        [
            {"ID": "1", "IUCR": "0486", "Domestic": "true"},
            {"ID": "2", "IUCR": "0486", "Domestic": "TRUE"},
            {"ID": "3", "IUCR": "0486", "Domestic": "Y"},
            {"ID": "4", "IUCR": "0486", "Domestic": "false"},
            {"ID": "5", "IUCR": "0486", "Domestic": "1"},  # not one of chicago's true values
            {"ID": "6", "IUCR": "0486", "Domestic": ""},
        ],
        "America/Chicago",
    )

    assert [r["source_domestic_violence"] for r in rows] == [True, True, True, False, False, None]
    for column in ("source_juvenile_involved", "source_mental_health_related"):
        assert [r[column] for r in rows] == [None] * 6
    assert [r["source_substance_related"] for r in rows] == [None] * 6


def test_layout_without_flags_leaves_every_flag_null(con: duckdb.DuckDBPyConnection) -> None:
    [row] = offenses(con, builtin_layout("seattle_spd"), [{"Offense Code": "13A"}], LOS_ANGELES)

    assert [row[c] for c in row if c.startswith("source_")] == [None] * 4


def test_raw_record_holds_every_published_column_as_written(
    con: duckdb.DuckDBPyConnection,
) -> None:
    layout = builtin_layout("chicago")
    raw = {column: "" for column in layout.columns}
    raw.update(
        {
            "ID": "13311263",
            "Case Number": "JG503434",
            "Date": "07/01/2024 11:50:00 PM",
            "Block": "1100 W  39TH  PL",
            "IUCR": " 41a ",
            "Primary Type": "BATTERY",
            "Description": 'DOMESTIC "BATTERY" \\ SIMPLE',
            "Domestic": "true",
            "Latitude": "41.8",
            "Longitude": "-87.6",
            "Location": "(41.8, -87.6)",
            "Updated On": "07/08/2024 03:41:02 PM",
        }
    )
    [row] = offenses(con, layout, [raw], "America/Chicago")

    record = json.loads(row["raw_record"])
    assert record == raw
    assert list(record) == list(layout.columns)
    assert row["offense_code"] == "041A"
    assert row["offense_code_raw"] == " 41a "
    assert row["block_address"] == "1100 W 39TH PL"
    assert row["offense_desc_raw"] == 'DOMESTIC "BATTERY" \\ SIMPLE'
    assert row["occurred_at"] is not None
    assert (row["longitude"], row["latitude"], row["location_source"]) == (-87.6, 41.8, "lonlat")
    assert row["_source_file"] == "chicago.csv"
    assert row["_ingested_at"] == INGESTED_AT


def test_conformed_columns_keep_every_raw_column(con: duckdb.DuckDBPyConnection) -> None:
    layout = builtin_layout("sfpd")
    [row] = conform(con, layout, [{"Incident Code": "7041", "Row ID": " 1 "}], LOS_ANGELES)

    for column in layout.columns:
        assert column in row
    assert row["Incident Code"] == "7041"
    assert row["Row ID"] == " 1 "
    assert row["cm_record_id"] == "1"
    assert not [c for c in row if c.startswith("__")]

"""311 service requests: layouts, the conform SQL, the quarantine split and the live Socrata feed.

Raw fixtures are landed with ``crimemap.ingestion.landing`` from small CSV files; the boundary is
two squares near Seattle loaded by ``tests.support.boundaries.load_boundary``. Expected instants
come from ``zoneinfo``, never from DuckDB.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest
import yaml

from crimemap.ingestion.landing import land_csv, land_frame, land_geojson
from crimemap.ingestion.live.http import RetryPolicy, SchemaDriftError
from crimemap.ingestion.live.socrata import socrata_where
from crimemap.ingestion.police.layout import LayoutError
from crimemap.ingestion.service_requests.layout import (
    ServiceRequestLayout,
    builtin_layout_names,
    builtin_service_request_layout,
    parse_service_request_layout,
)
from crimemap.ingestion.service_requests.live import fetch_service_requests, rows_frame
from crimemap.quality.rules import REASON_CODES, EventRuleSettings, SplitResult
from crimemap.quality.service_requests import split_service_requests
from tests.support.boundaries import load_boundary
from tests.support.fake_portals import FakePortals

LOS_ANGELES = "America/Los_Angeles"
PROJECTED_CRS = "EPSG:32610"
# 2024-08-01 00:00 UTC is 2024-07-31 17:00 in Los Angeles (PDT, UTC-7).
FIXED_NOW = "TIMESTAMPTZ '2024-08-01 00:00:00+00'"
LATER_NOW = "TIMESTAMPTZ '2025-01-01 00:00:00+00'"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Two adjacent squares (~2.2 km x 4.4 km) sharing the edge lon = -122.33.
WEST = (-122.36, 47.58, -122.33, 47.62)
EAST = (-122.33, 47.58, -122.30, 47.62)
SF311 = builtin_service_request_layout("sf311")
CONFORMED = (
    "request_id",
    "request_type",
    "request_subtype",
    "status",
    "is_closed",
    "created_at",
    "closed_at",
    "address",
    "longitude",
    "latitude",
    "_source_file",
    "_row_number",
    "_ingested_at",
    "_load_id",
)
DATASET_ID = "vw6y-z8j6"
FAST = RetryPolicy(max_attempts=2, backoff_s=0.01, max_backoff_s=0.1, timeout_s=5.0)


# --- builders ----------------------------------------------------------------------------------


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[Mapping[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return path


def land(
    tmp_path: Path, name: str, columns: Sequence[str], rows: Sequence[Mapping[str, str]]
) -> Path:
    source = write_csv(tmp_path / "exports" / f"{name}.csv", columns, rows)
    return land_csv(source, tmp_path / "raw" / f"{name}.parquet", load_id=f"{name}/test").path


def square(bounds: tuple[float, float, float, float]) -> dict[str, Any]:
    x0, y0, x1, y1 = bounds
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture
def boundary(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> str:
    features = [
        {"type": "Feature", "properties": {"GEOID": gid}, "geometry": square(box)}
        for gid, box in (("53033000100", WEST), ("53033000200", EAST))
    ]
    source = tmp_path / "areas.geojson"
    source.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    landed = land_geojson(source, tmp_path / "raw" / "areas.parquet", load_id="areas/test")
    return load_boundary(con, landed.path, table="test_areas")


def settings(boundary: str, **overrides: Any) -> EventRuleSettings:
    base: dict[str, Any] = {
        "boundary_table": boundary,
        "projected_crs": PROJECTED_CRS,
        "timezone": LOS_ANGELES,
        "now_sql": FIXED_NOW,
    }
    return EventRuleSettings(**{**base, **overrides})


def sf_row(request_id: str, **overrides: str) -> dict[str, str]:
    row = {
        "service_request_id": request_id,
        "requested_datetime": "2024-07-01T09:15:00.000",
        "closed_date": "",
        "updated_datetime": "2024-07-01T09:20:00.000",
        "status_description": "Open",
        "status_notes": "",
        "agency_responsible": "DPW Ops Queue",
        "service_name": "Street and Sidewalk Cleaning",
        "service_subtype": "Bulky Items",
        "service_details": "",
        "address": "123  MAIN ST",
        "street": "MAIN ST",
        "supervisor_district": "6",
        "neighborhoods_sffind_boundaries": "Downtown",
        "police_district": "CENTRAL",
        "lat": "47.60",
        "long": "-122.34",
        "point": "POINT (-122.34 47.6)",
        "source": "Phone",
    }
    row.update(overrides)
    return row


NO_LONLAT = {"lat": "", "long": ""}
GEOJSON_POINT = '{"type":"Point","coordinates":[-122.31,47.61]}'
# (row, exact expected reason codes); [] = accepted. Row numbers follow list order, 1-based.
CASES: list[tuple[dict[str, str], list[str]]] = [
    (sf_row("101"), []),
    (sf_row("102", **NO_LONLAT), []),  # WKT point instead of lat/long
    (sf_row("103", **NO_LONLAT, point=GEOJSON_POINT), []),  # GeoJSON point (the API's form)
    (sf_row("104", long="0", lat="0"), []),  # (0, 0) lat/long, but the point is usable
    (sf_row("105", service_request_id="  "), ["missing_key"]),
    (sf_row("106", **NO_LONLAT, point=""), ["coordinates_missing"]),
    (sf_row("107", lat="abc", point="POINT EMPTY"), ["coordinates_missing"]),
    (sf_row("108", long="0", lat="0", point="POINT (0 0)"), ["coordinates_zero"]),
    (sf_row("109", long="-118.24", lat="34.05"), ["out_of_jurisdiction"]),
    (sf_row("110", requested_datetime="2024-13-01T00:00:00"), ["date_unparseable"]),
    (sf_row("111", requested_datetime=""), ["date_unparseable"]),
    (sf_row("112", requested_datetime="1900-01-01T00:00:00.000"), ["date_placeholder"]),
    (sf_row("113", requested_datetime="2099-01-01T00:00:00"), ["date_future"]),
    # 17:30 PDT on July 31 is 00:30 UTC on August 1: after "now" only when read as local time.
    (sf_row("114", requested_datetime="2024-07-31T17:30:00.000"), ["date_future"]),
    (sf_row("115", requested_datetime="2024-07-31T16:30:00.000"), []),
    (sf_row("101"), ["duplicate_record"]),
    # A defective row is not the original: its clean later copy is accepted.
    (sf_row("117", requested_datetime="garbage"), ["date_unparseable"]),
    (sf_row("117"), []),
    (
        sf_row("119", service_request_id="", **NO_LONLAT, point=""),
        ["missing_key", "coordinates_missing"],
    ),
]


def quarantine_codes(con: duckdb.DuckDBPyConnection, path: Path) -> dict[int, list[str]]:
    rows = con.execute(
        f"SELECT _row_number, _reason_codes, _reason FROM read_parquet('{path}') ORDER BY 1"
    ).fetchall()
    assert all(reason == codes[0] for _, codes, reason in rows)
    return {n: codes for n, codes, _ in rows}


def fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def conformed_rows(con: duckdb.DuckDBPyConnection, result: SplitResult) -> list[dict[str, Any]]:
    """Conformed rows by row number; instants as epoch microseconds (zone-independent)."""
    return fetch_dicts(
        con,
        f"SELECT * EXCLUDE (created_at, closed_at), epoch_us(created_at) AS created_us, "
        f"epoch_us(closed_at) AS closed_us FROM read_parquet('{result.clean_path}') "
        "ORDER BY _row_number",
    )


def split(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    rows: Sequence[Mapping[str, str]],
    rule_settings: EventRuleSettings,
    layout: ServiceRequestLayout = SF311,
    columns: Sequence[str] | None = None,
) -> SplitResult:
    raw = land(tmp_path, "service_requests", columns or layout.columns, rows)
    return split_service_requests(
        con,
        layout,
        rule_settings,
        source="service_requests",
        raw_parquet=raw,
        quarantine_path=tmp_path / "quarantine" / "service_requests.parquet",
        conformed_path=tmp_path / "conformed" / "service_requests.parquet",
    )


def epoch_us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def local_us(*parts: int) -> int:
    return epoch_us(datetime(*parts, tzinfo=ZoneInfo(LOS_ANGELES)))


# --- the built-in layout -----------------------------------------------------------------------


def test_sf311_layout_reads_the_contract_columns() -> None:
    assert builtin_layout_names() == ("sf311",)
    assert SF311.columns == (
        "service_request_id", "requested_datetime", "closed_date", "updated_datetime",
        "status_description", "status_notes", "agency_responsible", "service_name",
        "service_subtype", "service_details", "address", "street", "supervisor_district",
        "neighborhoods_sffind_boundaries", "police_district", "lat", "long", "point", "source",
    )  # fmt: skip
    assert SF311.record_id == "service_request_id"
    assert SF311.request_type == "service_name"
    assert [(loc.kind, loc.columns) for loc in SF311.location][:2] == [
        ("lonlat", ("long", "lat")),
        ("wkt", ("point",)),
    ]
    assert {"%Y-%m-%dT%H:%M:%S.%g", "%Y-%m-%dT%H:%M:%S"} <= set(SF311.created.formats)
    assert SF311.live is not None
    assert SF311.live.options["dataset_id"] == DATASET_ID
    assert SF311.live.options["base_url"] == "https://data.sfgov.org"
    assert SF311.live.options["date_field"] == "requested_datetime"
    assert set(SF311.live.fields.values()) == set(SF311.columns)


# --- the split ---------------------------------------------------------------------------------


def test_each_defect_gets_exactly_its_reason_and_rows_reconcile(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    result = split(con, tmp_path, [r for r, _ in CASES], settings(boundary))

    expected = {i: codes for i, (_, codes) in enumerate(CASES, start=1) if codes}
    assert quarantine_codes(con, result.quarantine_path) == expected
    conformed = conformed_rows(con, result)
    assert [r["_row_number"] for r in conformed] == [
        i for i, (_, codes) in enumerate(CASES, start=1) if not codes
    ]
    quarantined = con.execute(
        f"SELECT count(*) FROM read_parquet('{result.quarantine_path}')"
    ).fetchone()[0]
    assert result.raw_rows == len(CASES) == len(conformed) + quarantined
    assert (result.clean_rows, result.quarantined_rows) == (len(conformed), quarantined)
    assert result.balanced
    assert set(result.by_code) == {
        "missing_key", "coordinates_missing", "coordinates_zero", "out_of_jurisdiction",
        "date_unparseable", "date_placeholder", "date_future", "duplicate_record",
    }  # fmt: skip
    assert set(result.by_code) <= set(REASON_CODES)


def test_conformed_schema_and_values(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    result = split(con, tmp_path, [r for r, _ in CASES[:4]], settings(boundary))

    schema = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{result.clean_path}')").fetchall()
    assert [(name, kind) for name, kind, *_ in schema] == [
        ("request_id", "VARCHAR"),
        ("request_type", "VARCHAR"),
        ("request_subtype", "VARCHAR"),
        ("status", "VARCHAR"),
        ("is_closed", "BOOLEAN"),
        ("created_at", "TIMESTAMP WITH TIME ZONE"),
        ("closed_at", "TIMESTAMP WITH TIME ZONE"),
        ("address", "VARCHAR"),
        ("longitude", "DOUBLE"),
        ("latitude", "DOUBLE"),
        ("_source_file", "VARCHAR"),
        ("_row_number", "BIGINT"),
        ("_ingested_at", "TIMESTAMP WITH TIME ZONE"),
        ("_load_id", "VARCHAR"),
    ]
    rows = conformed_rows(con, result)
    first = rows[0]
    assert first["request_id"] == "101"
    assert first["request_type"] == "Street and Sidewalk Cleaning"
    assert first["request_subtype"] == "Bulky Items"
    assert first["address"] == "123 MAIN ST"  # inner whitespace collapsed
    assert first["created_us"] == local_us(2024, 7, 1, 9, 15)
    assert first["_source_file"] == "service_requests.csv"
    # lat/long, then the WKT point, then the GeoJSON point, then the point past a (0, 0) pair.
    assert [(r["longitude"], r["latitude"]) for r in rows] == [
        (-122.34, 47.60),
        (-122.34, 47.60),
        (-122.31, 47.61),
        (-122.34, 47.60),
    ]


def test_quarantine_keeps_raw_columns_and_no_derived_ones(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    result = split(con, tmp_path, [sf_row("1", requested_datetime="soon")], settings(boundary))

    cursor = con.execute(f"SELECT * FROM read_parquet('{result.quarantine_path}')")
    names = [d[0] for d in cursor.description]
    assert names == [
        *SF311.columns, "_source_file", "_row_number", "_ingested_at", "_load_id",
        "_reason_codes", "_reason",
    ]  # fmt: skip
    assert con.execute(
        f"SELECT requested_datetime FROM read_parquet('{result.quarantine_path}')"
    ).fetchone() == ("soon",)


def test_created_times_are_wall_clock_in_the_time_zone(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    cases = {
        "2024-01-15T09:00:00.000": (2024, 1, 15, 9, 0),  # PST, UTC-8
        "2024-07-01T09:00:00.000": (2024, 7, 1, 9, 0),  # PDT, UTC-7
        "2024-03-10T01:30:00.000": (2024, 3, 10, 1, 30),  # before spring-forward
        "2024-03-10T03:30:00": (2024, 3, 10, 3, 30),  # after spring-forward, no milliseconds
        "2024-11-03T00:30:00": (2024, 11, 3, 0, 30),  # before fall-back
        "2024-11-03T03:30:00.000": (2024, 11, 3, 3, 30),  # after fall-back
        "07/04/2024 11:45:00 PM": (2024, 7, 4, 23, 45),  # the CSV export's format
    }
    rows = [sf_row(str(i), requested_datetime=text) for i, text in enumerate(cases)]
    result = split(con, tmp_path, rows, settings(boundary, now_sql=LATER_NOW))

    assert result.quarantined_rows == 0
    got = [r["created_us"] for r in conformed_rows(con, result)]
    assert got == [local_us(*parts) for parts in cases.values()]
    # 01:30 PST and 03:30 PDT on spring-forward day are one real hour apart.
    assert got[3] - got[2] == 3_600_000_000
    assert got[1] == epoch_us(datetime(2024, 7, 1, 16, 0, tzinfo=UTC))


def test_closed_status_and_closing_time(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    closed_date = "2024-07-02T14:00:00.000"
    rows = [
        sf_row("1", status_description="Closed", closed_date=closed_date),
        sf_row("2", status_description="  CLOSED ", closed_date=closed_date),
        sf_row("3", status_description="Open"),
        sf_row("4", status_description="Open", closed_date=closed_date),  # reopened
        sf_row("5", status_description="", closed_date=closed_date),  # no status: the date says
        sf_row("6", status_description=""),
        sf_row("7", status_description="Closed", closed_date="not a date"),  # kept, time NULL
    ]
    result = split(con, tmp_path, rows, settings(boundary))

    got = [(r["status"], r["is_closed"], r["closed_us"]) for r in conformed_rows(con, result)]
    closed_us = local_us(2024, 7, 2, 14, 0)
    assert got == [
        ("Closed", True, closed_us),
        ("CLOSED", True, closed_us),
        ("Open", False, None),
        ("Open", False, closed_us),
        (None, True, closed_us),
        (None, False, None),
        ("Closed", True, None),
    ]


def test_placeholder_and_future_limits_are_settings(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    rows = [
        sf_row("1", requested_datetime="2009-12-31T23:00:00"),
        sf_row("2", requested_datetime="2010-01-01T00:00:00"),
        sf_row("3", requested_datetime="2024-07-01T09:00:00"),
    ]
    strict = settings(
        boundary, min_valid_date="2010-01-01", now_sql="TIMESTAMPTZ '2024-07-01 15:00:00+00'"
    )
    result = split(con, tmp_path, rows, strict)

    # 09:00 PDT is 16:00 UTC: after the configured now.
    assert quarantine_codes(con, result.quarantine_path) == {
        1: ["date_placeholder"],
        3: ["date_future"],
    }


def test_tolerance_is_in_metres(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    # ~110 m north of the boundary's top edge (lat 47.62).
    rows = [sf_row("1", lat="47.621", point="")]
    near = split(con, tmp_path / "a", rows, settings(boundary, tolerance_m=50))
    far = split(con, tmp_path / "b", rows, settings(boundary, tolerance_m=200))

    assert quarantine_codes(con, near.quarantine_path) == {1: ["out_of_jurisdiction"]}
    assert far.clean_rows == 1


# --- schema drift and layout errors ------------------------------------------------------------


def test_schema_drift_names_the_file_and_the_columns(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    renamed = [c if c != "lat" else "latitude" for c in SF311.columns]
    rows = [{("latitude" if k == "lat" else k): v for k, v in sf_row("1").items()}]
    with pytest.raises(ValueError, match=r"service_requests \(service_requests\.parquet\)") as exc:
        split(con, tmp_path, rows, settings(boundary), columns=renamed)
    message = str(exc.value)
    assert "missing: ['lat']" in message
    assert "unexpected columns: ['latitude']" in message


BASE_MAPPING: dict[str, Any] = {
    "record_id": "Case ID",
    "created": {"column": "Opened", "formats": ["%m/%d/%Y %H:%M"]},
    "status": "State",
    "request_type": "Category",
    "location": [{"kind": "point_text", "column": "Location"}],
}
WHERE = "riverton.yml: service_requests.layout"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"record_id": None}, f"{WHERE}: missing required key 'record_id'"),
        ({"created": None}, f"{WHERE}: missing required key 'created'"),
        ({"created": {"column": "Opened"}}, f"{WHERE}.created: missing required key 'formats'"),
        ({"status": 7}, f"{WHERE}.status: expected a column name"),
        ({"location": []}, f"{WHERE}: missing required key 'location'"),
        ({"location": [{"kind": "h3"}]}, f"{WHERE}.location[0].kind: 'h3' is not one of"),
        ({"closed_values": [" "]}, f"{WHERE}.closed_values: a closed status cannot be blank"),
        ({"closed_values": {"a": 1}}, f"{WHERE}.closed_values: expected a status text"),
        ({"live": {"kind": "arcgis"}}, f"{WHERE}.live.kind: must be one of socrata"),
        (
            {"live": {"kind": "socrata", "dataset_id": "abcd-1234"}},
            f"{WHERE}.live: missing required key 'date_field'",
        ),
        ({"request_type": "cm_type"}, f"{WHERE}: column names starting with 'cm_' are reserved"),
        ({"columns": ["Case ID"]}, f"{WHERE}: mapped columns missing from 'columns'"),
    ],
)
def test_layout_errors_name_the_file_and_key(change: dict[str, Any], expected: str) -> None:
    mapping = {**BASE_MAPPING, **change}
    with pytest.raises(LayoutError) as exc:
        parse_service_request_layout(mapping, name="riverton", where=WHERE)
    assert str(exc.value).startswith(expected)


def test_unknown_builtin_layout_lists_known_names() -> None:
    with pytest.raises(LayoutError, match="known: sf311"):
        builtin_service_request_layout("nyc311")


# --- a jurisdiction's own mapping --------------------------------------------------------------

CUSTOM_YAML = """
columns: [Case ID, Opened, Closed On, State, Category, Detail, Street Address, Location]
record_id: Case ID
created: {column: Opened, formats: ["%m/%d/%Y %H:%M"]}
closed: {column: Closed On, formats: ["%m/%d/%Y %H:%M"]}
status: State
closed_values: [Resolved, "Case   Closed"]
request_type: Category
request_subtype: Detail
address: Street Address
location:
  - {kind: point_text, column: Location}
"""


def test_custom_mapping_from_yaml_runs_the_same_split(
    con: duckdb.DuckDBPyConnection, boundary: str, tmp_path: Path
) -> None:
    layout = parse_service_request_layout(
        yaml.safe_load(CUSTOM_YAML), name="riverton_311", where="riverton.yml: service_requests"
    )
    assert layout.closed_values == ("resolved", "case closed")

    def row(case: str, **overrides: str) -> dict[str, str]:
        base = {
            "Case ID": case,
            "Opened": "12/01/2024 08:05",
            "Closed On": "12/02/2024 17:00",
            "State": "case closed",
            "Category": "Graffiti",
            "Detail": "",
            "Street Address": " 5 Oak  Ave ",
            "Location": "(47.605, -122.335)",
        }
        return {**base, **overrides}

    rows = [
        row("R-1"),
        row("R-2", State="RESOLVED", Detail="Private property"),
        row("R-3", State="Pending", **{"Closed On": ""}),
        row("R-4", Location="(0, 0)"),
        row("R-1"),
    ]
    result = split(con, tmp_path, rows, settings(boundary, now_sql=LATER_NOW), layout=layout)

    assert quarantine_codes(con, result.quarantine_path) == {
        4: ["coordinates_zero"],
        5: ["duplicate_record"],
    }
    got = conformed_rows(con, result)
    assert [r["request_id"] for r in got] == ["R-1", "R-2", "R-3"]
    assert [r["is_closed"] for r in got] == [True, True, False]
    assert [r["request_subtype"] for r in got] == [None, "Private property", None]
    assert got[0]["address"] == "5 Oak Ave"
    assert (got[0]["longitude"], got[0]["latitude"]) == (-122.335, 47.605)
    assert got[0]["created_us"] == local_us(2024, 12, 1, 8, 5)  # PST
    assert got[0]["closed_us"] == local_us(2024, 12, 2, 17, 0)


# --- live: the Socrata API ---------------------------------------------------------------------


def api_row(request_id: str, created: str, **extra: Any) -> dict[str, Any]:
    """A row as the SODA API serves it: API field names, a GeoJSON point, nulls omitted."""
    row: dict[str, Any] = {
        "service_request_id": request_id,
        "requested_datetime": created,
        "status_description": "Open",
        "agency_responsible": "DPW Ops Queue",
        "service_name": "Graffiti",
        "address": "1 MARKET ST",
        "lat": "47.6",
        "long": "-122.34",
        "point": {"type": "Point", "coordinates": [-122.34, 47.6]},
        "source": "Mobile/Open311",
    }
    row.update(extra)
    return row


@pytest.fixture
def portal(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePortals]:
    monkeypatch.delenv("SOCRATA_APP_TOKEN", raising=False)
    with FakePortals() as server:
        yield server


def test_live_fetch_pages_through_the_month_window(
    con: duckdb.DuckDBPyConnection, boundary: str, portal: FakePortals, tmp_path: Path
) -> None:
    served = [
        api_row("1", "2024-06-30T23:59:59.000"),
        api_row("2", "2024-07-01T00:00:00.000", closed_date="2024-07-03T10:00:00.000"),
        api_row("3", "2024-07-10T12:00:00.000", lat=None, long=None),  # only the point
        api_row("4", "2024-07-20T12:00:00.000"),
        api_row("5", "2024-07-31T23:59:59.000"),
        api_row("6", "2024-08-01T00:00:00.000"),
    ]
    portal.add_socrata(
        DATASET_ID, served, date_field="requested_datetime", fields=list(SF311.live.fields)
    )
    july, august = datetime(2024, 7, 1), datetime(2024, 8, 1)
    pages = list(
        fetch_service_requests(
            SF311,
            {"base_url": portal.base_url, "page_size": 2},
            july,
            august,
            policy=FAST,
            sleep=pytest.fail,
        )
    )

    assert [len(page) for page in pages] == [2, 2]
    rows = [row for page in pages for row in page]
    assert [r["service_request_id"] for r in rows] == ["2", "3", "4", "5"]
    assert all(set(r) == set(SF311.columns) for r in rows)  # export column names
    assert rows[0]["closed_date"] == "2024-07-03T10:00:00.000"
    assert rows[1]["lat"] is None and rows[1]["status_notes"] is None  # omitted nulls
    requests = portal.requests_to(f"/resource/{DATASET_ID}.json")
    assert [r.params["$offset"] for r in requests] == ["0", "2", "4"]
    assert {r.params["$limit"] for r in requests} == {"2"}
    assert {r.params["$where"] for r in requests} == {
        socrata_where("requested_datetime", july, august)
    }
    assert requests[0].params["$where"] == (
        "requested_datetime >= '2024-07-01T00:00:00' AND requested_datetime < '2024-08-01T00:00:00'"
    )

    # Landed like a downloaded export, the rows flow through the same split.
    frame = rows_frame(SF311, pages)
    raw = land_frame(frame, "sf311-api-2024-07", tmp_path / "raw.parquet", load_id="sf311/t").path
    result = split_service_requests(
        con,
        SF311,
        settings(boundary, now_sql=LATER_NOW),
        source="sf311",
        raw_parquet=raw,
        quarantine_path=tmp_path / "q.parquet",
        conformed_path=tmp_path / "c.parquet",
    )
    assert (result.raw_rows, result.clean_rows, result.quarantined_rows) == (4, 4, 0)
    got = conformed_rows(con, result)
    assert (got[1]["longitude"], got[1]["latitude"]) == (-122.34, 47.6)  # from the GeoJSON point
    assert got[0]["created_us"] == local_us(2024, 7, 1, 0, 0)


def test_live_renamed_field_is_schema_drift(portal: FakePortals) -> None:
    portal.add_socrata(
        DATASET_ID,
        [api_row("1", "2024-07-02T00:00:00.000")],
        date_field="requested_datetime",
        fields=list(SF311.live.fields),
    )
    portal.rename_socrata_field(DATASET_ID, "service_name", "service_type")

    with pytest.raises(SchemaDriftError, match=r"missing expected fields \['service_name'\]"):
        list(fetch_service_requests(SF311, {"base_url": portal.base_url}, None, None, policy=FAST))


def test_live_needs_a_live_section() -> None:
    layout = parse_service_request_layout(BASE_MAPPING, name="riverton", where=WHERE)
    with pytest.raises(ValueError, match="riverton has no live API"):
        list(fetch_service_requests(layout, None, None, None))


def test_live_fields_map_api_names_onto_export_columns(portal: FakePortals) -> None:
    mapping = {
        **yaml.safe_load(CUSTOM_YAML),
        "live": {
            "kind": "socrata",
            "base_url": "https://data.riverton.example",
            "dataset_id": "rvtn-0311",
            "date_field": "opened",
            "fields": {
                "case_id": "Case ID",
                "opened": "Opened",
                "closed_on": "Closed On",
                "state": "State",
                "category": "Category",
                "detail": "Detail",
                "street_address": "Street Address",
                "location": "Location",
            },
        },
    }
    layout = parse_service_request_layout(mapping, name="riverton_311", where=WHERE)
    served = {
        "case_id": "R-9",
        "opened": "2024-07-02T08:00:00.000",
        "state": "Open",
        "category": "Graffiti",
        "location": "(47.6, -122.34)",
    }
    portal.add_socrata("rvtn-0311", [served], date_field="opened", fields=list(layout.live.fields))

    [page] = fetch_service_requests(layout, {"base_url": portal.base_url}, None, None, policy=FAST)

    assert page == [
        {
            "Case ID": "R-9",
            "Opened": "2024-07-02T08:00:00.000",
            "Closed On": None,
            "State": "Open",
            "Category": "Graffiti",
            "Detail": None,
            "Street Address": None,
            "Location": "(47.6, -122.34)",
        }
    ]
    assert list(rows_frame(layout, [page]).columns) == list(layout.columns)
    (request,) = portal.requests_to("/resource/rvtn-0311.json")
    assert "$where" not in request.params  # no window asked for: the whole dataset

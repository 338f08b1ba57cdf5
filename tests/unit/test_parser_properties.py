"""Property-based tests of the parsers every published row goes through: the CSV reader, the
date, point and offense-code parsers of each built-in police layout, and the split after them.

Random and mutated rows must never crash a parser, and the split must always reconcile: raw rows
= accepted + quarantined. Values a layout declares (a date in one of its formats, a point, a
short code) must parse back to what was written; the expected values come from Python
(``zoneinfo``, ``float``, ``str``), never from DuckDB.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from crimemap.core.duckdb_spatial import connect
from crimemap.ingestion.landing import MALFORMED_COLUMN, RAW_RECORD_COLUMN, land_csv
from crimemap.ingestion.police.conform import conformed_columns_sql
from crimemap.ingestion.police.layout import (
    HHMM,
    PoliceLayout,
    builtin_layout,
    builtin_layout_names,
)
from crimemap.quality.police import split_police
from crimemap.quality.rules import REASON_CODES, EventRuleSettings
from tests.support.boundaries import load_boundary

ZONE = "America/Los_Angeles"
LAYOUTS = {name: builtin_layout(name) for name in builtin_layout_names()}
# Derandomized (examples seeded by the test's name) and without an example database: CI and a
# developer's run judge the same examples; a parser change still meets new ones.
PROPERTY = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text real exports break in: separators, quotes, line ends, accents, control characters.
TRICKY = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 ,;.\"'\r\n\t-+:/()éß€\x01\x7f")), max_size=24
)
SPECIAL = st.sampled_from(
    [
        "", " ", "N/A", "NULL", "nan", "inf", "-inf", "1e309", "0", "0.0", "-0", "9999",
        "2400", "0060", "5", "POINT (0 0)", "POINT EMPTY", "POINT (-122.33 47.61)",
        "LINESTRING (0 0, 1 1)", "(47.61, -122.33)", "(0, 0)",
        '{"type":"Point","coordinates":[1,2]}',
        "12/31/9999 11:59:59 PM", "01/01/0001 12:00:00 AM", "02/30/2024 10:00:00 AM",
        "03/10/2024 02:30:00 AM", "2024-03-10T02:30:00", "2024-07-01T10:00:00.123",
        "2024/07/01 10:00:00+0000", "0001-01-01T00:00:00", "9999-12-31T23:59:59",
    ]
)  # fmt: skip
CELL = st.one_of(TRICKY, SPECIAL, st.floats(allow_nan=True).map(repr))


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(extension_directory=tmp_path_factory.mktemp("duckdb_extensions"))
    yield connection
    connection.close()


def published(layout: PoliceLayout) -> tuple[str, ...]:
    return layout.columns or layout.read_columns


def conform(
    con: duckdb.DuckDBPyConnection, layout: PoliceLayout, rows: list[dict[str, str | None]]
) -> list[dict[str, Any]]:
    columns = published(layout)
    data = {c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns}
    con.register("raw_rows", pa.table(data))
    try:
        # Instants as epoch microseconds: DuckDB reads years Python cannot hold (9999-12-31
        # 23:59 local is in the year 10000 in UTC; such a date is quarantined as future).
        cursor = con.execute(
            "SELECT epoch_us(cm_occurred_at) AS occurred_us, cm_offense_codes, cm_longitude, "
            "cm_latitude, cm_location_zero "
            f"FROM ({conformed_columns_sql(layout, 'raw_rows', ZONE)})"
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.unregister("raw_rows")


def rows_of(layout: PoliceLayout) -> st.SearchStrategy[list[dict[str, str | None]]]:
    row = st.fixed_dictionaries({c: st.one_of(st.none(), CELL) for c in published(layout)})
    return st.lists(row, min_size=1, max_size=12)


# --- any text: no crash, one conformed row per published row ------------------------------------


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_any_text_conforms_without_error(con: duckdb.DuckDBPyConnection, name: str) -> None:
    layout = LAYOUTS[name]

    @PROPERTY
    @given(rows=rows_of(layout))
    def check(rows: list[dict[str, str | None]]) -> None:
        conformed = conform(con, layout, rows)
        assert len(conformed) == len(rows)
        for row in conformed:
            lon, lat = row["cm_longitude"], row["cm_latitude"]
            assert (lon is None) == (lat is None)
            if lon is not None:
                assert math.isfinite(lon) and math.isfinite(lat)
            assert row["cm_location_zero"] in (True, False)
            assert row["occurred_us"] is None or isinstance(row["occurred_us"], int)

    check()


# --- declared values parse back to what was written ------------------------------------------


def python_format(duckdb_format: str, moment: datetime) -> str:
    """``moment`` written in a DuckDB strftime format (``%g`` is milliseconds)."""
    return moment.strftime(duckdb_format.replace("%g", f"{moment.microsecond // 1000:03d}"))


def precision(duckdb_format: str, moment: datetime) -> datetime:
    """What a format keeps of ``moment``: milliseconds, seconds, or the day."""
    if "%g" in duckdb_format:
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    if "%S" in duckdb_format:
        return moment.replace(microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def epoch_us(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def exists_once(local: datetime, zone: ZoneInfo) -> bool:
    """Not in a DST gap nor fold: the wall-clock time names exactly one instant."""
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    back = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return back == local and first.utcoffset() == second.utcoffset()


NAIVE_FORMATS = sorted(
    (name, fmt)
    for name, layout in LAYOUTS.items()
    if layout.occurred.time_column is None
    for fmt in layout.occurred.formats
    if "%z" not in fmt
)
MOMENTS = st.datetimes(min_value=datetime(1995, 1, 1), max_value=datetime(2030, 12, 31))


@pytest.mark.parametrize(("name", "fmt"), NAIVE_FORMATS)
def test_a_date_in_a_declared_format_reads_as_written(
    con: duckdb.DuckDBPyConnection, name: str, fmt: str
) -> None:
    layout = LAYOUTS[name]
    zone = ZoneInfo(ZONE)

    @PROPERTY
    @given(moment=MOMENTS)
    def check(moment: datetime) -> None:
        expected = precision(fmt, moment)
        assume(exists_once(expected, zone))
        (row,) = conform(con, layout, [{layout.occurred.column: python_format(fmt, moment)}])
        assert row["occurred_us"] == epoch_us(expected.replace(tzinfo=zone))

    check()


HHMM_FIELDS = sorted(
    name
    for name, layout in LAYOUTS.items()
    if layout.occurred.time_column is not None and HHMM in layout.occurred.time_formats
)


@pytest.mark.parametrize("name", HHMM_FIELDS)
def test_an_hhmm_time_column_gives_the_time_of_day(
    con: duckdb.DuckDBPyConnection, name: str
) -> None:
    layout = LAYOUTS[name]
    field = layout.occurred
    assert field.time_column is not None
    date_format = next(f for f in field.formats if "%H" not in f and "%I" not in f)
    zone = ZoneInfo(ZONE)

    @PROPERTY
    @given(moment=MOMENTS.map(lambda m: m.replace(second=0, microsecond=0)))
    def check(moment: datetime) -> None:
        assume(exists_once(moment, zone))
        written = {
            field.column: moment.strftime(date_format),
            field.time_column: str(moment.hour * 100 + moment.minute),  # "5" is 00:05
        }
        (row,) = conform(con, layout, [written])
        assert row["occurred_us"] == epoch_us(moment.replace(tzinfo=zone))

    check()


COORDINATES = st.tuples(
    st.floats(min_value=-180, max_value=180, allow_nan=False),
    st.floats(min_value=-90, max_value=90, allow_nan=False),
).filter(lambda p: p != (0.0, 0.0))


def point_cells(layout: PoliceLayout) -> list[tuple[str, Any]]:
    """(kind, how to write (lon, lat) into its columns) of each WGS84 location alternative."""
    found: list[tuple[str, Any]] = []
    for loc in layout.location:
        if loc.crs != "EPSG:4326":
            continue
        if loc.kind == "lonlat":
            lon_col, lat_col = loc.columns
            found.append((loc.kind, lambda x, y, a=lon_col, b=lat_col: {a: repr(x), b: repr(y)}))
        elif loc.kind == "point_text":
            (col,) = loc.columns
            if loc.order == "latlon":
                found.append((loc.kind, lambda x, y, c=col: {c: f"({y!r}, {x!r})"}))
            else:
                found.append((loc.kind, lambda x, y, c=col: {c: f"({x!r}, {y!r})"}))
        elif loc.kind == "wkt":
            (col,) = loc.columns
            found.append((loc.kind, lambda x, y, c=col: {c: f"POINT ({x!r} {y!r})"}))
    return found


POINT_CASES = sorted(
    (name, index) for name, layout in LAYOUTS.items() for index in range(len(point_cells(layout)))
)


@pytest.mark.parametrize(("name", "index"), POINT_CASES)
def test_a_point_reads_as_written(con: duckdb.DuckDBPyConnection, name: str, index: int) -> None:
    layout = LAYOUTS[name]
    _, write = point_cells(layout)[index]

    @PROPERTY
    @given(point=COORDINATES)
    def check(point: tuple[float, float]) -> None:
        (row,) = conform(con, layout, [write(*point)])
        assert (row["cm_longitude"], row["cm_latitude"]) == point

    check()


CODE_TEXT = st.text(alphabet=st.sampled_from(list("0123456789ABCabc -./")), max_size=8)
PADDED = sorted(name for name, layout in LAYOUTS.items() if layout.offense_code_width)


def expected_code(text: str, width: int | None) -> str | None:
    code = text.strip(" ").upper()
    if not code:
        return None
    return code.rjust(width, "0") if width and len(code) < width else code


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_an_offense_code_is_trimmed_upper_cased_and_padded(
    con: duckdb.DuckDBPyConnection, name: str
) -> None:
    layout = LAYOUTS[name]

    @PROPERTY
    @given(text=CODE_TEXT)
    def check(text: str) -> None:
        (row,) = conform(con, layout, [dict.fromkeys(layout.offense_codes, text)])
        width = layout.offense_code_width
        assert row["cm_offense_codes"] == [expected_code(text, width)] * len(layout.offense_codes)
        if width and (code := expected_code(text, width)) is not None:
            # padding is idempotent: a padded code pads to itself
            (again,) = conform(con, layout, [dict.fromkeys(layout.offense_codes, code)])
            assert again["cm_offense_codes"][0] == code

    check()


# --- CSV: well-formed files read back exactly; mutated ones still reconcile ----------------------

FIELD = st.text(alphabet=st.sampled_from(list("ab1 ,;\"'\r\n\té€\x01")), max_size=12)
HEADER = ["id", "name", "value"]


def csv_field(value: str) -> str:
    """RFC 4180 quoting: a field holding a separator, a quote or any line-end character is
    quoted (``csv.writer`` leaves a lone CR bare when the line end is LF, an ambiguous file)."""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_bytes(header: list[str] | tuple[str, ...], rows: list[list[str]], line_end: str) -> bytes:
    lines = [",".join(map(csv_field, row)) for row in [list(header), *rows]]
    return "".join(line + line_end for line in lines).encode("utf-8", "surrogateescape")


@PROPERTY
@given(
    rows=st.lists(st.lists(FIELD, min_size=3, max_size=3), max_size=15),
    line_end=st.sampled_from(["\n", "\r\n"]),
)
def test_a_well_formed_csv_lands_every_value_as_written(
    tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]], line_end: str
) -> None:
    # A row of blanks is one empty field: writers and readers agree it is a row of blanks.
    work = tmp_path_factory.mktemp("csv")
    source = work / "export.csv"
    source.write_bytes(csv_bytes(HEADER, rows, line_end))
    landed = pl.read_parquet(land_csv(source, work / "raw.parquet", load_id="L").path)
    assert MALFORMED_COLUMN not in landed.columns
    assert landed.select(HEADER).rows() == [tuple(v or None for v in row) for row in rows]
    assert landed["_row_number"].to_list() == list(range(1, len(rows) + 1))


MUTATION = st.tuples(
    st.integers(min_value=0, max_value=10_000),  # where, as a share of the body
    st.integers(min_value=0, max_value=3),  # bytes removed there
    st.sampled_from([b"", b'"', b",", b"\n", b"\r", b"\x00", b"\xff", b"\xe9", b",,,", b'"x"y']),
)
SPD = LAYOUTS["seattle_spd"]


@pytest.fixture(scope="module")
def boundary(con: duckdb.DuckDBPyConnection, tmp_path_factory: pytest.TempPathFactory) -> str:
    ring = [[-122.45, 47.5], [-122.2, 47.5], [-122.2, 47.75], [-122.45, 47.75], [-122.45, 47.5]]
    polygon = json.dumps({"type": "Polygon", "coordinates": [ring]})
    path = tmp_path_factory.mktemp("areas") / "areas.parquet"
    pq.write_table(pa.table({"GEOID": ["53033000100"], "geometry": [polygon]}), path)
    return load_boundary(con, path, table="property_boundary")


def spd_row(cells: dict[str, str | None]) -> list[str]:
    return [cells.get(c) or "" for c in SPD.columns]


@PROPERTY
@given(rows=rows_of(SPD), mutations=st.lists(MUTATION, max_size=4))
def test_a_mutated_export_always_reconciles(
    con: duckdb.DuckDBPyConnection,
    boundary: str,
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[dict[str, str | None]],
    mutations: list[tuple[int, int, bytes]],
) -> None:
    data = csv_bytes(SPD.columns, [spd_row(r) for r in rows], "\n")
    header_end = data.index(b"\n") + 1
    body = bytearray(data[header_end:])
    for where, removed, inserted in mutations:
        at = where * len(body) // 10_000
        body[at : at + removed] = inserted
    work = tmp_path_factory.mktemp("mutated")
    source = work / "export.csv"
    source.write_bytes(data[:header_end] + bytes(body))

    raw = work / "raw.parquet"
    landed = pl.read_parquet(land_csv(source, raw, load_id="L").path)
    assert landed["_row_number"].to_list() == list(range(1, landed.height + 1))
    if MALFORMED_COLUMN in landed.columns:
        malformed = landed.filter(pl.col(MALFORMED_COLUMN).is_not_null())
        assert malformed[RAW_RECORD_COLUMN].is_not_null().all()
        assert malformed.select(SPD.columns).null_count().row(0) == (malformed.height,) * len(
            SPD.columns
        )
    settings_ = EventRuleSettings(
        boundary_table=boundary, projected_crs="EPSG:32610", timezone=ZONE
    )
    result = split_police(
        con,
        SPD,
        settings_,
        source="spd",
        raw_parquet=raw,
        quarantine_path=work / "quarantine.parquet",
        offenses_path=work / "offenses.parquet",
    )
    assert result.raw_rows == landed.height and result.balanced
    quarantine = pl.read_parquet(result.quarantine_path)
    assert quarantine.height == result.quarantined_rows
    for codes in quarantine["_reason_codes"].to_list():
        assert codes and set(codes) <= set(REASON_CODES)

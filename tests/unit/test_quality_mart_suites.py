"""GX suites of the published marts, run on warehouse tables read the way the checks read them.

Every frame goes through a DuckDB table with the mart's SQL types (geometry as GEOMETRY, times
as TIMESTAMPTZ, months as DATE) and comes back through ``mart_frame``, so the expectations meet
the dtypes, the geometry type names and the placeholders they meet in production.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import yaml

from ingestion.facilities import FACILITY_TYPES
from quality import mart_suites as M
from quality import suites as S
from quality.layouts import LINEAGE_COLUMNS, BBox

REPO = Path(__file__).resolve().parents[2]
MARTS_DIR = REPO / "dbt_project" / "models" / "marts"

SEATTLE_BBOX = BBox(-122.46, 47.48, -122.22, 47.74)
START = date(2024, 7, 1)
NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)
INGESTED = datetime(2026, 6, 1, 12, tzinfo=UTC)
SOURCES = ("seattle_spd", "lapd")
INDICATORS = (
    "population",
    "poverty_universe",
    "below_poverty",
    "poverty_rate",
    "median_household_income",
)
QUESTIONS = ("feel_safe_day", "feel_safe_night", "unmet_need_housing")
MIN_RESPONSES = 10

Data = dict[str, list[Any]]
Mutation = Callable[[Data], None]

NOT_NULL = "expect_column_values_to_not_be_null"
BE_NULL = "expect_column_values_to_be_null"
UNIQUE = "expect_column_values_to_be_unique"
IN_SET = "expect_column_values_to_be_in_set"
BETWEEN = "expect_column_values_to_be_between"
COMPOUND_UNIQUE = "expect_compound_columns_to_be_unique"
PAIR_GREATER = "expect_column_pair_values_a_to_be_greater_than_b"
COLUMN_SET = "expect_table_columns_to_match_set"
ROW_COUNT = "expect_table_row_count_to_be_between"

LINEAGE_FIELDS = [
    pa.field("_source_file", pa.string()),
    pa.field("_row_number", pa.int64()),
    pa.field("_ingested_at", pa.timestamp("us", tz="UTC")),
    pa.field("_load_id", pa.string()),
]


def fields(*pairs: tuple[str, pa.DataType], lineage: bool = False) -> pa.Schema:
    return pa.schema([pa.field(n, t) for n, t in pairs] + (LINEAGE_FIELDS if lineage else []))


STR, INT, BIGINT, DOUBLE, BOOL = pa.string(), pa.int32(), pa.int64(), pa.float64(), pa.bool_()
DATE, TSTZ = pa.date32(), pa.timestamp("us", tz="UTC")
# Geometry columns are written as WKT and turned into GEOMETRY in the table.
WKT = pa.string()

FCT_INCIDENTS_SCHEMA = fields(
    ("offense_key", STR), ("incident_key", STR), ("offense_seq", INT), ("source", STR),
    ("agency", STR), ("report_number", STR), ("offense_code_raw", STR), ("offense_code", STR),
    ("offense_desc_raw", STR), ("nibrs_code", STR), ("nibrs_group", STR),
    ("crime_against", STR), ("category", STR), ("is_sensitive", BOOL),
    ("mental_health_related", BOOL), ("domestic_violence", BOOL), ("juvenile_involved", BOOL),
    ("substance_related", BOOL), ("occurred_at", TSTZ), ("reported_at", TSTZ),
    ("occurred_month", DATE), ("location_precision", STR), ("block_address", STR),
    ("geom", WKT), ("area_id", STR), ("assignment_method", STR), ("occurred_raw", STR),
    ("reported_raw", STR), ("location_raw", STR), ("raw_record", STR),
    lineage=True,
)  # fmt: skip
DIM_AREA_SCHEMA = fields(
    ("area_id", STR), ("area_name", STR), ("geom", WKT), ("area_km2", DOUBLE),
    ("population", BIGINT), ("population_moe", DOUBLE), ("poverty_universe", BIGINT),
    ("poverty_count", BIGINT), ("labor_force", BIGINT), ("unemployed", BIGINT),
    ("poverty_rate", DOUBLE), ("poverty_rate_moe", DOUBLE), ("unemployment_rate", DOUBLE),
    ("unemployment_rate_moe", DOUBLE), ("median_household_income", DOUBLE),
    ("share_under_18", DOUBLE), ("share_65_plus", DOUBLE), ("population_unreliable", BOOL),
    ("poverty_rate_unreliable", BOOL), ("unemployment_rate_unreliable", BOOL),
    ("median_household_income_unreliable", BOOL), ("indicator_units", BIGINT),
    ("indicator_method", STR), ("source_rows", BIGINT), ("geometry_repaired", BOOL),
    lineage=True,
)  # fmt: skip
AREA_INDICATORS_SCHEMA = fields(
    ("area_id", STR), ("area_name", STR), ("indicator", STR), ("kind", STR),
    ("estimate", DOUBLE), ("moe", DOUBLE), ("cv_pct", DOUBLE), ("unreliable", BOOL),
    ("source_units", BIGINT), ("method", STR),
)  # fmt: skip
AREA_MONTH_RATES_SCHEMA = fields(
    ("area_id", STR), ("month", DATE), ("category", STR), ("incident_count", BIGINT),
    ("incident_reports", BIGINT), ("population", BIGINT), ("rate_suppressed", BOOL),
    ("rate_per_1000", DOUBLE), ("eb_rate_per_1000", DOUBLE),
)  # fmt: skip
DIM_FACILITY_SCHEMA = fields(
    ("facility_id", STR), ("name", STR), ("facility_type", STR), ("facility_type_raw", STR),
    ("address", STR), ("geom", WKT), ("area_id", STR), ("assignment_method", STR),
    lineage=True,
)  # fmt: skip
SERVICE_REQUESTS_SCHEMA = fields(
    ("area_id", STR), ("month", DATE), ("request_type", STR), ("requests", BIGINT),
    ("closed_requests", BIGINT), ("median_days_to_close", DOUBLE),
)  # fmt: skip
SURVEY_SCHEMA = fields(
    ("area_id", STR), ("area_name", STR), ("survey", STR), ("question", STR),
    ("area_respondents", BIGINT), ("respondents", BIGINT), ("suppressed", BOOL),
    ("weight_total", DOUBLE), ("weighted_share", DOUBLE),
)  # fmt: skip


# --- the warehouse -----------------------------------------------------------------------------


def load_mart(con: duckdb.DuckDBPyConnection, mart: str, schema: pa.Schema, data: Data) -> None:
    """``data`` as the warehouse table ``mart``: the schema's types, WKT ``geom`` as GEOMETRY."""
    con.register("incoming", pa.Table.from_pydict(data, schema=schema))
    geometry = " REPLACE (ST_GeomFromText(geom) AS geom)" if "geom" in schema.names else ""
    con.execute(f"CREATE OR REPLACE TABLE {mart} AS SELECT *{geometry} FROM incoming")
    con.unregister("incoming")


def frame_of(con: duckdb.DuckDBPyConnection, mart: str, spec: S.SuiteSpec) -> Any:
    return M.mart_frame(con, mart, M.read_columns(spec))


def failed_by(outcome: S.SuiteOutcome, expectation: str, column: str | None = None) -> list[dict]:
    return [f for f in outcome.failed if f["expectation"] == expectation and f["column"] == column]


def assert_passes(spec: S.SuiteSpec, frame: Any) -> None:
    outcome = S.run_suite(spec, frame)
    assert outcome.failed == []
    assert outcome.success and not outcome.blocking
    assert outcome.n_expectations == len(spec.expectations)


def assert_blocks(spec: S.SuiteSpec, frame: Any, expectation: str, column: str | None) -> dict:
    """The batch fails as ERROR, and the named expectation is among the blocking failures."""
    outcome = S.run_suite(spec, frame)
    assert not outcome.success
    assert outcome.severity == "ERROR" and outcome.blocking
    found = [f for f in failed_by(outcome, expectation, column) if f["severity"] == "ERROR"]
    assert len(found) == 1, outcome.failed
    return found[0]


def assert_warns(spec: S.SuiteSpec, frame: Any, expectation: str, column: str | None) -> dict:
    """The batch fails only with warnings (not blocking), the named expectation among them."""
    outcome = S.run_suite(spec, frame)
    assert not outcome.success
    assert outcome.severity == "WARN" and not outcome.blocking
    assert all(f["severity"] == "WARN" for f in outcome.failed), outcome.failed
    found = failed_by(outcome, expectation, column)
    assert len(found) == 1, outcome.failed
    return found[0]


def setter(column: str, row: int, value: Any) -> Mutation:
    def mutate(data: Data) -> None:
        data[column][row] = value

    return mutate


def copier(column: str, source: int, target: int) -> Mutation:
    def mutate(data: Data) -> None:
        data[column][target] = data[column][source]

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(data: Data) -> None:
        for m in mutations:
            m(data)

    return mutate


def lineage(n: int, source_file: str) -> Data:
    return {
        "_source_file": [source_file] * n,
        "_row_number": list(range(1, n + 1)),
        "_ingested_at": [INGESTED] * n,
        "_load_id": ["load-1"] * n,
    }


def point(i: int) -> str:
    return f"POINT ({-122.40 + i * 0.003:.6f} {47.55 + i * 0.002:.6f})"


def square(i: int, size: float = 0.01) -> str:
    x, y = -122.40 + (i % 5) * size, 47.55 + (i // 5) * size
    return f"POLYGON (({x} {y}, {x + size} {y}, {x + size} {y + size}, {x} {y + size}, {x} {y}))"


def area_key(i: int) -> str:
    return f"530330{i:05d}"


# --- fct_incidents -----------------------------------------------------------------------------

N_INCIDENTS = 40
MAPPED = [c for c in M.INCIDENT_CATEGORIES if c != M.UNMAPPED]
NO_POINT = {9, 19, 29, 39}  # published without coordinates
OUTSIDE_AREAS = 5  # a point in no area (beyond the snap tolerance)
UNMAPPED_ROW = 7


def good_incidents(n: int = N_INCIDENTS) -> Data:
    occurred = [datetime(2024, 7, 1, 20, tzinfo=UTC) + timedelta(days=17 * i) for i in range(n)]
    category = [MAPPED[i % len(MAPPED)] for i in range(n)]
    category[UNMAPPED_ROW] = M.UNMAPPED  # 1 of 40: within the 5% allowed
    located = [i not in NO_POINT for i in range(n)]
    assigned = [located[i] and i != OUTSIDE_AREAS for i in range(n)]
    data: Data = {
        "offense_key": [f"{SOURCES[i % 2]}:{i // 2}:{i % 2 + 1}" for i in range(n)],
        "incident_key": [f"{SOURCES[i % 2]}:{i // 2}" for i in range(n)],
        "offense_seq": [i % 2 + 1 for i in range(n)],
        "source": [SOURCES[i % 2] for i in range(n)],
        "agency": ["Seattle PD" if i % 2 == 0 else "LAPD" for i in range(n)],
        "report_number": [str(i // 2) for i in range(n)],
        "offense_code_raw": ["23h"] * n,
        "offense_code": ["23H"] * n,
        "offense_desc_raw": ["THEFT"] * n,
        "nibrs_code": [None if c == M.UNMAPPED else "23H" for c in category],
        "nibrs_group": [None if c == M.UNMAPPED else "A" for c in category],
        "crime_against": [None if c == M.UNMAPPED else "property" for c in category],
        "category": category,
        "is_sensitive": [c in ("sexual_offense", M.UNMAPPED) for c in category],
        "mental_health_related": [False] * n,
        "domestic_violence": [False] * n,
        "juvenile_involved": [False] * n,
        "substance_related": [False] * n,
        "occurred_at": occurred,
        "reported_at": [t + timedelta(hours=2) for t in occurred],
        # 20:00 UTC is midday in Seattle: the local month is the UTC month.
        "occurred_month": [date(t.year, t.month, 1) for t in occurred],
        "location_precision": ["exact" if p else "none" for p in located],
        "block_address": ["1XX BLOCK OF PINE ST"] * n,
        "geom": [point(i) if located[i] else None for i in range(n)],
        "area_id": [area_key(i % 6) if assigned[i] else None for i in range(n)],
        "assignment_method": [
            ("snapped" if i == 3 else "covered") if assigned[i] else "unassigned" for i in range(n)
        ],
        "occurred_raw": [t.strftime("%m/%d/%Y %I:%M:%S %p") for t in occurred],
        "reported_raw": [None] * n,
        "location_raw": [None] * n,
        "raw_record": ['{"Offense Code": "23H"}'] * n,
    }
    data.update(lineage(n, "seattle.csv"))
    return data


def incidents_suite(**kwargs: Any) -> S.SuiteSpec:
    return M.fct_incidents_suite(SOURCES, start=START, now=NOW, bbox=SEATTLE_BBOX, **kwargs)


def incidents_frame(con: duckdb.DuckDBPyConnection, data: Data, spec: S.SuiteSpec) -> Any:
    load_mart(con, "fct_incidents", FCT_INCIDENTS_SCHEMA, data)
    return frame_of(con, "fct_incidents", spec)


def drop_point(row: int) -> Mutation:
    return both(setter("geom", row, None), setter("area_id", row, None),
                setter("assignment_method", row, "unassigned"))  # fmt: skip


def test_fct_incidents_suite_passes(con: duckdb.DuckDBPyConnection) -> None:
    spec = incidents_suite()
    frame = incidents_frame(con, good_incidents(), spec)
    assert frame["geom"].tolist() == [False] * N_INCIDENTS  # not read: a placeholder
    assert frame["longitude"].notna().sum() == N_INCIDENTS - len(NO_POINT)
    assert_passes(spec, frame)


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("offense_key", 0, 1), UNIQUE, "offense_key"),
        (setter("offense_key", 2, None), NOT_NULL, "offense_key"),
        (setter("incident_key", 2, None), NOT_NULL, "incident_key"),
        (setter("source", 2, "chicago"), IN_SET, "source"),
        (setter("source", 2, None), NOT_NULL, "source"),
        (setter("category", 2, "larceny"), IN_SET, "category"),
        (setter("category", 2, None), NOT_NULL, "category"),
        (setter("is_sensitive", 2, None), NOT_NULL, "is_sensitive"),
        (setter("is_sensitive", UNMAPPED_ROW, False), IN_SET, "is_sensitive"),
        (setter("location_precision", 2, "rooftop"), IN_SET, "location_precision"),
        (setter("location_precision", 2, None), NOT_NULL, "location_precision"),
        (setter("location_precision", 2, "none"), BE_NULL, "longitude"),
        (drop_point(2), NOT_NULL, "longitude"),
        (setter("assignment_method", 2, "nearest"), IN_SET, "assignment_method"),
        (setter("assignment_method", 2, None), NOT_NULL, "assignment_method"),
        (setter("area_id", 2, None), NOT_NULL, "area_id"),
        (setter("area_id", OUTSIDE_AREAS, area_key(0)), BE_NULL, "area_id"),
        (setter("occurred_at", 2, NOW + timedelta(hours=1)), BETWEEN, "occurred_at"),
    ],
    ids=[
        "duplicate-key",
        "null-key",
        "null-incident",
        "unknown-source",
        "null-source",
        "unknown-category",
        "null-category",
        "null-sensitive",
        "unmapped-not-sensitive",
        "unknown-precision",
        "null-precision",
        "point-with-precision-none",
        "exact-without-point",
        "unknown-method",
        "null-method",
        "assigned-without-area",
        "unassigned-with-area",
        "future",
    ],
)
def test_fct_incidents_suite_errors(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = incidents_suite()
    data = good_incidents()
    mutate(data)
    assert_blocks(spec, incidents_frame(con, data, spec), expectation, column)


def unmapped_rows(*rows: int) -> Mutation:
    return both(*(setter("category", r, M.UNMAPPED) for r in rows),
                *(setter("is_sensitive", r, True) for r in rows))  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (unmapped_rows(0, 1, 2), IN_SET, "category"),  # 4 of 40 unmapped
        (setter("occurred_month", 2, date(2019, 3, 1)), BETWEEN, "occurred_month"),
        (
            both(*(setter("geom", r, "POINT (-118.24 34.05)") for r in range(5))),
            BETWEEN,
            "longitude",
        ),
    ],
    ids=["many-unmapped", "reported-years-late", "points-outside-bbox"],
)
def test_fct_incidents_suite_warns(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = incidents_suite()
    data = good_incidents()
    mutate(data)
    assert_warns(spec, incidents_frame(con, data, spec), expectation, column)


def test_fct_incidents_suite_is_lean() -> None:
    """A million rows, a shared time budget: few columns, no text patterns, no row-by-row
    Python, no compound keys (``offense_key`` is the key)."""
    spec = incidents_suite()
    read = M.read_columns(spec)
    assert len(read) <= 12, read
    assert not {"raw_record", "geom", "block_address", "occurred_raw"} & set(read)
    kinds = {e.kind for e in spec.expectations}
    assert kinds <= {
        "ExpectTableColumnsToMatchSet",
        "ExpectTableRowCountToBeBetween",
        "ExpectColumnValuesToNotBeNull",
        "ExpectColumnValuesToBeNull",
        "ExpectColumnValuesToBeUnique",
        "ExpectColumnValuesToBeInSet",
        "ExpectColumnValuesToBeBetween",
    }, kinds


def test_fct_incidents_suite_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        M.fct_incidents_suite(SOURCES, start=START, now=datetime(2026, 1, 1), bbox=SEATTLE_BBOX)


# --- dim_area ----------------------------------------------------------------------------------

N_AREAS = 25
NO_INDICATORS = 24  # an area the indicators do not cover: 1 of 25 without a population


def good_areas(n: int = N_AREAS) -> Data:
    def measured(value: Any) -> list[Any]:
        return [None if i == NO_INDICATORS else value(i) for i in range(n)]

    data: Data = {
        "area_id": [area_key(i) for i in range(n)],
        "area_name": [f"Census Tract {i}" for i in range(n)],
        "geom": [square(i) for i in range(n)],
        "area_km2": [0.83] * n,
        "population": measured(lambda i: 3000 + 10 * i),
        "population_moe": measured(lambda i: 250.0),
        "poverty_universe": measured(lambda i: 2900),
        "poverty_count": measured(lambda i: 300 + i),
        "labor_force": measured(lambda i: 1600),
        "unemployed": measured(lambda i: 80),
        "poverty_rate": measured(lambda i: (300 + i) / 2900),
        "poverty_rate_moe": measured(lambda i: 0.03),
        "unemployment_rate": measured(lambda i: 0.05),
        "unemployment_rate_moe": measured(lambda i: 0.02),
        "median_household_income": measured(lambda i: 85000.0 if i != 3 else 0.0),
        "share_under_18": measured(lambda i: 0.2),
        "share_65_plus": measured(lambda i: 0.15),
        "population_unreliable": [i == NO_INDICATORS for i in range(n)],
        "poverty_rate_unreliable": [i in (2, NO_INDICATORS) for i in range(n)],
        "unemployment_rate_unreliable": [i == NO_INDICATORS for i in range(n)],
        "median_household_income_unreliable": [i == NO_INDICATORS for i in range(n)],
        "indicator_units": measured(lambda i: 1),
        "indicator_method": measured(lambda i: "identity"),
        "source_rows": [2 if i == 0 else 1 for i in range(n)],
        "geometry_repaired": [i == 1 for i in range(n)],
    }
    data.update(lineage(n, "areas.geojson"))
    return data


def areas_frame(con: duckdb.DuckDBPyConnection, data: Data, spec: S.SuiteSpec) -> Any:
    load_mart(con, "dim_area", DIM_AREA_SCHEMA, data)
    return frame_of(con, "dim_area", spec)


def test_dim_area_suite_passes(con: duckdb.DuckDBPyConnection) -> None:
    spec = M.dim_area_suite()
    frame = areas_frame(con, good_areas(), spec)
    assert set(frame["geom"]) == {"POLYGON"}  # the geometry's kind, not its WKB
    assert_passes(spec, frame)


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("area_id", 0, 1), UNIQUE, "area_id"),
        (setter("area_id", 2, None), NOT_NULL, "area_id"),
        (setter("geom", 2, None), NOT_NULL, "geom"),
        (setter("geom", 2, "POINT (-122.3 47.6)"), IN_SET, "geom"),
        (setter("area_km2", 2, 0.0), BETWEEN, "area_km2"),
        (setter("area_km2", 2, None), NOT_NULL, "area_km2"),
        (setter("population", 2, -1), BETWEEN, "population"),
        (setter("population_moe", 2, -555555555.0), BETWEEN, "population_moe"),
        (setter("median_household_income", 2, -666666666.0), BETWEEN, "median_household_income"),
        (setter("poverty_rate", 2, 1.2), BETWEEN, "poverty_rate"),
        (setter("share_65_plus", 2, -0.1), BETWEEN, "share_65_plus"),
        (setter("poverty_count", 2, 3000), PAIR_GREATER, "poverty_universe, poverty_count"),
        (setter("unemployed", 2, 1700), PAIR_GREATER, "labor_force, unemployed"),
        (setter("population_unreliable", 2, None), NOT_NULL, "population_unreliable"),
        (
            setter("population_unreliable", NO_INDICATORS, False),
            IN_SET,
            "population_unreliable",
        ),
        (
            setter("median_household_income_unreliable", NO_INDICATORS, False),
            IN_SET,
            "median_household_income_unreliable",
        ),
        (setter("indicator_units", 2, 0), BETWEEN, "indicator_units"),
        (setter("indicator_method", 2, "nearest"), IN_SET, "indicator_method"),
        (setter("source_rows", 2, 0), BETWEEN, "source_rows"),
        (setter("geometry_repaired", 2, None), NOT_NULL, "geometry_repaired"),
    ],
    ids=[
        "duplicate-id",
        "null-id",
        "no-geometry",
        "not-a-polygon",
        "zero-size",
        "null-size",
        "negative-population",
        "sentinel-moe",
        "sentinel-income",
        "rate-above-one",
        "negative-share",
        "more-poor-than-universe",
        "more-unemployed-than-labor-force",
        "null-flag",
        "missing-population-reliable",
        "missing-income-reliable",
        "no-units",
        "unknown-method",
        "no-source-rows",
        "null-repaired",
    ],
)
def test_dim_area_suite_errors(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = M.dim_area_suite()
    data = good_areas()
    mutate(data)
    assert_blocks(spec, areas_frame(con, data, spec), expectation, column)


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (
            both(*(setter("population", r, None) for r in range(3)),
                 *(setter("population_unreliable", r, True) for r in range(3))),
            NOT_NULL,
            "population",
        ),
        (
            both(*(setter("population_unreliable", r, True) for r in range(8))),
            IN_SET,
            "population_unreliable",
        ),
    ],
    ids=["populations-missing", "populations-unreliable"],
)  # fmt: skip
def test_dim_area_suite_warns(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = M.dim_area_suite()
    data = good_areas()
    mutate(data)
    assert_warns(spec, areas_frame(con, data, spec), expectation, column)


# --- area_indicators ---------------------------------------------------------------------------


def indicator_row(area: str, indicator: str, kind: str, estimate: float | None, moe: float | None):
    """A row as the mart computes it: cv = moe / 1.645 / estimate x 100, unreliable when the
    estimate is missing or the cv above 30."""
    cv = None if estimate is None or moe is None or estimate == 0 else moe / 1.645 / estimate * 100
    return {
        "area_id": area,
        "area_name": f"Area {area[-3:]}",
        "indicator": indicator,
        "kind": kind,
        "estimate": estimate,
        "moe": moe,
        "cv_pct": cv,
        "unreliable": estimate is None or (cv is not None and cv > 30),
        "source_units": 1,
        "method": "identity",
    }


def good_indicators(areas: int = 4) -> Data:
    rows = []
    for a in range(areas):
        area = area_key(a)
        rows += [
            indicator_row(area, "population", "count", 4000.0 + a, 300.0),
            indicator_row(area, "poverty_universe", "count", 3900.0, 310.0),
            indicator_row(area, "below_poverty", "count", 480.0, 120.0),
            indicator_row(area, "poverty_rate", "proportion", 0.123, 0.03),
            indicator_row(area, "median_household_income", "median", 85000.0, 9000.0),
        ]
    # A small, noisy count (cv about 60) and a missing median: both flagged, 2 of 20.
    rows[2] = indicator_row(rows[2]["area_id"], "below_poverty", "count", 40.0, 40.0)
    rows[9] = indicator_row(rows[9]["area_id"], "median_household_income", "median", None, None)
    return {c: [r[c] for r in rows] for c in rows[0]}


def indicators_frame(con: duckdb.DuckDBPyConnection, data: Data, spec: S.SuiteSpec) -> Any:
    load_mart(con, "area_indicators", AREA_INDICATORS_SCHEMA, data)
    return frame_of(con, "area_indicators", spec)


def test_area_indicators_suite_passes(con: duckdb.DuckDBPyConnection) -> None:
    spec = M.area_indicators_suite(INDICATORS)
    data = good_indicators()
    assert data["unreliable"].count(True) == 2
    assert max(e for e in data["estimate"] if e is not None) > 1  # counts are not proportions
    assert_passes(spec, indicators_frame(con, data, spec))


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("indicator", 0, 1), COMPOUND_UNIQUE, "area_id, indicator"),
        (setter("area_id", 0, None), NOT_NULL, "area_id"),
        (setter("indicator", 0, "households"), IN_SET, "indicator"),
        (setter("indicator", 0, None), NOT_NULL, "indicator"),
        (setter("kind", 0, "ratio"), IN_SET, "kind"),
        (setter("estimate", 0, -1.0), BETWEEN, "estimate"),
        (setter("estimate", 3, 1.2), BETWEEN, "estimate"),  # a proportion above 1
        (setter("moe", 0, -555555555.0), BETWEEN, "moe"),
        (setter("cv_pct", 0, -5.0), BETWEEN, "cv_pct"),
        (setter("unreliable", 0, None), NOT_NULL, "unreliable"),
        (setter("unreliable", 0, True), IN_SET, "unreliable"),  # cv about 4.5
        (setter("unreliable", 2, False), IN_SET, "unreliable"),  # cv about 60
        (setter("unreliable", 9, False), IN_SET, "unreliable"),  # no estimate
        (setter("source_units", 0, 0), BETWEEN, "source_units"),
        (setter("method", 0, "nearest"), IN_SET, "method"),
    ],
    ids=[
        "duplicate-area-indicator",
        "null-area",
        "unknown-indicator",
        "null-indicator",
        "unknown-kind",
        "negative-estimate",
        "proportion-above-one",
        "sentinel-moe",
        "negative-cv",
        "null-flag",
        "reliable-flagged",
        "noisy-not-flagged",
        "missing-not-flagged",
        "no-units",
        "unknown-method",
    ],
)
def test_area_indicators_suite_errors(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = M.area_indicators_suite(INDICATORS)
    data = good_indicators()
    mutate(data)
    assert_blocks(spec, indicators_frame(con, data, spec), expectation, column)


def test_area_indicators_suite_warns_on_unreliable_estimates(
    con: duckdb.DuckDBPyConnection,
) -> None:
    data = good_indicators()
    for row in range(0, 20, 3):  # large margins on 7 rows, 6 of them new: 8 of 20 unreliable
        data["moe"][row] = data["estimate"][row] or 1.0
        data["cv_pct"][row] = 100 / 1.645
        data["unreliable"][row] = True
    spec = M.area_indicators_suite(INDICATORS)
    assert_warns(spec, indicators_frame(con, data, spec), IN_SET, "unreliable")


# --- area_month_rates --------------------------------------------------------------------------

RATE_POPULATIONS = (1000, 2000, 3000, 50, None)  # the last two: rates withheld
RATE_MONTHS = (date(2024, 7, 1), date(2024, 8, 1))


def good_rates() -> Data:
    rows = []
    for a, population in enumerate(RATE_POPULATIONS):
        for month in RATE_MONTHS:
            for c, category in enumerate((M.ALL_CATEGORIES, *M.INCIDENT_CATEGORIES)):
                count = (a + c) % 4
                reported = population is not None and population >= M.DEFAULT_MIN_POPULATION
                rows.append(
                    {
                        "area_id": area_key(a),
                        "month": month,
                        "category": category,
                        "incident_count": count,
                        "incident_reports": max(count - 1, 0),
                        "population": population,
                        "rate_suppressed": not reported,
                        "rate_per_1000": count / population * 1000 if reported else None,
                        "eb_rate_per_1000": (count + 1) / population * 1000 if reported else None,
                    }
                )
    return {c: [r[c] for r in rows] for c in rows[0]}


ROWS_PER_AREA = len(RATE_MONTHS) * (len(M.INCIDENT_CATEGORIES) + 1)
SMALL_AREA_ROW = 3 * ROWS_PER_AREA  # population 50
UNKNOWN_AREA_ROW = 4 * ROWS_PER_AREA  # population unknown


def rates_suite(**kwargs: Any) -> S.SuiteSpec:
    return M.area_month_rates_suite(start=START, now=NOW, **kwargs)


def rates_frame(con: duckdb.DuckDBPyConnection, data: Data, spec: S.SuiteSpec) -> Any:
    load_mart(con, "area_month_rates", AREA_MONTH_RATES_SCHEMA, data)
    return frame_of(con, "area_month_rates", spec)


def test_area_month_rates_suite_passes(con: duckdb.DuckDBPyConnection) -> None:
    spec = rates_suite(min_reported_share=0.5)  # 2 of 5 areas withheld
    assert_passes(spec, rates_frame(con, good_rates(), spec))


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("category", 0, 1), COMPOUND_UNIQUE, "area_id, month, category"),
        (setter("area_id", 2, None), NOT_NULL, "area_id"),
        (setter("month", 2, None), NOT_NULL, "month"),
        (setter("category", 2, None), NOT_NULL, "category"),
        (setter("category", 2, "larceny"), IN_SET, "category"),
        (setter("month", 2, date(2026, 8, 1)), BETWEEN, "month"),
        (setter("incident_count", 2, None), NOT_NULL, "incident_count"),
        (setter("incident_reports", 2, -1), BETWEEN, "incident_reports"),
        (setter("incident_reports", 2, 9), PAIR_GREATER, "incident_count, incident_reports"),
        (setter("population", 2, -5), BETWEEN, "population"),
        (setter("rate_per_1000", 2, -1.0), BETWEEN, "rate_per_1000"),
        (setter("rate_suppressed", 2, None), NOT_NULL, "rate_suppressed"),
        (
            both(setter("rate_suppressed", SMALL_AREA_ROW, False),
                 setter("rate_per_1000", SMALL_AREA_ROW, 20.0)),
            IN_SET,
            "rate_suppressed",
        ),
        (
            both(setter("rate_suppressed", UNKNOWN_AREA_ROW, False),
                 setter("rate_per_1000", UNKNOWN_AREA_ROW, 0.0)),
            IN_SET,
            "rate_suppressed",
        ),
        (
            both(setter("rate_suppressed", 2, True), setter("rate_per_1000", 2, None)),
            IN_SET,
            "rate_suppressed",
        ),
        (setter("rate_per_1000", SMALL_AREA_ROW, 20.0), BE_NULL, "rate_per_1000"),
        (setter("rate_per_1000", 2, None), NOT_NULL, "rate_per_1000"),
    ],
    ids=[
        "duplicate-cell",
        "null-area",
        "null-month",
        "null-category",
        "unknown-category",
        "month-in-future",
        "null-count",
        "negative-reports",
        "more-reports-than-offenses",
        "negative-population",
        "negative-rate",
        "null-flag",
        "small-population-reported",
        "unknown-population-reported",
        "large-population-withheld",
        "rate-despite-suppression",
        "no-rate-unsuppressed",
    ],
)  # fmt: skip
def test_area_month_rates_suite_errors(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = rates_suite(min_reported_share=0.5)
    data = good_rates()
    mutate(data)
    assert_blocks(spec, rates_frame(con, data, spec), expectation, column)


def test_area_month_rates_suite_warns_on_withheld_rates(con: duckdb.DuckDBPyConnection) -> None:
    spec = rates_suite()  # at most 10% withheld: here 40%
    failure = assert_warns(spec, rates_frame(con, good_rates(), spec), IN_SET, "rate_suppressed")
    assert failure["unexpected_count"] == 2 * ROWS_PER_AREA


def test_area_month_rates_suite_warns_on_months_before_the_start(
    con: duckdb.DuckDBPyConnection,
) -> None:
    spec = rates_suite(min_reported_share=0.5)
    data = good_rates()
    setter("month", 2, date(2019, 1, 1))(data)  # an old offense reported late: real, but early
    failure = assert_warns(spec, rates_frame(con, data, spec), BETWEEN, "month")
    assert failure["unexpected_count"] == 1


def test_area_month_rates_floor_is_a_parameter(con: duckdb.DuckDBPyConnection) -> None:
    spec = rates_suite(min_population=10, min_reported_share=0.5)  # 50 residents now suffice
    frame = rates_frame(con, good_rates(), spec)
    assert_blocks(spec, frame, IN_SET, "rate_suppressed")


# --- dim_facility ------------------------------------------------------------------------------

N_FACILITIES = 12
UNASSIGNED_FACILITY = 11


def good_facilities(n: int = N_FACILITIES) -> Data:
    assigned = [i != UNASSIGNED_FACILITY for i in range(n)]
    data: Data = {
        "facility_id": [f"F{i}" for i in range(n)],
        "name": [f"Facility {i}" for i in range(n)],
        "facility_type": [FACILITY_TYPES[i % len(FACILITY_TYPES)] for i in range(n)],
        "facility_type_raw": ["Community Clinic"] * n,
        "address": [f"{100 + i} Pine St" for i in range(n)],
        "geom": [point(i) for i in range(n)],
        "area_id": [area_key(i % 6) if a else None for i, a in enumerate(assigned)],
        "assignment_method": ["covered" if a else "unassigned" for a in assigned],
    }
    data.update(lineage(n, "facilities.csv"))
    return data


def facilities_frame(con: duckdb.DuckDBPyConnection, data: Data, spec: S.SuiteSpec) -> Any:
    load_mart(con, "dim_facility", DIM_FACILITY_SCHEMA, data)
    return frame_of(con, "dim_facility", spec)


def test_dim_facility_suite_passes(con: duckdb.DuckDBPyConnection) -> None:
    spec = M.dim_facility_suite(bbox=SEATTLE_BBOX)
    frame = facilities_frame(con, good_facilities(), spec)
    assert set(frame["geom"]) == {"POINT"}
    assert_passes(spec, frame)


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("facility_id", 0, 1), UNIQUE, "facility_id"),
        (setter("facility_id", 2, None), NOT_NULL, "facility_id"),
        (setter("facility_type", 2, "hospital"), IN_SET, "facility_type"),
        (setter("facility_type", 2, None), NOT_NULL, "facility_type"),
        (setter("geom", 2, None), NOT_NULL, "geom"),
        (setter("geom", 2, square(2)), IN_SET, "geom"),
        (setter("assignment_method", 2, "nearest"), IN_SET, "assignment_method"),
        (setter("area_id", 2, None), NOT_NULL, "area_id"),
        (setter("area_id", UNASSIGNED_FACILITY, area_key(0)), BE_NULL, "area_id"),
    ],
    ids=[
        "duplicate-id",
        "null-id",
        "unknown-type",
        "null-type",
        "no-point",
        "not-a-point",
        "unknown-method",
        "assigned-without-area",
        "unassigned-with-area",
    ],
)
def test_dim_facility_suite_errors(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = M.dim_facility_suite(bbox=SEATTLE_BBOX)
    data = good_facilities()
    mutate(data)
    assert_blocks(spec, facilities_frame(con, data, spec), expectation, column)


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (setter("name", 2, None), NOT_NULL, "name"),
        (
            both(setter("geom", 2, "POINT (-118.24 34.05)"),
                 setter("geom", 3, "POINT (-118.25 34.06)")),
            BETWEEN,
            "latitude",
        ),
        (
            both(*(setter("area_id", r, None) for r in (0, 1)),
                 *(setter("assignment_method", r, "unassigned") for r in (0, 1))),
            IN_SET,
            "assignment_method",
        ),
    ],
    ids=["unnamed", "points-outside-bbox", "many-unassigned"],
)  # fmt: skip
def test_dim_facility_suite_warns(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = M.dim_facility_suite(bbox=SEATTLE_BBOX)
    data = good_facilities()
    mutate(data)
    assert_warns(spec, facilities_frame(con, data, spec), expectation, column)


# --- service_requests_area_month ---------------------------------------------------------------

REQUEST_TYPES = ("Graffiti", "Encampment")
NOTHING_CLOSED_ROW = 1


def good_requests() -> Data:
    rows = []
    for a in range(3):
        for month in RATE_MONTHS:
            for request_type in REQUEST_TYPES:
                requests = len(rows) % 5
                closed = 0 if len(rows) == NOTHING_CLOSED_ROW else requests // 2
                rows.append(
                    {
                        "area_id": area_key(a),
                        "month": month,
                        "request_type": request_type,
                        "requests": requests,
                        "closed_requests": closed,
                        "median_days_to_close": 2.5 + len(rows) if closed else None,
                    }
                )
    return {c: [r[c] for r in rows] for c in rows[0]}


def requests_suite(**kwargs: Any) -> S.SuiteSpec:
    return M.service_requests_area_month_suite(start=START, now=NOW, **kwargs)


def requests_frame(con: duckdb.DuckDBPyConnection, data: Data, spec: S.SuiteSpec) -> Any:
    load_mart(con, "service_requests_area_month", SERVICE_REQUESTS_SCHEMA, data)
    return frame_of(con, "service_requests_area_month", spec)


def test_service_requests_suite_passes(con: duckdb.DuckDBPyConnection) -> None:
    spec = requests_suite()
    data = good_requests()
    assert data["median_days_to_close"].count(None) >= 2
    assert_passes(spec, requests_frame(con, data, spec))


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("request_type", 0, 1), COMPOUND_UNIQUE, "area_id, month, request_type"),
        (setter("request_type", 2, None), NOT_NULL, "request_type"),
        (setter("month", 2, date(2027, 1, 1)), BETWEEN, "month"),
        (setter("requests", 2, None), NOT_NULL, "requests"),
        (setter("requests", 0, -1), BETWEEN, "requests"),
        (setter("closed_requests", 4, 9), PAIR_GREATER, "requests, closed_requests"),
        (setter("median_days_to_close", 3, -0.5), BETWEEN, "median_days_to_close"),
        (setter("median_days_to_close", NOTHING_CLOSED_ROW, 3.0), BE_NULL, "median_days_to_close"),
    ],
    ids=[
        "duplicate-cell",
        "null-type",
        "month-in-future",
        "null-count",
        "negative-count",
        "more-closed-than-opened",
        "negative-median",
        "median-without-closure",
    ],
)
def test_service_requests_suite_errors(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = requests_suite()
    data = good_requests()
    mutate(data)
    assert_blocks(spec, requests_frame(con, data, spec), expectation, column)


def test_service_requests_suite_warns_on_months_before_the_start(
    con: duckdb.DuckDBPyConnection,
) -> None:
    data = good_requests()
    setter("month", 2, date(2024, 6, 1))(data)
    spec = requests_suite()
    failure = assert_warns(spec, requests_frame(con, data, spec), BETWEEN, "month")
    assert failure["unexpected_count"] == 1


def test_service_requests_suite_warns_on_slow_closures(con: duckdb.DuckDBPyConnection) -> None:
    data = good_requests()
    slow = [r for r, m in enumerate(data["median_days_to_close"]) if m is not None][:2]
    for row in slow:
        data["median_days_to_close"][row] = 400.0
    spec = requests_suite()
    failure = assert_warns(spec, requests_frame(con, data, spec), BETWEEN, "median_days_to_close")
    assert failure["sample"] == [400.0, 400.0]


# --- survey_area_responses ---------------------------------------------------------------------

SUPPRESSED_ROWS = (0, 1, 2)  # the first area's answers: 4 respondents


def good_survey() -> Data:
    rows = []
    for a in range(6):
        area_respondents = 4 if a == 0 else 30 + a
        for q, question in enumerate(QUESTIONS):
            respondents = area_respondents - q
            shown = respondents >= MIN_RESPONSES
            rows.append(
                {
                    "area_id": area_key(a),
                    "area_name": f"Area {a}",
                    "survey": "resident_survey_2025",
                    "question": question,
                    "area_respondents": area_respondents,
                    "respondents": respondents,
                    "suppressed": not shown,
                    "weight_total": respondents * 1.1 if shown else None,
                    "weighted_share": 0.4 + q * 0.1 if shown else None,
                }
            )
    return {c: [r[c] for r in rows] for c in rows[0]}


def survey_suite(**kwargs: Any) -> S.SuiteSpec:
    return M.survey_area_responses_suite(QUESTIONS, min_responses=MIN_RESPONSES, **kwargs)


def survey_frame(con: duckdb.DuckDBPyConnection, data: Data, spec: S.SuiteSpec) -> Any:
    load_mart(con, "survey_area_responses", SURVEY_SCHEMA, data)
    return frame_of(con, "survey_area_responses", spec)


def test_survey_suite_passes(con: duckdb.DuckDBPyConnection) -> None:
    spec = survey_suite()
    data = good_survey()
    assert [data["suppressed"][r] for r in SUPPRESSED_ROWS] == [True] * 3
    assert_passes(spec, survey_frame(con, data, spec))


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("question", 3, 4), COMPOUND_UNIQUE, "area_id, survey, question"),
        (setter("area_id", 4, None), NOT_NULL, "area_id"),
        (setter("survey", 4, None), NOT_NULL, "survey"),
        (setter("question", 4, "favourite_colour"), IN_SET, "question"),
        (setter("respondents", 0, 0), BETWEEN, "respondents"),
        (setter("area_respondents", 4, None), NOT_NULL, "area_respondents"),
        (setter("respondents", 4, 99), PAIR_GREATER, "area_respondents, respondents"),
        (setter("suppressed", 4, None), NOT_NULL, "suppressed"),
        (
            both(setter("suppressed", 0, False), setter("weight_total", 0, 4.4),
                 setter("weighted_share", 0, 0.5)),
            IN_SET,
            "suppressed",
        ),
        (
            both(setter("suppressed", 4, True), setter("weight_total", 4, None),
                 setter("weighted_share", 4, None)),
            IN_SET,
            "suppressed",
        ),
        (setter("weighted_share", 0, 0.5), BE_NULL, "weighted_share"),
        (setter("weight_total", 0, 4.4), BE_NULL, "weight_total"),
        (setter("weighted_share", 4, None), NOT_NULL, "weighted_share"),
        (setter("weight_total", 4, None), NOT_NULL, "weight_total"),
        (setter("weighted_share", 4, 1.3), BETWEEN, "weighted_share"),
        (setter("weight_total", 4, 0.0), BETWEEN, "weight_total"),
    ],
    ids=[
        "duplicate-cell",
        "null-area",
        "null-survey",
        "unknown-question",
        "no-respondents",
        "null-area-respondents",
        "more-respondents-than-the-area",
        "null-flag",
        "small-cell-shown",
        "large-cell-suppressed",
        "share-despite-suppression",
        "weights-despite-suppression",
        "no-share-unsuppressed",
        "no-weights-unsuppressed",
        "share-above-one",
        "zero-weights",
    ],
)  # fmt: skip
def test_survey_suite_errors(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = survey_suite()
    data = good_survey()
    mutate(data)
    assert_blocks(spec, survey_frame(con, data, spec), expectation, column)


def test_survey_suite_warns_when_most_cells_are_suppressed(con: duckdb.DuckDBPyConnection) -> None:
    spec = survey_suite(min_reported_share=0.9)  # 3 of 18 suppressed: 17%
    failure = assert_warns(spec, survey_frame(con, good_survey(), spec), IN_SET, "suppressed")
    assert failure["unexpected_count"] == len(SUPPRESSED_ROWS)


# --- every mart: shape -------------------------------------------------------------------------


@dataclass(frozen=True)
class Mart:
    schema: pa.Schema
    good: Callable[[], Data]
    suite: Callable[..., S.SuiteSpec]
    # The column renamed and dropped by the shape tests: one the suite never reads where there
    # is one (the column set still judges it), else a read one.
    renamed: str


MARTS: dict[str, Mart] = {
    "fct_incidents": Mart(FCT_INCIDENTS_SCHEMA, good_incidents, incidents_suite, "raw_record"),
    "dim_area": Mart(DIM_AREA_SCHEMA, good_areas, M.dim_area_suite, "area_name"),
    "area_indicators": Mart(
        AREA_INDICATORS_SCHEMA,
        good_indicators,
        lambda **kw: M.area_indicators_suite(INDICATORS, **kw),
        "area_name",
    ),
    "area_month_rates": Mart(
        AREA_MONTH_RATES_SCHEMA,
        good_rates,
        lambda **kw: rates_suite(min_reported_share=0.5, **kw),
        "incident_reports",
    ),
    "dim_facility": Mart(
        DIM_FACILITY_SCHEMA,
        good_facilities,
        lambda **kw: M.dim_facility_suite(bbox=SEATTLE_BBOX, **kw),
        "facility_type_raw",
    ),
    "service_requests_area_month": Mart(
        SERVICE_REQUESTS_SCHEMA, good_requests, requests_suite, "median_days_to_close"
    ),
    "survey_area_responses": Mart(SURVEY_SCHEMA, good_survey, survey_suite, "area_name"),
}


@pytest.mark.parametrize("mart", list(MARTS))
def test_a_renamed_or_dropped_column_blocks(con: duckdb.DuckDBPyConnection, mart: str) -> None:
    case = MARTS[mart]
    spec = case.suite()
    load_mart(con, mart, case.schema, case.good())
    renamed = f"{case.renamed}_v2"
    con.execute(f"ALTER TABLE {mart} RENAME COLUMN {case.renamed} TO {renamed}")
    failure = assert_blocks(spec, frame_of(con, mart, spec), COLUMN_SET, None)
    assert f"missing columns: ['{case.renamed}']" in failure["message"]
    assert f"extra columns: ['{renamed}']" in failure["message"]

    con.execute(f"ALTER TABLE {mart} DROP COLUMN {renamed}")
    failure = assert_blocks(spec, frame_of(con, mart, spec), COLUMN_SET, None)
    assert failure["message"] == f"missing columns: ['{case.renamed}']"


@pytest.mark.parametrize("mart", list(MARTS))
def test_row_count_bounds_block(con: duckdb.DuckDBPyConnection, mart: str) -> None:
    case = MARTS[mart]
    load_mart(con, mart, case.schema, {name: [] for name in case.schema.names})
    empty = frame_of(con, mart, case.suite())
    assert list(empty.columns)[: len(case.schema)] == case.schema.names
    assert_passes(case.suite(min_rows=0), empty)
    failure = assert_blocks(case.suite(min_rows=1), empty, ROW_COUNT, None)
    assert failure["message"] == "observed 0"
    rows = len(next(iter(case.good().values())))
    load_mart(con, mart, case.schema, case.good())
    spec = case.suite(max_rows=rows - 1)
    assert assert_blocks(spec, frame_of(con, mart, spec), ROW_COUNT, None)["message"] == (
        f"observed {rows}"
    )
    assert case.suite(name="custom_name").name == "custom_name"


def test_marts_without_their_source_may_be_empty() -> None:
    """311 requests and surveys are optional sources: their marts default to min_rows=0."""
    for suite in (requests_suite(), survey_suite()):
        (count,) = [e for e in suite.expectations if e.kind == "ExpectTableRowCountToBeBetween"]
        assert count.kwargs["min_value"] == 0
    for suite in (incidents_suite(), M.dim_area_suite(), rates_suite()):
        (count,) = [e for e in suite.expectations if e.kind == "ExpectTableRowCountToBeBetween"]
        assert count.kwargs["min_value"] == 1


@pytest.mark.parametrize("mart", list(MARTS))
def test_suites_are_plain_data_with_contract_checks_as_errors(mart: str) -> None:
    spec = MARTS[mart].suite()
    json.dumps([(e.kind, dict(e.kwargs), e.severity) for e in spec.expectations])
    shape = {e.kind: e.severity for e in spec.expectations[:2]}
    assert shape == {
        "ExpectTableColumnsToMatchSet": "ERROR",
        "ExpectTableRowCountToBeBetween": "ERROR",
    }
    keys = [
        e
        for e in spec.expectations
        if e.kind in ("ExpectColumnValuesToBeUnique", "ExpectCompoundColumnsToBeUnique")
    ]
    assert keys and all(e.severity == "ERROR" for e in keys)
    assert all(e.severity == "WARN" for e in spec.expectations if e.kwargs.get("mostly"))
    assert any(e.severity == "WARN" for e in spec.expectations)
    assert spec.name == f"{mart}_mart"


# --- the contract against the dbt project ------------------------------------------------------


def test_every_published_mart_has_its_columns() -> None:
    models = {p.stem: p.parent.name for p in MARTS_DIR.glob("*/*.sql")}
    published = {name for name, folder in models.items() if folder != "quality"}
    assert set(M.MART_COLUMNS) == published == set(MARTS)


def documented_columns() -> dict[str, tuple[list[str], bool]]:
    """Per mart: the columns its yml documents and whether it enforces a contract."""
    found = {}
    for path in MARTS_DIR.glob("*/_*__models.yml"):
        for model in yaml.safe_load(path.read_text())["models"]:
            enforced = bool(((model.get("config") or {}).get("contract") or {}).get("enforced"))
            found[model["name"]] = ([c["name"] for c in model.get("columns", [])], enforced)
    return found


@pytest.mark.parametrize("mart", list(MARTS))
def test_column_constants_follow_the_models(mart: str) -> None:
    columns, enforced = documented_columns()[mart]
    expected = M.MART_COLUMNS[mart]
    assert len(set(expected)) == len(expected)
    assert list(MARTS[mart].schema.names) == list(expected)
    if enforced:  # dbt itself holds the table to the yml: the same names in the same order
        assert columns == list(expected)
    else:
        assert set(columns) <= set(expected), set(columns) - set(expected)


def test_domains_follow_the_dbt_project() -> None:
    with (REPO / "dbt_project" / "seeds" / "category_descriptions.csv").open() as f:
        seeded = [row["category"] for row in csv.DictReader(f)]
    assert list(M.INCIDENT_CATEGORIES) == seeded
    variables = yaml.safe_load((REPO / "dbt_project" / "dbt_project.yml").read_text())["vars"]
    assert variables["min_population"] == M.DEFAULT_MIN_POPULATION


# --- frames ------------------------------------------------------------------------------------


def test_read_columns_follow_the_expectations_and_their_conditions() -> None:
    spec = S.SuiteSpec(
        name="t",
        expectations=(
            *S.table_shape(["a", "b", "c", "d", "e"], 1, None),
            S.not_null("b", row_condition=S.where("c", "==", 1)),
            M.at_most("d", "a"),
            S.expect("ExpectCompoundColumnsToBeUnique", "ERROR", column_list=["b", "e"]),
        ),
    )
    assert M.read_columns(spec) == ("b", "c", "d", "a", "e")
    assert "suppressed" in M.read_columns(survey_suite())
    assert "location_precision" in M.read_columns(incidents_suite())


@pytest.fixture
def spatial_table(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    con.execute(
        """
        CREATE TABLE places AS
        SELECT * FROM (VALUES
            ('a', ST_GeomFromText('POINT (-122.3 47.6)'), ST_AsWKB(ST_Point(-122.3, 47.6)),
             'x', ST_GeomFromText('POLYGON ((0 0, 1 0, 1 1, 0 0))')),
            ('b', NULL, NULL, 'y', NULL),
            ('c', ST_GeomFromText('POINT (-122.2 47.7)'), ST_AsWKB(ST_Point(-122.2, 47.7)),
             'z', ST_GeomFromText('MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))'))
        ) AS t(place_id, geom, geom_wkb, note, boundary)
        """
    )
    return con


def test_mart_frame_never_loads_geometry(spatial_table: duckdb.DuckDBPyConnection) -> None:
    columns = ["place_id", "geom", "geom_wkb", "boundary", "longitude", "latitude"]
    frame = M.mart_frame(spatial_table, "places", columns)
    assert list(frame.columns) == [
        "place_id", "geom", "geom_wkb", "note", "boundary", "longitude", "latitude"
    ]  # fmt: skip
    for column in frame.columns:
        assert not any(isinstance(v, bytes | bytearray | memoryview) for v in frame[column])
    # GEOMETRY and WKB BLOB columns alike arrive as their geometry type's name.
    assert frame["geom"].tolist()[::2] == ["POINT", "POINT"] and frame["geom"].isna()[1]
    assert frame["geom_wkb"].tolist()[::2] == ["POINT", "POINT"]
    assert frame["boundary"].tolist()[::2] == ["POLYGON", "MULTIPOLYGON"]
    assert frame["longitude"].tolist()[::2] == [-122.3, -122.2] and frame["longitude"].isna()[1]
    assert frame["latitude"].tolist()[::2] == [47.6, 47.7]
    # A column the suite does not read is a placeholder, not its values.
    assert frame["note"].tolist() == [False, False, False]


def test_mart_frame_reads_only_what_it_is_asked(spatial_table: duckdb.DuckDBPyConnection) -> None:
    frame = M.mart_frame(spatial_table, "places", ["note"])
    assert frame["note"].tolist() == ["x", "y", "z"]
    assert frame["geom"].tolist() == [False, False, False]
    assert "longitude" not in frame.columns


def test_mart_frame_refuses_what_it_cannot_read(spatial_table: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(LookupError, match="no table 'nowhere'"):
        M.mart_frame(spatial_table, "nowhere", ["a"])
    spatial_table.execute("CREATE TABLE located AS SELECT 1.0 AS longitude, geom FROM places")
    with pytest.raises(ValueError, match="own 'longitude'"):
        M.mart_frame(spatial_table, "located", ["longitude"])


def test_a_renamed_geometry_column_blocks(con: duckdb.DuckDBPyConnection) -> None:
    spec = M.dim_facility_suite(bbox=SEATTLE_BBOX)
    load_mart(con, "dim_facility", DIM_FACILITY_SCHEMA, good_facilities())
    con.execute("ALTER TABLE dim_facility RENAME COLUMN geom TO geometry")
    frame = frame_of(con, "dim_facility", spec)
    assert "longitude" not in frame.columns  # no point column to derive it from
    failure = assert_blocks(spec, frame, COLUMN_SET, None)
    assert "missing columns: ['geom', 'latitude', 'longitude']" in failure["message"]
    assert "extra columns: ['geometry']" in failure["message"]


def test_a_point_mart_frame_adds_only_the_coordinates(con: duckdb.DuckDBPyConnection) -> None:
    spec = incidents_suite()
    frame = incidents_frame(con, good_incidents(), spec)
    assert list(frame.columns) == [*M.FCT_INCIDENTS_COLUMNS, *M.POINT_COORDINATES]
    assert list(M.FCT_INCIDENTS_COLUMNS[-4:]) == list(LINEAGE_COLUMNS)


# --- Dagster checks ----------------------------------------------------------------------------


def test_mart_checks_block_each_published_mart() -> None:
    from dagster import AssetKey

    from ingestion.jurisdiction import load_jurisdiction
    from orchestration.defs.quality.mart_checks import mart_checks

    specs = [spec for check in mart_checks(load_jurisdiction()) for spec in check.check_specs]
    assert {s.asset_key for s in specs} == {AssetKey(["marts", m]) for m in M.MART_COLUMNS}
    assert {s.name for s in specs} == {f"{m}_mart_suite" for m in M.MART_COLUMNS}
    assert all(s.blocking for s in specs)
    assert all(s.description and s.description.startswith("GX suite") for s in specs)


def test_a_mart_check_validates_the_warehouse_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster import AssetCheckSeverity, build_asset_check_context

    from ingestion.jurisdiction import load_jurisdiction
    from orchestration.defs.quality.mart_checks import mart_checks
    from warehouse.duckdb_spatial import connect

    monkeypatch.setenv("CRIMEMAP_DATA_DIR", str(tmp_path))
    warehouse = tmp_path / "warehouse.duckdb"
    with connect(warehouse) as db:
        load_mart(db, "dim_area", DIM_AREA_SCHEMA, good_areas())
    checks = {s.name: c for c in mart_checks(load_jurisdiction()) for s in c.check_specs}
    check = checks["dim_area_mart_suite"]

    passed = check(build_asset_check_context())
    assert passed.passed and passed.description == "all expectations met"
    assert (tmp_path / "quality" / "validations" / "dim_area_mart.json").is_file()

    with connect(warehouse) as db:
        db.execute("UPDATE dim_area SET area_id = ? WHERE area_id = ?", [area_key(0), area_key(1)])
    failed = check(build_asset_check_context())
    assert not failed.passed and failed.severity == AssetCheckSeverity.ERROR
    assert failed.metadata["expectations_failed"].value == 1

"""GX suites of the published marts, run on warehouse tables read the way the checks read them.

Every frame goes through a DuckDB table with the mart's SQL types (geometry as GEOMETRY, times
as TIMESTAMPTZ, months as DATE) and comes back through ``mart_frame``, so the expectations meet
the dtypes, the geometry type names and the placeholders they meet in production.
"""

from __future__ import annotations

import ast
import csv
import json
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from crimemap.config.analysis import GRID_SHAPES, AnalysisSettings
from crimemap.core.marts import DeclaredMart, MartColumn, contracted_marts, mart_columns
from crimemap.ingestion.facilities import FACILITY_TYPES
from crimemap.quality import mart_suites as M
from crimemap.quality import suites as S
from crimemap.quality.layouts import LINEAGE_COLUMNS, BBox

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
    ("substance_related", BOOL), ("occurred_at", TSTZ), ("occurred_imputed", BOOL),
    ("reported_at", TSTZ),
    ("occurred_month", DATE), ("location_precision", STR), ("block_address", STR),
    ("geom", WKT), ("area_id", STR), ("assignment_method", STR), ("occurred_raw", STR),
    ("reported_raw", STR), ("location_raw", STR),
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
    ("area_id", STR), ("area_name", STR), ("indicator", STR), ("kind", STR), ("label", STR),
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
    return M.mart_frame(con, mart, S.read_columns(spec))


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
        "occurred_imputed": [i == 5 for i in range(n)],
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
    }
    data.update(lineage(n, "seattle.csv"))
    return data


def incidents_suite(**kwargs: Any) -> S.SuiteSpec:
    return M.fct_incidents_suite(SOURCES, start=START, bbox=SEATTLE_BBOX, **kwargs)


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
        (
            setter("occurred_at", 2, INGESTED + timedelta(hours=1)),
            PAIR_GREATER,
            "_ingested_at, occurred_at",
        ),
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
        "occurred-after-landing",
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
    read = S.read_columns(spec)
    assert len(read) <= 13, read
    assert not {"geom", "block_address", "occurred_raw"} & set(read)
    kinds = {e.kind for e in spec.expectations}
    assert kinds <= {
        "ExpectTableColumnsToMatchSet",
        "ExpectTableRowCountToBeBetween",
        "ExpectColumnValuesToNotBeNull",
        "ExpectColumnValuesToBeNull",
        "ExpectColumnValuesToBeUnique",
        "ExpectColumnValuesToBeInSet",
        "ExpectColumnValuesToBeBetween",
        "ExpectColumnPairValuesAToBeGreaterThanB",
    }, kinds


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
        "label": indicator.replace("_", " ").capitalize(),
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


# --- offense_spikes ----------------------------------------------------------------------------

SPIKES = AnalysisSettings()  # the default spike rules, the sample city's
OFFENSE_SPIKES_SCHEMA = fields(
    ("area_id", STR), ("month", DATE), ("category", STR), ("observed", BIGINT),
    ("baseline_mean", DOUBLE), ("baseline_months", INT), ("expected", DOUBLE), ("ratio", DOUBLE),
    ("p_value", DOUBLE), ("is_spike", BOOL), ("summary", STR),
)  # fmt: skip
# Monthly reports per (area, category) from START, each series built to judge one rule:
SPIKE_SERIES: tuple[tuple[int, str, tuple[int, ...]], ...] = (
    (0, "burglary", (1, 2) * 4 + (12,) + (2, 1) * 3 + (2,)),  # a spike: 12 against 1.5
    (0, "all", (20,) * 8 + (38,) + (20,) * 7),  # p = 0.0002, but only 1.9x
    (1, "theft", (0,) * 7 + (4,) + (0,) * 8),  # 56x, p = 1e-6, but only 4 reports
    (1, "all", (0, 0, 0, 9) + (0,) * 12),  # 9 against nothing, but 3 months of history
    (2, "burglary", (2, 3) * 4 + (5,) + (2, 3) * 3 + (2,)),  # 5 against 2.5: p = 0.11
    (2, "all", (30,) * 16),  # quiet
    (3, "theft", (0, 1) * 8),  # quiet
)
SPIKE_RULES = ("history", "significant", "enough", "large")


def month_from_start(i: int) -> date:
    return date(START.year + (START.month - 1 + i) // 12, (START.month - 1 + i) % 12 + 1, 1)


def spike_row(area: int, category: str, i: int, counts: tuple[int, ...]) -> dict[str, Any]:
    """A row as the mart computes it: the trailing window's mean, floored at half an event
    over the window, and the Poisson upper tail (scipy)."""
    from scipy.stats import poisson

    window = counts[max(0, i - SPIKES.spike_baseline_months) : i]
    observed, months = counts[i], len(window)
    mean = sum(window) / months if months else None
    expected = max(mean, 0.5 / months) if mean is not None else None
    ratio = observed / expected if expected is not None else None
    p_value = None
    if expected is not None:
        p_value = float(poisson.sf(observed - 1, expected)) if observed > 0 else 1.0
    spike = (
        expected is not None
        and months >= SPIKES.spike_min_baseline_months
        and p_value < SPIKES.spike_alpha
        and observed >= SPIKES.spike_min_count
        and ratio >= SPIKES.spike_min_ratio
    )
    return {
        "area_id": area_key(area),
        "month": month_from_start(i),
        "category": category,
        "observed": observed,
        "baseline_mean": mean,
        "baseline_months": months,
        "expected": expected,
        "ratio": ratio,
        "p_value": p_value,
        "is_spike": bool(spike),
        "summary": f"{category} in Area {area} is {ratio:.1f}x its usual level" if months else None,
    }


def good_spikes() -> Data:
    rows = [
        spike_row(area, category, i, counts)
        for area, category, counts in SPIKE_SERIES
        for i in range(len(counts))
    ]
    return {c: [r[c] for r in rows] for c in rows[0]}


def rules_met(data: Data, row: int) -> dict[str, bool]:
    p_value, ratio = data["p_value"][row], data["ratio"][row]
    return {
        "history": data["baseline_months"][row] >= SPIKES.spike_min_baseline_months,
        "significant": p_value is not None and p_value < SPIKES.spike_alpha,
        "enough": data["observed"][row] >= SPIKES.spike_min_count,
        "large": ratio is not None and ratio >= SPIKES.spike_min_ratio,
    }


def failing_only(data: Data, rule: str) -> int:
    """The row that meets every spike rule but ``rule``."""
    (row,) = [
        r
        for r in range(len(data["observed"]))
        if [k for k, met in rules_met(data, r).items() if not met] == [rule]
    ]
    return row


def spike_flag(rule: str | None, value: bool) -> Mutation:
    """Sets ``is_spike`` on the one spike (``rule`` None) or the row failing only ``rule``."""

    def mutate(data: Data) -> None:
        row = data["is_spike"].index(True) if rule is None else failing_only(data, rule)
        data["is_spike"][row] = value

    return mutate


def spikes_suite(**kwargs: Any) -> S.SuiteSpec:
    return M.offense_spikes_suite(
        start=START,
        now=NOW,
        baseline_months=SPIKES.spike_baseline_months,
        min_baseline_months=SPIKES.spike_min_baseline_months,
        alpha=SPIKES.spike_alpha,
        min_count=SPIKES.spike_min_count,
        min_ratio=SPIKES.spike_min_ratio,
        **kwargs,
    )


def spikes_frame(con: duckdb.DuckDBPyConnection, data: Data, spec: S.SuiteSpec) -> Any:
    load_mart(con, "offense_spikes", OFFENSE_SPIKES_SCHEMA, data)
    return frame_of(con, "offense_spikes", spec)


FIRST_MONTH_ROW = 0  # no history
BURGLARY_SPIKE_ROW = 8
QUIET_THEFT_ROW = 2 * 16 + 3  # 0 reports against a floored zero level


def test_offense_spikes_suite_passes(con: duckdb.DuckDBPyConnection) -> None:
    data = good_spikes()
    assert [i for i, s in enumerate(data["is_spike"]) if s] == [BURGLARY_SPIKE_ROW]
    for rule in SPIKE_RULES:  # every rule alone keeps a month from being a spike
        assert not data["is_spike"][failing_only(data, rule)]
    assert data["observed"][QUIET_THEFT_ROW] == 0 and data["baseline_mean"][QUIET_THEFT_ROW] == 0
    spec = spikes_suite()
    assert_passes(spec, spikes_frame(con, data, spec))


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("month", 0, 1), COMPOUND_UNIQUE, "area_id, month, category"),
        (setter("area_id", 2, None), NOT_NULL, "area_id"),
        (setter("category", 2, "larceny"), IN_SET, "category"),
        (setter("month", 2, date(2026, 8, 1)), BETWEEN, "month"),
        (setter("observed", 2, -1), BETWEEN, "observed"),
        (setter("baseline_months", 2, None), NOT_NULL, "baseline_months"),
        (setter("baseline_months", 15, SPIKES.spike_baseline_months + 1), BETWEEN,
         "baseline_months"),
        (setter("baseline_mean", 2, None), NOT_NULL, "baseline_mean"),
        (setter("expected", FIRST_MONTH_ROW, 1.0), BE_NULL, "expected"),
        (setter("p_value", FIRST_MONTH_ROW, 0.5), BE_NULL, "p_value"),
        (setter("summary", 2, None), NOT_NULL, "summary"),
        (setter("expected", QUIET_THEFT_ROW, 0.0), BETWEEN, "expected"),
        (setter("expected", BURGLARY_SPIKE_ROW, 1.0), PAIR_GREATER, "expected, baseline_mean"),
        (setter("ratio", 2, -1.0), BETWEEN, "ratio"),
        (setter("p_value", BURGLARY_SPIKE_ROW, 1.5), BETWEEN, "p_value"),
        (setter("p_value", QUIET_THEFT_ROW, 0.9), BETWEEN, "p_value"),
        (setter("is_spike", 2, None), NOT_NULL, "is_spike"),
        (spike_flag(None, False), IN_SET, "is_spike"),
        *((spike_flag(rule, True), IN_SET, "is_spike") for rule in SPIKE_RULES),
    ],
    ids=[
        "duplicate-cell",
        "null-area",
        "unknown-category",
        "month-in-future",
        "negative-count",
        "null-history",
        "history-beyond-window",
        "no-level-with-history",
        "expected-without-history",
        "p-without-history",
        "no-summary-with-history",
        "zero-expected",
        "expected-below-level",
        "negative-ratio",
        "p-above-one",
        "p-below-one-without-reports",
        "null-flag",
        "spike-not-flagged",
        *(f"flagged-without-{rule}" for rule in SPIKE_RULES),
    ],
)  # fmt: skip
def test_offense_spikes_suite_errors(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = spikes_suite()
    data = good_spikes()
    mutate(data)
    assert_blocks(spec, spikes_frame(con, data, spec), expectation, column)


def test_offense_spikes_suite_warns_on_many_spikes(con: duckdb.DuckDBPyConnection) -> None:
    spec = spikes_suite(max_spike_share=0.005)  # 1 of 112 rows: 0.9%
    failure = assert_warns(spec, spikes_frame(con, good_spikes(), spec), IN_SET, "is_spike")
    assert failure["unexpected_count"] == 1


def test_offense_spikes_suite_warns_on_months_before_the_start(
    con: duckdb.DuckDBPyConnection,
) -> None:
    data = good_spikes()
    setter("month", 0, date(2019, 1, 1))(data)
    spec = spikes_suite()
    failure = assert_warns(spec, spikes_frame(con, data, spec), BETWEEN, "month")
    assert failure["unexpected_count"] == 1


def test_offense_spikes_rules_are_parameters(con: duckdb.DuckDBPyConnection) -> None:
    """A looser alpha makes the 5-against-2.5 month a spike the mart did not flag."""
    loose = M.offense_spikes_suite(start=START, now=NOW, alpha=0.2)
    failure = assert_blocks(loose, spikes_frame(con, good_spikes(), loose), IN_SET, "is_spike")
    assert failure["unexpected_count"] == 1


def test_offense_spikes_suite_defaults_are_the_analysis_defaults() -> None:
    spec = M.offense_spikes_suite(start=START, now=NOW)
    assert spec.expectations == spikes_suite().expectations


# --- service_access ----------------------------------------------------------------------------

CATCHMENT_M = AnalysisSettings().catchment_m
SERVICE_ACCESS_SCHEMA = fields(
    ("area_id", STR), ("facility_type", STR), ("population", BIGINT), ("origin_x", DOUBLE),
    ("origin_y", DOUBLE), ("nearest_facility_m", DOUBLE), ("nearest_facility_id", STR),
    ("facilities_in_area", BIGINT), ("facilities_per_10k", DOUBLE), ("catchment_m", DOUBLE),
    ("facilities_in_catchment", BIGINT), ("access_2sfca", DOUBLE),
)  # fmt: skip
ACCESS_POPULATIONS = (1000, 0, None, 2000)
ACCESS_TYPES = (M.ALL_FACILITIES, *FACILITY_TYPES)
NO_FACILITY_TYPE = "youth_services"  # none in the jurisdiction
ROWS_PER_ACCESS_AREA = len(ACCESS_TYPES)


def good_access() -> Data:
    rows = []
    for a, population in enumerate(ACCESS_POPULATIONS):
        for t, facility_type in enumerate(ACCESS_TYPES):
            exists = facility_type != NO_FACILITY_TYPE
            distance = 800.0 * (a + t) if exists else None
            in_reach = 0 if distance is None or distance > CATCHMENT_M else 1 + (t == 0)
            in_area = t % 2 if exists else 0
            rows.append(
                {
                    "area_id": area_key(a),
                    "facility_type": facility_type,
                    "population": population,
                    "origin_x": 550_000.0 + 1200 * a,
                    "origin_y": 5_270_000.0,
                    "nearest_facility_m": distance,
                    "nearest_facility_id": f"F{t}" if exists else None,
                    "facilities_in_area": in_area,
                    "facilities_per_10k": in_area / population * 10_000 if population else None,
                    "catchment_m": CATCHMENT_M,
                    "facilities_in_catchment": in_reach,
                    "access_2sfca": 10_000 * in_reach / 3000,
                }
            )
    return {c: [r[c] for r in rows] for c in rows[0]}


def access_suite(**kwargs: Any) -> S.SuiteSpec:
    return M.service_access_suite(catchment_m=CATCHMENT_M, **kwargs)


def access_frame(con: duckdb.DuckDBPyConnection, data: Data, spec: S.SuiteSpec) -> Any:
    load_mart(con, "service_access", SERVICE_ACCESS_SCHEMA, data)
    return frame_of(con, "service_access", spec)


NO_FACILITY_ROW = ACCESS_TYPES.index(NO_FACILITY_TYPE)
OUT_OF_REACH_ROW = 3 * ROWS_PER_ACCESS_AREA + 3  # 4,800 m
EMPTY_AREA_ROW = ROWS_PER_ACCESS_AREA + 1  # population 0
UNKNOWN_POPULATION_ROW = 2 * ROWS_PER_ACCESS_AREA + 1


def test_service_access_suite_passes(con: duckdb.DuckDBPyConnection) -> None:
    data = good_access()
    assert data["facilities_in_catchment"][OUT_OF_REACH_ROW] == 0
    assert data["nearest_facility_m"][OUT_OF_REACH_ROW] > CATCHMENT_M
    assert data["facilities_in_area"][EMPTY_AREA_ROW] == 1
    spec = access_suite()
    assert_passes(spec, access_frame(con, data, spec))


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("facility_type", 0, 1), COMPOUND_UNIQUE, "area_id, facility_type"),
        (setter("area_id", 2, None), NOT_NULL, "area_id"),
        (setter("facility_type", 2, "hospital"), IN_SET, "facility_type"),
        (setter("facility_type", 2, None), NOT_NULL, "facility_type"),
        (setter("population", 2, -1), BETWEEN, "population"),
        (setter("origin_x", 2, None), NOT_NULL, "origin_x"),
        (setter("nearest_facility_m", 2, -1.0), BETWEEN, "nearest_facility_m"),
        (setter("nearest_facility_m", OUT_OF_REACH_ROW, None), NOT_NULL, "nearest_facility_m"),
        (setter("nearest_facility_m", NO_FACILITY_ROW, 5000.0), BE_NULL, "nearest_facility_m"),
        (setter("facilities_in_area", 2, None), NOT_NULL, "facilities_in_area"),
        (setter("facilities_per_10k", 2, -1.0), BETWEEN, "facilities_per_10k"),
        (setter("facilities_per_10k", 2, None), NOT_NULL, "facilities_per_10k"),
        (setter("facilities_per_10k", EMPTY_AREA_ROW, 0.0), BE_NULL, "facilities_per_10k"),
        (setter("facilities_per_10k", UNKNOWN_POPULATION_ROW, 0.0), BE_NULL,
         "facilities_per_10k"),
        (setter("catchment_m", 2, 2000.0), IN_SET, "catchment_m"),
        (setter("access_2sfca", 2, None), NOT_NULL, "access_2sfca"),
        (setter("access_2sfca", NO_FACILITY_ROW, 1.5), BETWEEN, "access_2sfca"),
        (setter("nearest_facility_m", 2, 3500.0), BETWEEN, "nearest_facility_m"),
        (both(setter("facilities_in_catchment", 2, 0), setter("access_2sfca", 2, 0.0)), BETWEEN,
         "facilities_in_catchment"),
        (both(setter("nearest_facility_id", 2, None), setter("nearest_facility_m", 2, None)),
         NOT_NULL, "nearest_facility_id"),
    ],
    ids=[
        "duplicate-cell",
        "null-area",
        "unknown-type",
        "null-type",
        "negative-population",
        "no-origin",
        "negative-distance",
        "facility-without-distance",
        "distance-without-facility",
        "null-count",
        "negative-per-10k",
        "no-per-10k-with-population",
        "per-10k-of-nobody",
        "per-10k-of-unknown-population",
        "another-catchment",
        "null-score",
        "score-without-facility-in-reach",
        "in-reach-beyond-catchment",
        "near-facility-not-counted",
        "in-reach-without-nearest",
    ],
)  # fmt: skip
def test_service_access_suite_errors(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = access_suite()
    data = good_access()
    mutate(data)
    assert_blocks(spec, access_frame(con, data, spec), expectation, column)


def test_service_access_suite_warns_when_most_areas_reach_nothing(
    con: duckdb.DuckDBPyConnection,
) -> None:
    data = good_access()
    for area in range(3):  # 3 of 4 areas: nothing within the catchment
        row = area * ROWS_PER_ACCESS_AREA
        data["nearest_facility_m"][row] = CATCHMENT_M + 100
        data["facilities_in_catchment"][row] = 0
        data["access_2sfca"][row] = 0.0
    spec = access_suite()
    failure = assert_warns(spec, access_frame(con, data, spec), BETWEEN, "facilities_in_catchment")
    assert failure["unexpected_count"] == 3


# --- crime_social_correlation ------------------------------------------------------------------

CORRELATION_SCHEMA = fields(
    ("measure", STR), ("indicator", STR), ("n", INT), ("spearman_rho", DOUBLE),
    ("ci_lower", DOUBLE), ("ci_upper", DOUBLE), ("p_value", DOUBLE), ("method", STR),
)  # fmt: skip
CORRELATION_AREAS = 40


def correlation_row(measure: str, indicator: str, n: int, rho: float | None) -> dict[str, Any]:
    """A row as the mart computes it: Fisher z interval with the Bonett-Wright standard
    error, two-sided p from the t approximation (scipy)."""
    from scipy.stats import t as student_t

    ci = p_value = None
    if rho is not None:
        half = 1.959963984540054 * math.sqrt((1 + rho * rho / 2) / (n - 3))
        ci = (math.tanh(math.atanh(rho) - half), math.tanh(math.atanh(rho) + half))
        t_stat = rho * math.sqrt((n - 2) / (1 - rho * rho))
        p_value = float(2 * student_t.sf(abs(t_stat), n - 2))
    return {
        "measure": measure,
        "indicator": indicator,
        "n": n,
        "spearman_rho": rho,
        "ci_lower": ci and ci[0],
        "ci_upper": ci and ci[1],
        "p_value": p_value,
        "method": "Spearman rank correlation",
    }


def good_correlations() -> Data:
    pairs = [(m, i) for m in M.CORRELATION_MEASURES for i in M.CORRELATION_INDICATORS]
    rows = [correlation_row(m, i, CORRELATION_AREAS, 0.1 * k - 0.7) for k, (m, i) in
            enumerate(pairs)]  # fmt: skip
    return {c: [r[c] for r in rows] for c in rows[0]}


def few_areas(row: int, n: int) -> Mutation:
    """Row ``row`` computed over ``n`` areas, as the mart would: no statistic under 4."""

    def mutate(data: Data) -> None:
        rho = data["spearman_rho"][row] if n >= M.MIN_CORRELATION_AREAS else None
        replaced = correlation_row(data["measure"][row], data["indicator"][row], n, rho)
        for column, value in replaced.items():
            data[column][row] = value

    return mutate


def correlation_frame(con: duckdb.DuckDBPyConnection, data: Data, spec: S.SuiteSpec) -> Any:
    load_mart(con, "crime_social_correlation", CORRELATION_SCHEMA, data)
    return frame_of(con, "crime_social_correlation", spec)


def test_crime_social_correlation_suite_passes(con: duckdb.DuckDBPyConnection) -> None:
    spec = M.crime_social_correlation_suite()
    assert_passes(spec, correlation_frame(con, good_correlations(), spec))


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("indicator", 0, 1), COMPOUND_UNIQUE, "measure, indicator"),
        (setter("measure", 2, "drug_rate"), IN_SET, "measure"),
        (setter("measure", 2, None), NOT_NULL, "measure"),
        (setter("indicator", 2, "population"), IN_SET, "indicator"),
        (setter("n", 2, -1), BETWEEN, "n"),
        (setter("n", 2, None), NOT_NULL, "n"),
        (setter("n", 2, 3), BE_NULL, "spearman_rho"),
        (setter("spearman_rho", 2, -1.2), BETWEEN, "spearman_rho"),
        (setter("ci_lower", 2, 0.0), PAIR_GREATER, "spearman_rho, ci_lower"),
        (setter("ci_upper", 12, 0.1), PAIR_GREATER, "ci_upper, spearman_rho"),
        (setter("ci_upper", 2, None), NOT_NULL, "ci_upper"),
        (setter("p_value", 2, None), NOT_NULL, "p_value"),
        (both(few_areas(2, 3), setter("ci_lower", 2, -0.5)), BE_NULL, "ci_lower"),
        (both(few_areas(2, 3), setter("p_value", 2, 0.5)), BE_NULL, "p_value"),
        (setter("p_value", 2, 1.5), BETWEEN, "p_value"),
        (setter("method", 2, None), NOT_NULL, "method"),
    ],
    ids=[
        "duplicate-pair",
        "unknown-measure",
        "null-measure",
        "unknown-indicator",
        "negative-n",
        "null-n",
        "rho-from-3-areas",
        "rho-below-minus-one",
        "rho-below-interval",
        "rho-above-interval",
        "no-interval",
        "no-p",
        "interval-without-rho",
        "p-without-rho",
        "p-above-one",
        "null-method",
    ],
)  # fmt: skip
def test_crime_social_correlation_suite_errors(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = M.crime_social_correlation_suite()
    data = good_correlations()
    mutate(data)
    assert_blocks(spec, correlation_frame(con, data, spec), expectation, column)


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [(few_areas(2, 8), BETWEEN, "n"), (few_areas(2, 3), NOT_NULL, "spearman_rho")],
    ids=["few-areas", "not-computed"],
)
def test_crime_social_correlation_suite_warns(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = M.crime_social_correlation_suite()
    data = good_correlations()
    mutate(data)
    assert_warns(spec, correlation_frame(con, data, spec), expectation, column)


def test_crime_social_correlation_has_every_pair() -> None:
    (count,) = [
        e
        for e in M.crime_social_correlation_suite().expectations
        if e.kind == "ExpectTableRowCountToBeBetween"
    ]
    pairs = len(M.CORRELATION_MEASURES) * len(M.CORRELATION_INDICATORS)
    assert count.kwargs["min_value"] == count.kwargs["max_value"] == pairs


# --- initiative_impact -------------------------------------------------------------------------

INITIATIVES = ("Safe Streets pilot", "Lights on")
INITIATIVE_IMPACT_SCHEMA = fields(
    ("initiative", STR), ("start_month", DATE), ("listed_areas", STR),
    ("configuration_error", STR), ("treated_areas", INT), ("comparison_areas", INT),
    ("pre_months", INT), ("post_months", INT), ("treated_pre_mean", DOUBLE),
    ("treated_post_mean", DOUBLE), ("comparison_pre_mean", DOUBLE),
    ("comparison_post_mean", DOUBLE), ("estimate", DOUBLE), ("std_error", DOUBLE),
    ("df", DOUBLE), ("t_statistic", DOUBLE), ("ci_lower", DOUBLE), ("ci_upper", DOUBLE),
    ("p_value", DOUBLE), ("relative_effect", DOUBLE), ("method", STR),
)  # fmt: skip


def impact_row(
    name: str,
    start: date,
    treated: tuple[float, float, float],
    comparison: tuple[float, float, float],
) -> dict[str, Any]:
    """A row as the mart computes it from (areas, pre mean, post mean) per group, with made-up
    area changes' variances: Welch's t (scipy)."""
    from scipy.stats import t as student_t

    (n_t, pre_t, post_t), (n_c, pre_c, post_c) = treated, comparison
    var_t, var_c = 0.04, 0.09
    delta_c = post_c - pre_c
    estimate = (post_t - pre_t) - delta_c
    se = math.sqrt(var_t / n_t + var_c / n_c)
    df = se**4 / ((var_t / n_t) ** 2 / (n_t - 1) + (var_c / n_c) ** 2 / (n_c - 1))
    critical = float(student_t.ppf(0.975, df))
    return {
        "initiative": name,
        "start_month": start,
        "listed_areas": ", ".join(area_key(i) for i in range(int(n_t))),
        "configuration_error": None,
        "treated_areas": int(n_t),
        "comparison_areas": int(n_c),
        "pre_months": 12,
        "post_months": 12,
        "treated_pre_mean": pre_t,
        "treated_post_mean": post_t,
        "comparison_pre_mean": pre_c,
        "comparison_post_mean": post_c,
        "estimate": estimate,
        "std_error": se,
        "df": df,
        "t_statistic": estimate / se,
        "ci_lower": estimate - critical * se,
        "ci_upper": estimate + critical * se,
        "p_value": float(2 * student_t.sf(abs(estimate / se), df)),
        "relative_effect": estimate / (pre_t + delta_c),
        "method": "difference-in-differences",
    }


def good_impact() -> Data:
    rows = [
        impact_row(INITIATIVES[0], date(2025, 7, 1), (4, 0.74, 0.37), (112, 2.06, 2.11)),
        impact_row(INITIATIVES[1], date(2025, 1, 1), (3, 1.5, 1.6), (112, 2.0, 2.1)),
    ]
    return {c: [r[c] for r in rows] for c in rows[0]}


def impact_suite(**kwargs: Any) -> S.SuiteSpec:
    return M.initiative_impact_suite(INITIATIVES, **kwargs)


def impact_frame(con: duckdb.DuckDBPyConnection, data: Data, spec: S.SuiteSpec) -> Any:
    load_mart(con, "initiative_impact", INITIATIVE_IMPACT_SCHEMA, data)
    return frame_of(con, "initiative_impact", spec)


def one_treated_area(row: int) -> Mutation:
    """One treated area: an estimate, but no spread, so no uncertainty."""
    return both(
        setter("treated_areas", row, 1),
        *(setter(c, row, None) for c in ("std_error", "df", "t_statistic", "ci_lower",
                                         "ci_upper", "p_value")),
    )  # fmt: skip


def test_initiative_impact_suite_passes(con: duckdb.DuckDBPyConnection) -> None:
    data = good_impact()
    assert data["relative_effect"][0] < -0.4  # the planted 40% drop, roughly
    spec = impact_suite()
    assert_passes(spec, impact_frame(con, data, spec))


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (setter("initiative", 1, "Undeclared"), IN_SET, "initiative"),
        (copier("initiative", 0, 1), UNIQUE, "initiative"),
        (setter("initiative", 1, None), NOT_NULL, "initiative"),
        (setter("start_month", 1, None), NOT_NULL, "start_month"),
        (setter("listed_areas", 1, None), NOT_NULL, "listed_areas"),
        (setter("configuration_error", 1, "areas not in dim_area: 'Z9'"), BE_NULL,
         "configuration_error"),
        (setter("treated_areas", 1, -1), BETWEEN, "treated_areas"),
        (setter("comparison_areas", 1, None), NOT_NULL, "comparison_areas"),
        (setter("pre_months", 1, 0), BETWEEN, "pre_months"),
        (setter("post_months", 1, 0), BETWEEN, "post_months"),
        (setter("treated_post_mean", 1, -0.1), BETWEEN, "treated_post_mean"),
        (setter("std_error", 1, -0.1), BETWEEN, "std_error"),
        (setter("treated_areas", 1, 0), BE_NULL, "estimate"),
        (setter("comparison_areas", 1, 0), BE_NULL, "estimate"),
        (setter("estimate", 1, None), NOT_NULL, "estimate"),
        (setter("comparison_areas", 1, 1), BE_NULL, "std_error"),
        (setter("std_error", 1, None), NOT_NULL, "std_error"),
        (both(one_treated_area(1), setter("t_statistic", 1, -2.0)), BE_NULL, "t_statistic"),
        (both(one_treated_area(1), setter("ci_lower", 1, -1.0)), BE_NULL, "ci_lower"),
        (both(one_treated_area(1), setter("p_value", 1, 0.5)), BE_NULL, "p_value"),
        (setter("df", 1, 0.0), BETWEEN, "df"),
        (setter("ci_lower", 0, 0.0), PAIR_GREATER, "estimate, ci_lower"),
        (setter("ci_upper", 0, -1.0), PAIR_GREATER, "ci_upper, estimate"),
        (setter("p_value", 0, 1.2), BETWEEN, "p_value"),
        (setter("relative_effect", 0, -1.3), BETWEEN, "relative_effect"),
        (setter("method", 0, None), NOT_NULL, "method"),
    ],
    ids=[
        "undeclared",
        "duplicate",
        "null-name",
        "null-start",
        "null-areas",
        "configuration-error",
        "negative-areas",
        "null-areas-count",
        "no-months-before",
        "no-months-after",
        "negative-rate",
        "negative-se",
        "estimate-without-treated",
        "estimate-without-comparison",
        "no-estimate",
        "se-from-one-comparison-area",
        "no-se",
        "t-without-se",
        "interval-without-df",
        "p-without-t",
        "zero-df",
        "estimate-below-interval",
        "estimate-above-interval",
        "p-above-one",
        "more-than-everything-prevented",
        "null-method",
    ],
)  # fmt: skip
def test_initiative_impact_suite_errors(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = impact_suite()
    data = good_impact()
    mutate(data)
    assert_blocks(spec, impact_frame(con, data, spec), expectation, column)


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (one_treated_area(1), BETWEEN, "treated_areas"),
        (setter("comparison_areas", 1, 6), BETWEEN, "comparison_areas"),
    ],
    ids=["one-treated-area", "few-comparison-areas"],
)
def test_initiative_impact_suite_warns(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = impact_suite()
    data = good_impact()
    mutate(data)
    assert_warns(spec, impact_frame(con, data, spec), expectation, column)


def test_initiative_impact_has_one_row_per_declared_initiative(
    con: duckdb.DuckDBPyConnection,
) -> None:
    data = good_impact()
    first = {c: v[:1] for c, v in data.items()}
    spec = impact_suite()
    failure = assert_blocks(spec, impact_frame(con, first, spec), ROW_COUNT, None)
    assert failure["message"].startswith("row count 1, expected ")
    undeclared = M.initiative_impact_suite(())  # none declared: the mart must be empty
    assert_passes(undeclared, impact_frame(con, {c: [] for c in data}, undeclared))
    assert_blocks(undeclared, impact_frame(con, first, undeclared), IN_SET, "initiative")
    with pytest.raises(TypeError, match="sequence of names"):
        M.initiative_impact_suite("Safe Streets pilot")


# --- dim_grid_cell -----------------------------------------------------------------------------

GRID = AnalysisSettings()  # hexagons 500 m apart, the sample city's grid
MATCH_REGEX = "expect_column_values_to_match_regex"
UNIQUE_VALUE_COUNT = "expect_column_unique_value_count_to_be_between"
DIM_GRID_CELL_SCHEMA = fields(
    ("cell_id", STR), ("cell_row", BIGINT), ("cell_col", BIGINT), ("grid_shape", STR),
    ("cell_size_m", DOUBLE), ("centre_x", DOUBLE), ("centre_y", DOUBLE), ("centre_lon", DOUBLE),
    ("centre_lat", DOUBLE), ("cell_area_m2", DOUBLE), ("area_in_jurisdiction_m2", DOUBLE),
    ("geom", WKT),
)  # fmt: skip
GRID_ROWS, GRID_COLS = (-1, 0, 1), (10, 11, 12, 13)
HEXAGON_M2 = GRID.grid_cell_m**2 * math.sqrt(3) / 2


def good_cells() -> Data:
    rows = []
    for r in GRID_ROWS:
        for c in GRID_COLS:
            i = len(rows)
            rows.append(
                {
                    "cell_id": f"r{r}c{c}",
                    "cell_row": r,
                    "cell_col": c,
                    "grid_shape": GRID.grid_shape,
                    "cell_size_m": GRID.grid_cell_m,
                    "centre_x": 550_000.0 + GRID.grid_cell_m * (c + (r % 2) / 2),
                    "centre_y": 5_270_000.0 + GRID.grid_cell_m * math.sqrt(3) / 2 * r,
                    "centre_lon": -122.40 + 0.006 * (c - 10),
                    "centre_lat": 47.55 + 0.004 * (r + 1),
                    "cell_area_m2": HEXAGON_M2,
                    "area_in_jurisdiction_m2": HEXAGON_M2 * (i % 4) / 3,  # 0 .. whole cell
                    "geom": square(i),
                }
            )
    return {c: [r[c] for r in rows] for c in rows[0]}


def cells_suite(**kwargs: Any) -> S.SuiteSpec:
    return M.dim_grid_cell_suite(
        grid_shape=GRID.grid_shape, cell_size_m=GRID.grid_cell_m, bbox=SEATTLE_BBOX, **kwargs
    )


def cells_frame(con: duckdb.DuckDBPyConnection, data: Data, spec: S.SuiteSpec) -> Any:
    load_mart(con, "dim_grid_cell", DIM_GRID_CELL_SCHEMA, data)
    return frame_of(con, "dim_grid_cell", spec)


def test_dim_grid_cell_suite_passes(con: duckdb.DuckDBPyConnection) -> None:
    data = good_cells()
    assert data["cell_id"][0] == "r-1c10"  # lattice indices may be negative
    spec = cells_suite()
    assert_passes(spec, cells_frame(con, data, spec))


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("cell_id", 0, 1), UNIQUE, "cell_id"),
        (setter("cell_id", 2, None), NOT_NULL, "cell_id"),
        (setter("cell_id", 2, "cell-2"), MATCH_REGEX, "cell_id"),
        (copier("cell_row", 0, 4), COMPOUND_UNIQUE, "cell_row, cell_col"),
        (setter("cell_col", 2, None), NOT_NULL, "cell_col"),
        (setter("grid_shape", 2, "square"), IN_SET, "grid_shape"),
        (setter("cell_size_m", 2, 400.0), IN_SET, "cell_size_m"),
        (setter("centre_x", 2, None), NOT_NULL, "centre_x"),
        (setter("centre_lat", 2, 95.0), BETWEEN, "centre_lat"),
        (setter("cell_area_m2", 2, 200_000.0), BETWEEN, "cell_area_m2"),
        (setter("area_in_jurisdiction_m2", 2, HEXAGON_M2 + 1), PAIR_GREATER,
         "cell_area_m2, area_in_jurisdiction_m2"),
        (setter("area_in_jurisdiction_m2", 2, -1.0), BETWEEN, "area_in_jurisdiction_m2"),
        (setter("geom", 2, None), NOT_NULL, "geom"),
        (setter("geom", 2, point(2)), IN_SET, "geom"),
    ],
    ids=[
        "duplicate-id",
        "null-id",
        "malformed-id",
        "duplicate-position",
        "null-column",
        "another-shape",
        "another-size",
        "no-centre",
        "latitude-beyond-pole",
        "area-not-the-shape's",
        "more-inside-than-the-cell",
        "negative-inside",
        "no-polygon",
        "not-a-polygon",
    ],
)  # fmt: skip
def test_dim_grid_cell_suite_errors(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = cells_suite()
    data = good_cells()
    mutate(data)
    assert_blocks(spec, cells_frame(con, data, spec), expectation, column)


def test_dim_grid_cell_suite_warns_on_centres_outside_the_jurisdiction(
    con: duckdb.DuckDBPyConnection,
) -> None:
    data = good_cells()
    for row in (0, 1):  # 2 of 12 beyond the 10% allowed
        data["centre_lon"][row] = -118.24
    spec = cells_suite()
    failure = assert_warns(spec, cells_frame(con, data, spec), BETWEEN, "centre_lon")
    assert failure["unexpected_count"] == 2


def test_dim_grid_cell_suite_follows_the_grid_settings(con: duckdb.DuckDBPyConnection) -> None:
    square_grid = M.dim_grid_cell_suite(grid_shape="square", cell_size_m=GRID.grid_cell_m)
    frame = cells_frame(con, good_cells(), square_grid)
    assert_blocks(square_grid, frame, BETWEEN, "cell_area_m2")  # d^2, not d^2 sqrt(3) / 2
    with pytest.raises(ValueError, match="grid_shape"):
        M.dim_grid_cell_suite(grid_shape="triangle", cell_size_m=500.0)


# --- hotspots ----------------------------------------------------------------------------------

HOTSPOTS_SCHEMA = fields(
    ("cell_id", STR), ("month", DATE), ("incident_count", BIGINT), ("neighbour_cells", BIGINT),
    ("neighbourhood_count", BIGINT), ("expected_neighbourhood_count", DOUBLE),
    ("cells_in_month", BIGINT), ("month_mean_count", DOUBLE), ("month_sd_count", DOUBLE),
    ("gi_star_z", DOUBLE), ("p_value", DOUBLE), ("q_value", DOUBLE), ("confidence_bin", INT),
)  # fmt: skip
HOTSPOT_COUNTS = (0, 1, 2, 5, 9, 3)  # six cells in a row
HOTSPOT_Z = (-2.8, -1.0, 0.3, 1.9, 3.2, 2.3)  # bins -3, 0, 0, 1, 3, 2
FLAT_MONTH_ROW = 2 * len(HOTSPOT_COUNTS)  # the third month: every cell 2, no z
HOT_ROW, QUIET_ROW = 4, 2


def esri_bin(z: float | None, q: float | None) -> int:
    if z is None or q is None or q > 0.10:
        return 0
    return int(math.copysign(3 if q <= 0.01 else 2 if q <= 0.05 else 1, z))


def good_hotspots() -> Data:
    from scipy.stats import norm

    rows = []
    cells = len(HOTSPOT_COUNTS)
    for m, month in enumerate((date(2024, 7, 1), date(2024, 8, 1), date(2024, 9, 1))):
        counts = HOTSPOT_COUNTS if m < 2 else (2,) * cells
        mean = sum(counts) / cells
        sd = math.sqrt(sum((c - mean) ** 2 for c in counts) / cells)
        for i, count in enumerate(counts):
            near = range(max(0, i - 1), min(cells, i + 2))
            z = HOTSPOT_Z[i] if sd > 0 else None
            p = float(2 * norm.sf(abs(z))) if z is not None else None
            q = min(1.0, 1.5 * p) if p is not None else None
            rows.append(
                {
                    "cell_id": f"r0c{i}",
                    "month": month,
                    "incident_count": count,
                    "neighbour_cells": len(near),
                    "neighbourhood_count": sum(counts[j] for j in near),
                    "expected_neighbourhood_count": len(near) * mean,
                    "cells_in_month": cells,
                    "month_mean_count": mean,
                    "month_sd_count": sd,
                    "gi_star_z": z,
                    "p_value": p,
                    "q_value": q,
                    "confidence_bin": esri_bin(z, q),
                }
            )
    return {c: [r[c] for r in rows] for c in rows[0]}


def hotspots_suite(**kwargs: Any) -> S.SuiteSpec:
    kwargs.setdefault("min_scored_share", 0.5)  # a third of the rows in a month without z
    return M.hotspots_suite(start=START, now=NOW, **kwargs)


def hotspots_frame(con: duckdb.DuckDBPyConnection, data: Data, spec: S.SuiteSpec) -> Any:
    load_mart(con, "hotspots", HOTSPOTS_SCHEMA, data)
    return frame_of(con, "hotspots", spec)


def test_hotspots_suite_passes(con: duckdb.DuckDBPyConnection) -> None:
    data = good_hotspots()
    assert sorted(set(data["confidence_bin"])) == [-3, 0, 1, 2, 3]
    assert data["gi_star_z"][FLAT_MONTH_ROW] is None
    spec = hotspots_suite()
    assert_passes(spec, hotspots_frame(con, data, spec))


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("month", 0, 6), COMPOUND_UNIQUE, "cell_id, month"),
        (setter("cell_id", 2, None), NOT_NULL, "cell_id"),
        (setter("month", 2, date(2026, 8, 1)), BETWEEN, "month"),
        (setter("incident_count", 2, -1), BETWEEN, "incident_count"),
        (setter("neighbour_cells", 2, 0), BETWEEN, "neighbour_cells"),
        (setter("neighbourhood_count", HOT_ROW, 5), PAIR_GREATER,
         "neighbourhood_count, incident_count"),
        (setter("neighbour_cells", 2, 7), PAIR_GREATER, "cells_in_month, neighbour_cells"),
        (setter("month_sd_count", 2, -1.0), BETWEEN, "month_sd_count"),
        (setter("gi_star_z", FLAT_MONTH_ROW, 1.0), BE_NULL, "gi_star_z"),
        (setter("p_value", 0, None), NOT_NULL, "p_value"),
        (setter("q_value", FLAT_MONTH_ROW, 0.5), BE_NULL, "q_value"),
        (setter("p_value", 2, 1.2), BETWEEN, "p_value"),
        (lambda d: setter("q_value", 1, d["p_value"][1] / 2)(d), PAIR_GREATER,
         "q_value, p_value"),
        (setter("confidence_bin", 2, None), NOT_NULL, "confidence_bin"),
        (setter("confidence_bin", HOT_ROW, 2), IN_SET, "confidence_bin"),
        (setter("confidence_bin", HOT_ROW, -3), BETWEEN, "confidence_bin"),
        (setter("confidence_bin", QUIET_ROW, 1), IN_SET, "confidence_bin"),
        (setter("confidence_bin", FLAT_MONTH_ROW, 1), IN_SET, "confidence_bin"),
    ],
    ids=[
        "duplicate-cell-month",
        "null-cell",
        "month-in-future",
        "negative-count",
        "no-neighbourhood",
        "neighbourhood-below-cell",
        "neighbourhood-beyond-grid",
        "negative-sd",
        "z-without-spread",
        "z-without-p",
        "q-without-z",
        "p-above-one",
        "q-below-p",
        "null-bin",
        "bin-not-as-q",
        "bin-not-as-z-sign",
        "bin-without-significance",
        "bin-without-z",
    ],
)  # fmt: skip
def test_hotspots_suite_errors(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = hotspots_suite()
    data = good_hotspots()
    mutate(data)
    assert_blocks(spec, hotspots_frame(con, data, spec), expectation, column)


def test_hotspots_suite_blocks_bins_outside_the_scale(con: duckdb.DuckDBPyConnection) -> None:
    spec = hotspots_suite()
    data = good_hotspots()
    data["confidence_bin"][HOT_ROW] = 4
    outcome = S.run_suite(spec, hotspots_frame(con, data, spec))
    assert outcome.blocking
    # the -3..3 scale, and the bin q 0.002 calls for (+-3)
    assert len(failed_by(outcome, IN_SET, "confidence_bin")) == 2


def test_hotspots_suite_warns_on_months_without_z(con: duckdb.DuckDBPyConnection) -> None:
    spec = hotspots_suite(min_scored_share=0.95)
    failure = assert_warns(spec, hotspots_frame(con, good_hotspots(), spec), NOT_NULL, "gi_star_z")
    assert failure["unexpected_count"] == len(HOTSPOT_COUNTS)


# --- emerging_hotspots -------------------------------------------------------------------------

EMERGING_SCHEMA = fields(
    ("cell_id", STR), ("periods", BIGINT), ("first_month", DATE), ("final_month", DATE),
    ("hot_periods", BIGINT), ("cold_periods", BIGINT), ("final_hot_run", BIGINT),
    ("final_cold_run", BIGINT), ("final_z", DOUBLE), ("mk_n", BIGINT), ("mk_s", BIGINT),
    ("mk_var", DOUBLE), ("mk_z", DOUBLE), ("mk_p", DOUBLE), ("trend", STR), ("pattern", STR),
)  # fmt: skip
# (cell, pattern, z per month, bin per month): the classes of the model's dbt unit test.
EMERGING_SERIES: tuple[tuple[str, str, tuple[float, ...], tuple[int, ...]], ...] = (
    ("A", "new_hot_spot", (0.1, 0.2, 0.3, 0.4, 2.5), (0, 0, 0, 0, 2)),
    ("B", "consecutive_hot_spot", (0.5, 0.4, 0.6, 2.4, 3.5), (0, 0, 0, 2, 3)),
    ("C", "intensifying_hot_spot", (2.5, 3.0, 3.5, 4.0, 4.5), (2, 3, 3, 3, 3)),
    ("D", "persistent_hot_spot", (4.0, 3.0, 4.0, 3.0, 4.0), (3, 3, 3, 3, 3)),
    ("E", "diminishing_hot_spot", (6.0, 5.0, 4.0, 3.0, 2.5), (3, 3, 3, 3, 2)),
    ("F", "sporadic_hot_spot", (2.5, 0.0, 2.5, 0.0, 2.5), (2, 0, 2, 0, 2)),
    ("G", "oscillating_hot_spot", (-2.5, 0.0, 2.5, 0.0, 2.5), (-2, 0, 2, 0, 2)),
    ("H", "new_cold_spot", (0.0, 0.0, 0.0, 0.0, -2.5), (0, 0, 0, 0, -2)),
    ("I", "no_pattern", (0.0,) * 5, (0,) * 5),
    ("J", "no_pattern", (), ()),  # no series
    ("K", "no_pattern", (3.0,), (3,)),  # one month: too short to classify
)
EMERGING_ROW = {cell: i for i, (cell, *_) in enumerate(EMERGING_SERIES)}


def final_run(flags: list[bool]) -> int:
    run = 0
    for flag in reversed(flags):
        if not flag:
            break
        run += 1
    return run


def emerging_row(cell: str, pattern: str, zs: tuple[float, ...], bins: tuple[int, ...]):
    """A row as the mart computes it: runs and counts of significant months, Mann-Kendall S
    with the tie-corrected variance and the continuity-corrected Z (scipy for p)."""
    from scipy.stats import norm

    n = len(zs)
    s = sum(
        int(math.copysign(1, zs[j] - zs[i])) if zs[j] != zs[i] else 0
        for i in range(n)
        for j in range(i + 1, n)
    )
    ties = [zs.count(v) for v in set(zs)]
    var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties)) / 18
    mk_z = ((s - math.copysign(1, s)) if s else 0.0) / math.sqrt(var) if var > 0 else None
    mk_p = float(2 * norm.sf(abs(mk_z))) if mk_z is not None else None
    trend = "none"
    if mk_p is not None and mk_p < 0.05:
        trend = "up" if s > 0 else "down"
    months = [month_from_start(i) for i in range(n)]
    return {
        "cell_id": f"r1c{EMERGING_ROW[cell]}",
        "periods": n,
        "first_month": months[0] if n else None,
        "final_month": months[-1] if n else None,
        "hot_periods": sum(b >= 2 for b in bins),
        "cold_periods": sum(b <= -2 for b in bins),
        "final_hot_run": final_run([b >= 2 for b in bins]),
        "final_cold_run": final_run([b <= -2 for b in bins]),
        "final_z": zs[-1] if n else None,
        "mk_n": n,
        "mk_s": s if n else None,
        "mk_var": float(var) if n else None,
        "mk_z": mk_z,
        "mk_p": mk_p,
        "trend": trend,
        "pattern": pattern,
    }


def good_emerging() -> Data:
    rows = [emerging_row(*series) for series in EMERGING_SERIES]
    return {c: [r[c] for r in rows] for c in rows[0]}


def emerging_suite(**kwargs: Any) -> S.SuiteSpec:
    return M.emerging_hotspots_suite(start=START, now=NOW, **kwargs)


def emerging_frame(con: duckdb.DuckDBPyConnection, data: Data, spec: S.SuiteSpec) -> Any:
    load_mart(con, "emerging_hotspots", EMERGING_SCHEMA, data)
    return frame_of(con, "emerging_hotspots", spec)


def test_emerging_hotspots_suite_passes(con: duckdb.DuckDBPyConnection) -> None:
    data = good_emerging()
    trends = dict(zip(data["pattern"], data["trend"], strict=False))
    assert trends["intensifying_hot_spot"] == "up" and trends["diminishing_hot_spot"] == "down"
    assert data["trend"][EMERGING_ROW["A"]] == "up"  # a rising z, whatever the class
    spec = emerging_suite()
    assert_passes(spec, emerging_frame(con, data, spec))


ROW = EMERGING_ROW


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("cell_id", 0, 1), UNIQUE, "cell_id"),
        (setter("periods", ROW["J"], -1), BETWEEN, "periods"),
        (setter("hot_periods", ROW["A"], 6), PAIR_GREATER, "periods, hot_periods"),
        (setter("final_hot_run", ROW["B"], 3), PAIR_GREATER, "hot_periods, final_hot_run"),
        (setter("final_hot_run", ROW["H"], 1), BETWEEN, "final_cold_run"),
        (setter("first_month", ROW["A"], None), NOT_NULL, "first_month"),
        (setter("final_month", ROW["J"], START), BE_NULL, "final_month"),
        (setter("final_month", ROW["A"], date(2024, 6, 1)), PAIR_GREATER,
         "final_month, first_month"),
        (setter("final_month", ROW["A"], date(2026, 8, 1)), BETWEEN, "final_month"),
        (setter("mk_n", ROW["A"], 6), PAIR_GREATER, "periods, mk_n"),
        (setter("mk_s", ROW["A"], None), NOT_NULL, "mk_s"),
        (setter("mk_var", ROW["A"], -1.0), BETWEEN, "mk_var"),
        (setter("mk_z", ROW["I"], 0.5), BE_NULL, "mk_z"),
        (setter("mk_p", ROW["I"], 0.5), BE_NULL, "mk_p"),
        (setter("mk_p", ROW["A"], 1.5), BETWEEN, "mk_p"),
        (setter("trend", ROW["A"], None), NOT_NULL, "trend"),
        (setter("trend", ROW["A"], "none"), IN_SET, "trend"),
        (setter("trend", ROW["B"], "up"), IN_SET, "trend"),
        (setter("pattern", ROW["A"], None), NOT_NULL, "pattern"),
        (setter("pattern", ROW["K"], "new_hot_spot"), IN_SET, "pattern"),
        (setter("pattern", ROW["A"], "new_cold_spot"), IN_SET, "pattern"),
        (setter("pattern", ROW["H"], "sporadic_hot_spot"), IN_SET, "pattern"),
        (setter("pattern", ROW["I"], "persistent_hot_spot"), IN_SET, "pattern"),
        (setter("pattern", ROW["B"], "new_hot_spot"), BETWEEN, "hot_periods"),
        (setter("pattern", ROW["D"], "intensifying_hot_spot"), IN_SET, "trend"),
    ],
    ids=[
        "duplicate-cell",
        "negative-periods",
        "more-hot-than-months",
        "run-beyond-hot-months",
        "final-month-hot-and-cold",
        "no-first-month",
        "final-month-without-months",
        "final-before-first",
        "final-in-future",
        "more-z-than-months",
        "no-s",
        "negative-variance",
        "z-without-variance",
        "p-without-z",
        "p-above-one",
        "null-trend",
        "significant-rise-not-up",
        "up-without-significance",
        "null-pattern",
        "pattern-from-one-month",
        "cold-class-for-hot-final-month",
        "hot-class-for-cold-final-month",
        "hot-class-for-quiet-final-month",
        "new-spot-hot-twice",
        "intensifying-without-rise",
    ],
)  # fmt: skip
def test_emerging_hotspots_suite_errors(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = emerging_suite()
    data = good_emerging()
    mutate(data)
    assert_blocks(spec, emerging_frame(con, data, spec), expectation, column)


def test_emerging_hotspots_suite_warns_on_months_before_the_start(
    con: duckdb.DuckDBPyConnection,
) -> None:
    data = good_emerging()
    data["first_month"][ROW["K"]] = data["final_month"][ROW["K"]] = date(2019, 1, 1)
    spec = emerging_suite()
    failure = assert_warns(spec, emerging_frame(con, data, spec), BETWEEN, "final_month")
    assert failure["unexpected_count"] == 1


# --- hotspot_forecast_predictions --------------------------------------------------------------

PREDICTIONS_SCHEMA = fields(
    ("model", STR), ("cell_id", STR), ("month", DATE), ("period", STR),
    ("history_months", INT), ("predicted_count", DOUBLE), ("predicted_rank", INT),
    ("cells_total", INT), ("actual_count", BIGINT),
)  # fmt: skip
FORECAST_CELLS = 5
# Data up to NOW's month: two held-back months, and the month after as the forecast.
HOLDOUT_MONTHS = (date(2026, 5, 1), date(2026, 6, 1))
NEXT_MONTH = date(2026, 7, 1)
ROWS_PER_PREDICTION = FORECAST_CELLS
NEXT_ROW = 2 * ROWS_PER_PREDICTION  # the forecast model's first 'next' row
NAIVE_ROW = 3 * ROWS_PER_PREDICTION


def good_predictions() -> Data:
    rows = []
    for model in M.FORECAST_MODELS:
        for month in (*HOLDOUT_MONTHS, NEXT_MONTH):
            held_back = month != NEXT_MONTH
            predicted = [
                (2.5 * c + 0.25 if model == "forecast" else float(c)) for c in range(FORECAST_CELLS)
            ]
            order = sorted(range(FORECAST_CELLS), key=lambda c: -predicted[c])
            for c in range(FORECAST_CELLS):
                rows.append(
                    {
                        "model": model,
                        "cell_id": f"r0c{c}",
                        "month": month,
                        "period": "holdout" if held_back else "next",
                        "history_months": 12 if model == "forecast" else 1,
                        "predicted_count": predicted[c],
                        "predicted_rank": order.index(c) + 1,
                        "cells_total": FORECAST_CELLS,
                        "actual_count": c + 1 if held_back else None,
                    }
                )
    return {c: [r[c] for r in rows] for c in rows[0]}


def predictions_suite(**kwargs: Any) -> S.SuiteSpec:
    return M.hotspot_forecast_predictions_suite(start=START, now=NOW, **kwargs)


def predictions_frame(con: duckdb.DuckDBPyConnection, data: Data, spec: S.SuiteSpec) -> Any:
    load_mart(con, "hotspot_forecast_predictions", PREDICTIONS_SCHEMA, data)
    return frame_of(con, "hotspot_forecast_predictions", spec)


def test_hotspot_forecast_predictions_suite_passes(con: duckdb.DuckDBPyConnection) -> None:
    data = good_predictions()
    assert data["period"][NEXT_ROW] == "next" and data["model"][NAIVE_ROW] == "naive_last_period"
    spec = predictions_suite()
    assert_passes(spec, predictions_frame(con, data, spec))


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("cell_id", 0, 1), COMPOUND_UNIQUE, "model, month, cell_id"),
        (copier("predicted_rank", 0, 1), COMPOUND_UNIQUE, "model, month, predicted_rank"),
        (setter("model", 2, "arima"), IN_SET, "model"),
        (setter("month", 2, None), NOT_NULL, "month"),
        (setter("period", 2, "later"), IN_SET, "period"),
        (setter("month", 2, NEXT_MONTH), BETWEEN, "month"),  # held back, yet in the future
        (setter("month", NEXT_ROW, date(2026, 8, 1)), BETWEEN, "month"),
        (setter("history_months", 2, 13), BETWEEN, "history_months"),
        (setter("history_months", 2, None), NOT_NULL, "history_months"),
        (setter("history_months", NAIVE_ROW, 3), IN_SET, "history_months"),
        (setter("predicted_count", 2, -0.5), BETWEEN, "predicted_count"),
        (setter("predicted_rank", 2, 0), BETWEEN, "predicted_rank"),
        (setter("predicted_rank", 2, FORECAST_CELLS + 1), PAIR_GREATER,
         "cells_total, predicted_rank"),
        (setter("actual_count", 2, None), NOT_NULL, "actual_count"),
        (setter("actual_count", NEXT_ROW, 3), BE_NULL, "actual_count"),
        (setter("actual_count", 2, -1), BETWEEN, "actual_count"),
    ],
    ids=[
        "duplicate-cell",
        "duplicate-rank",
        "unknown-model",
        "null-month",
        "unknown-period",
        "held-back-month-in-future",
        "forecast-two-months-ahead",
        "history-beyond-window",
        "null-history",
        "naive-history",
        "negative-prediction",
        "rank-zero",
        "rank-beyond-grid",
        "held-back-without-actual",
        "actual-for-the-future",
        "negative-actual",
    ],
)  # fmt: skip
def test_hotspot_forecast_predictions_suite_errors(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = predictions_suite()
    data = good_predictions()
    mutate(data)
    assert_blocks(spec, predictions_frame(con, data, spec), expectation, column)


def test_hotspot_forecast_predictions_suite_warns_on_months_before_the_start(
    con: duckdb.DuckDBPyConnection,
) -> None:
    data = good_predictions()
    data["month"][0] = date(2019, 1, 1)
    spec = predictions_suite()
    failure = assert_warns(spec, predictions_frame(con, data, spec), BETWEEN, "month")
    assert failure["unexpected_count"] == 1


# --- hotspot_forecast --------------------------------------------------------------------------

FORECAST = AnalysisSettings()  # area shares 5% and 10%, 6 held-back months
HOTSPOT_FORECAST_SCHEMA = fields(
    ("cell_id", STR), ("forecast_month", DATE), ("predicted_count", DOUBLE),
    ("predicted_rank", INT), ("top_area_share", DOUBLE), ("model", STR), ("method", STR),
    ("history_months", INT),
)  # fmt: skip
GRID_CELLS = 20  # top 5%: 1 cell, top 10%: 2 cells


def good_forecast() -> Data:
    shares = sorted(FORECAST.forecast_area_shares)
    rows = []
    for c in range(GRID_CELLS):
        rank = c + 1
        top = [s for s in shares if rank <= math.ceil(s * GRID_CELLS)]
        rows.append(
            {
                "cell_id": f"r0c{c}",
                "forecast_month": NEXT_MONTH,
                "predicted_count": 10.0 - 0.4 * c,
                "predicted_rank": rank,
                "top_area_share": top[0] if top else None,
                "model": "forecast",
                "method": "exponentially weighted mean of the previous 12 months",
                "history_months": 12,
            }
        )
    return {c: [r[c] for r in rows] for c in rows[0]}


def forecast_suite(**kwargs: Any) -> S.SuiteSpec:
    return M.hotspot_forecast_suite(
        start=START, now=NOW, area_shares=FORECAST.forecast_area_shares, **kwargs
    )


def forecast_frame(con: duckdb.DuckDBPyConnection, data: Data, spec: S.SuiteSpec) -> Any:
    load_mart(con, "hotspot_forecast", HOTSPOT_FORECAST_SCHEMA, data)
    return frame_of(con, "hotspot_forecast", spec)


def test_hotspot_forecast_suite_passes(con: duckdb.DuckDBPyConnection) -> None:
    data = good_forecast()
    assert data["top_area_share"][:3] == [0.05, 0.10, None]
    spec = forecast_suite()
    assert_passes(spec, forecast_frame(con, data, spec))


def every_row(column: str, value: Any) -> Mutation:
    def mutate(data: Data) -> None:
        data[column] = [value] * len(data[column])

    return mutate


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("cell_id", 0, 1), UNIQUE, "cell_id"),
        (copier("predicted_rank", 0, 1), UNIQUE, "predicted_rank"),
        (setter("forecast_month", 2, None), NOT_NULL, "forecast_month"),
        (setter("forecast_month", 2, date(2026, 6, 1)), UNIQUE_VALUE_COUNT, "forecast_month"),
        (every_row("forecast_month", date(2026, 8, 1)), BETWEEN, "forecast_month"),
        (setter("predicted_count", 2, -1.0), BETWEEN, "predicted_count"),
        (setter("predicted_rank", 2, 0), BETWEEN, "predicted_rank"),
        (setter("top_area_share", 2, 0.2), IN_SET, "top_area_share"),
        (setter("top_area_share", 0, 0.10), IN_SET, "top_area_share"),
        (setter("model", 2, "naive_last_period"), IN_SET, "model"),
        (setter("method", 2, None), NOT_NULL, "method"),
        (setter("history_months", 2, 0), BETWEEN, "history_months"),
    ],
    ids=[
        "duplicate-cell",
        "duplicate-rank",
        "null-month",
        "two-months",
        "two-months-ahead",
        "negative-prediction",
        "rank-zero",
        "unconfigured-share",
        "top-cell-not-in-the-smallest-share",
        "naive-model",
        "null-method",
        "no-history",
    ],
)
def test_hotspot_forecast_suite_errors(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = forecast_suite()
    data = good_forecast()
    mutate(data)
    assert_blocks(spec, forecast_frame(con, data, spec), expectation, column)


def test_hotspot_forecast_suite_warns_on_a_month_before_the_start(
    con: duckdb.DuckDBPyConnection,
) -> None:
    data = good_forecast()
    every_row("forecast_month", date(2019, 1, 1))(data)
    spec = forecast_suite()
    failure = assert_warns(spec, forecast_frame(con, data, spec), BETWEEN, "forecast_month")
    assert failure["unexpected_count"] == GRID_CELLS
    with pytest.raises(ValueError, match="area_shares"):
        M.hotspot_forecast_suite(start=START, now=NOW, area_shares=())


# --- hotspot_forecast_scores -------------------------------------------------------------------

SCORES_SCHEMA = fields(
    ("model", STR), ("area_share", DOUBLE), ("scope", STR), ("month", DATE),
    ("months_scored", INT), ("cells_selected", INT), ("offenses", BIGINT),
    ("offenses_in_selected", BIGINT), ("hit_rate", DOUBLE), ("area_share_actual", DOUBLE),
    ("pai", DOUBLE), ("pai_max", DOUBLE), ("pei", DOUBLE), ("pai_lift_over_naive", DOUBLE),
)  # fmt: skip
SCORED_MONTHS = (date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1))  # the last: no offenses
SCORED_OFFENSES = (100, 80, 0)
HITS = {"forecast": (30, 20, 0), "naive_last_period": (25, 16, 0)}


def scores_rows(model: str, share: float) -> list[dict[str, Any]]:
    rows = []
    for month, offenses, hits in zip(SCORED_MONTHS, SCORED_OFFENSES, HITS[model], strict=True):
        hit_rate = hits / offenses if offenses else None
        pai = hit_rate / share if hit_rate is not None else None
        pai_max = 0.5 / share if offenses else None
        rows.append(
            {
                "model": model,
                "area_share": share,
                "scope": "month",
                "month": month,
                "months_scored": int(offenses > 0),
                "cells_selected": math.ceil(share * GRID_CELLS),
                "offenses": offenses,
                "offenses_in_selected": hits,
                "hit_rate": hit_rate,
                "area_share_actual": share,
                "pai": pai,
                "pai_max": pai_max,
                "pei": pai / pai_max if pai is not None else None,
            }
        )

    def mean(column: str) -> float:
        values = [r[column] for r in rows if r[column] is not None]
        return sum(values) / len(values)

    rows.append(
        {
            **{c: mean(c) for c in ("hit_rate", "area_share_actual", "pai", "pai_max", "pei")},
            "model": model,
            "area_share": share,
            "scope": "holdout_mean",
            "month": None,
            "months_scored": sum(r["months_scored"] for r in rows),
            "cells_selected": rows[0]["cells_selected"],
            "offenses": sum(SCORED_OFFENSES),
            "offenses_in_selected": sum(HITS[model]),
        }
    )
    return rows


def good_scores() -> Data:
    rows = []
    for share in FORECAST.forecast_area_shares:
        forecast, naive = scores_rows("forecast", share), scores_rows("naive_last_period", share)
        for f, n in zip(forecast, naive, strict=True):
            f["pai_lift_over_naive"] = f["pai"] / n["pai"] if f["pai"] else None
            n["pai_lift_over_naive"] = None
        rows += forecast + naive
    return {c: [r[c] for r in rows] for c in rows[0]}


ROWS_PER_SCORED_MODEL = len(SCORED_MONTHS) + 1
ZERO_MONTH_ROW = len(SCORED_MONTHS) - 1
MEAN_ROW = len(SCORED_MONTHS)  # the forecast's holdout mean at the first share
NAIVE_SCORE_ROW = ROWS_PER_SCORED_MODEL


def scores_suite(**kwargs: Any) -> S.SuiteSpec:
    return M.hotspot_forecast_scores_suite(
        start=START,
        now=NOW,
        area_shares=FORECAST.forecast_area_shares,
        holdout_months=len(SCORED_MONTHS),
        **kwargs,
    )


def scores_frame(con: duckdb.DuckDBPyConnection, data: Data, spec: S.SuiteSpec) -> Any:
    load_mart(con, "hotspot_forecast_scores", SCORES_SCHEMA, data)
    return frame_of(con, "hotspot_forecast_scores", spec)


def test_hotspot_forecast_scores_suite_passes(con: duckdb.DuckDBPyConnection) -> None:
    data = good_scores()
    assert data["scope"][MEAN_ROW] == "holdout_mean" and data["month"][MEAN_ROW] is None
    assert data["pai_lift_over_naive"][MEAN_ROW] == pytest.approx(5.5 / 4.5)
    spec = scores_suite()
    assert_passes(spec, scores_frame(con, data, spec))


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("month", 0, 1), COMPOUND_UNIQUE, "model, area_share, scope, month"),
        (lambda d: setter("area_share", MEAN_ROW + 2 * ROWS_PER_SCORED_MODEL,
                          d["area_share"][MEAN_ROW])(d),
         COMPOUND_UNIQUE, "model, area_share, scope, month"),
        (setter("model", 2, None), NOT_NULL, "model"),
        (setter("area_share", 2, 0.2), IN_SET, "area_share"),
        (setter("scope", 2, "week"), IN_SET, "scope"),
        (setter("month", 1, None), NOT_NULL, "month"),
        (setter("month", MEAN_ROW, date(2026, 3, 1)), BE_NULL, "month"),
        (setter("month", 0, date(2026, 8, 1)), BETWEEN, "month"),
        (setter("months_scored", 0, 2), BETWEEN, "months_scored"),
        (setter("months_scored", MEAN_ROW, len(SCORED_MONTHS) + 1), BETWEEN, "months_scored"),
        (setter("cells_selected", 0, 0), BETWEEN, "cells_selected"),
        (setter("offenses_in_selected", 0, 101), PAIR_GREATER,
         "offenses, offenses_in_selected"),
        (setter("hit_rate", 0, None), NOT_NULL, "hit_rate"),
        (setter("hit_rate", ZERO_MONTH_ROW, 0.0), BE_NULL, "hit_rate"),
        (setter("hit_rate", 0, 1.1), BETWEEN, "hit_rate"),
        (setter("pei", 0, 1.2), BETWEEN, "pei"),
        (setter("area_share_actual", 0, 0.0), BETWEEN, "area_share_actual"),
        (setter("pai", 0, -1.0), BETWEEN, "pai"),
        (setter("pai_lift_over_naive", NAIVE_SCORE_ROW, 1.0), BE_NULL, "pai_lift_over_naive"),
    ],
    ids=[
        "duplicate-month",
        "duplicate-mean",
        "null-model",
        "unconfigured-share",
        "unknown-scope",
        "monthly-row-without-month",
        "mean-row-with-month",
        "month-in-future",
        "month-scored-twice",
        "more-months-than-held-back",
        "nothing-selected",
        "more-hits-than-offenses",
        "no-hit-rate-with-offenses",
        "hit-rate-without-offenses",
        "hit-rate-above-one",
        "pei-above-one",
        "empty-selection",
        "negative-pai",
        "lift-for-the-baseline",
    ],
)  # fmt: skip
def test_hotspot_forecast_scores_suite_errors(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = scores_suite()
    data = good_scores()
    mutate(data)
    assert_blocks(spec, scores_frame(con, data, spec), expectation, column)


def test_hotspot_forecast_scores_suite_warns_when_the_baseline_wins(
    con: duckdb.DuckDBPyConnection,
) -> None:
    data = good_scores()
    for row in (MEAN_ROW, MEAN_ROW + 2 * ROWS_PER_SCORED_MODEL):  # both shares
        data["pai_lift_over_naive"][row] = 0.8
    spec = scores_suite()
    failure = assert_warns(spec, scores_frame(con, data, spec), BETWEEN, "pai_lift_over_naive")
    assert failure["unexpected_count"] == 2


# --- priority_areas ----------------------------------------------------------------------------

PRIORITY = AnalysisSettings()  # the default weights and population floor
PRIORITY_COMPONENTS = tuple(PRIORITY.priority_weights)
PRIORITY_SCHEMA = fields(
    ("area_id", STR), ("area_name", STR), ("population", BIGINT), ("ranked", BOOL),
    ("exclusion_reason", STR), ("need_rank", BIGINT), ("need_percentile", DOUBLE),
    ("need_index", DOUBLE), ("need_drivers", STR), ("period_start", DATE), ("period_end", DATE),
    ("period_months", BIGINT), ("person_crime_count", BIGINT), ("person_crime_rate", DOUBLE),
    ("mental_health_count", BIGINT), ("mental_health_rate", DOUBLE), ("poverty_rate", DOUBLE),
    ("unemployment_rate", DOUBLE), ("median_household_income", DOUBLE),
    ("indicators_unreliable", BOOL), ("poverty_rate_z", DOUBLE), ("unemployment_rate_z", DOUBLE),
    ("low_income_z", DOUBLE), ("deprivation", DOUBLE), ("access_2sfca", DOUBLE),
    ("nearest_facility_m", DOUBLE), ("low_access_z", DOUBLE), ("distance_z", DOUBLE),
    ("access_gap", DOUBLE),
    *((f"{c}_z", DOUBLE) for c in PRIORITY_COMPONENTS),
    *((f"{c}_contribution", DOUBLE) for c in PRIORITY_COMPONENTS),
    *((f"{c}_weight", DOUBLE) for c in PRIORITY_COMPONENTS),
    ("uninformative_components", STR), ("unavailable_components", STR),
    ("indicator_components", STR), ("indicator_weight", DOUBLE),
    ("indicator_contribution", DOUBLE),
)  # fmt: skip
RANKED_AREAS = 12
# Not ranked: too few residents, residents unknown, an indicator missing.
SMALL_AREA, UNKNOWN_AREA, NO_INDICATOR_AREA = RANKED_AREAS, RANKED_AREAS + 1, RANKED_AREAS + 2


def priority_row(i: int) -> dict[str, Any]:
    weights = PRIORITY.priority_weights
    total = sum(weights.values())
    reason = {
        SMALL_AREA: "population_below_minimum",
        UNKNOWN_AREA: "population_unknown",
        NO_INDICATOR_AREA: "indicator_missing",
    }.get(i)
    population = {SMALL_AREA: 150, UNKNOWN_AREA: None}.get(i, 2000 + 100 * i)
    ranked = reason is None
    # one z per component, spread over the ranked areas; the first area's deprivation 3.4
    z = {c: (i - 5.5) / 3.5 * (k + 1) / 4 for k, c in enumerate(PRIORITY_COMPONENTS)}
    if i == 0:
        z["deprivation"] = 3.4  # capped at 3 in its contribution
    contributions = {c: weights[c] * max(-3.0, min(3.0, z[c])) / total for c in z}
    rated = population is not None and population >= PRIORITY.min_population
    row: dict[str, Any] = {
        "area_id": area_key(i),
        "area_name": f"Area {i}",
        "population": population,
        "ranked": ranked,
        "exclusion_reason": reason,
        "need_index": sum(contributions.values()) if ranked else None,
        "need_drivers": "deprivation" if ranked else None,
        "period_start": date(2025, 7, 1),
        "period_end": date(2026, 6, 1),
        "period_months": 12,
        "person_crime_count": 3 * i,
        "person_crime_rate": 3 * i / population * 1000 if rated else None,
        "mental_health_count": i % 3,
        "mental_health_rate": (i % 3) / population * 1000 if rated else None,
        "poverty_rate": None if i == NO_INDICATOR_AREA else 0.05 + 0.01 * i,
        "unemployment_rate": 0.04,
        "median_household_income": 60_000.0 + 1000 * i,
        "indicators_unreliable": i == 3,
        **{c: (0.1 * i if ranked else None) for c in (
            "poverty_rate_z", "unemployment_rate_z", "low_income_z", "deprivation",
            "low_access_z", "distance_z", "access_gap")},
        "access_2sfca": 1.5 + 0.1 * i,
        "nearest_facility_m": 400.0 + 50 * i,
        **{f"{c}_z": (z[c] if ranked else None) for c in PRIORITY_COMPONENTS},
        **{f"{c}_contribution": (contributions[c] if ranked else None)
           for c in PRIORITY_COMPONENTS},
        **{f"{c}_weight": float(weights[c]) for c in PRIORITY_COMPONENTS},
        "uninformative_components": "" if ranked else None,
        "unavailable_components": None,
        "indicator_components": None,
        "indicator_weight": 0.0,
        "indicator_contribution": 0.0 if ranked else None,
    }  # fmt: skip
    return row


def good_priority() -> Data:
    rows = [priority_row(i) for i in range(RANKED_AREAS + 3)]
    indexes = sorted((r["need_index"] for r in rows if r["ranked"]), reverse=True)
    for r in rows:
        if r["ranked"]:
            below = sum(x < r["need_index"] for x in indexes)
            r["need_rank"] = indexes.index(r["need_index"]) + 1
            r["need_percentile"] = below / (len(indexes) - 1) * 100
        else:
            r["need_rank"] = r["need_percentile"] = None
    return {c: [r[c] for r in rows] for c in PRIORITY_SCHEMA.names}


def priority_suite(**kwargs: Any) -> S.SuiteSpec:
    return M.priority_areas_suite(
        weights=PRIORITY.priority_weights, min_population=PRIORITY.min_population, **kwargs
    )


def priority_frame(con: duckdb.DuckDBPyConnection, data: Data, spec: S.SuiteSpec) -> Any:
    load_mart(con, "priority_areas", PRIORITY_SCHEMA, data)
    return frame_of(con, "priority_areas", spec)


def test_priority_areas_suite_passes(con: duckdb.DuckDBPyConnection) -> None:
    data = good_priority()
    assert data["deprivation_z"][0] > 3 and data["need_rank"][0] is not None
    assert data["ranked"].count(True) / len(data["ranked"]) == 0.8
    spec = priority_suite()
    assert_passes(spec, priority_frame(con, data, spec))


def without_access(data: Data) -> Data:
    """The frame of a jurisdiction with no facility list: access_gap weighs 0, has no z score
    or contribution, and is listed; the other contributions take its share."""
    weights = {**PRIORITY.priority_weights, "access_gap": 0.0}
    total = sum(weights.values())
    data = {column: list(values) for column, values in data.items()}
    for i, ranked in enumerate(data["ranked"]):
        data["access_gap_weight"][i] = 0.0
        data["unavailable_components"][i] = "access_gap"
        data["access_gap_z"][i] = data["access_gap_contribution"][i] = None
        if ranked:
            for c in PRIORITY_COMPONENTS[:3]:
                z = max(-3.0, min(3.0, data[f"{c}_z"][i]))
                data[f"{c}_contribution"][i] = weights[c] * z / total
    return data


def test_priority_areas_suite_accepts_an_unavailable_component(con) -> None:
    spec = priority_suite(unavailable=("access_gap",))
    data = without_access(good_priority())
    assert_passes(spec, priority_frame(con, data, spec))
    # the configured weight shown, or the component not listed: both break the contract
    shown = {**data, "access_gap_weight": [0.2] * len(data["ranked"])}
    assert_blocks(spec, priority_frame(con, shown, spec), IN_SET, "access_gap_weight")
    unlisted = {**data, "unavailable_components": [None] * len(data["ranked"])}
    assert_blocks(spec, priority_frame(con, unlisted, spec), NOT_NULL, "unavailable_components")


def with_hardship_index(data: Data, weight: float) -> Data:
    """The frame of a jurisdiction that weighs its own hardship index in: its z (the first
    component's) adds a contribution, and every share is over the larger total."""
    total = sum(PRIORITY.priority_weights.values()) + weight
    data = {column: list(values) for column, values in data.items()}
    for i, ranked in enumerate(data["ranked"]):
        data["indicator_components"][i] = "hardship_index"
        data["indicator_weight"][i] = weight
        if ranked:
            capped = {c: max(-3.0, min(3.0, data[f"{c}_z"][i])) for c in PRIORITY_COMPONENTS}
            for c in PRIORITY_COMPONENTS:
                data[f"{c}_contribution"][i] = PRIORITY.priority_weights[c] * capped[c] / total
            data["indicator_contribution"][i] = weight * capped["person_crime"] / total
    return data


def test_priority_areas_suite_checks_the_jurisdictions_own_indicators(con) -> None:
    spec = priority_suite(indicator_weights={"hardship_index": 0.5})
    data = with_hardship_index(good_priority(), 0.5)
    assert_passes(spec, priority_frame(con, data, spec))
    # another weight, the indicator not listed, or a share beyond its capped weight
    reweighted = {**data, "indicator_weight": [1.0] * len(data["ranked"])}
    assert_blocks(spec, priority_frame(con, reweighted, spec), IN_SET, "indicator_weight")
    unlisted = {**data, "indicator_components": [None] * len(data["ranked"])}
    assert_blocks(spec, priority_frame(con, unlisted, spec), NOT_NULL, "indicator_components")
    beyond = {column: list(values) for column, values in data.items()}
    beyond["indicator_contribution"][0] = 3.5 * 0.5 / 1.5
    assert_blocks(spec, priority_frame(con, beyond, spec), BETWEEN, "indicator_contribution")
    # without indicators of its own, the jurisdiction's frame lists none
    assert_blocks(priority_suite(), priority_frame(con, data, spec), BE_NULL,
                  "indicator_components")  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("area_id", 0, 1), UNIQUE, "area_id"),
        (setter("ranked", 2, None), NOT_NULL, "ranked"),
        (setter("exclusion_reason", SMALL_AREA, None), NOT_NULL, "exclusion_reason"),
        (setter("exclusion_reason", 2, "indicator_missing"), BE_NULL, "exclusion_reason"),
        (setter("exclusion_reason", NO_INDICATOR_AREA, "other"), IN_SET, "exclusion_reason"),
        (setter("exclusion_reason", SMALL_AREA, "indicator_missing"), IN_SET,
         "exclusion_reason"),
        (setter("exclusion_reason", UNKNOWN_AREA, "population_below_minimum"), IN_SET,
         "exclusion_reason"),
        (setter("need_rank", 2, None), NOT_NULL, "need_rank"),
        (setter("need_index", SMALL_AREA, 0.5), BE_NULL, "need_index"),
        (setter("deprivation_contribution", SMALL_AREA, 0.1), BE_NULL,
         "deprivation_contribution"),
        (setter("uninformative_components", 2, None), NOT_NULL, "uninformative_components"),
        (setter("need_rank", 2, 0), BETWEEN, "need_rank"),
        (setter("need_percentile", 2, 101.0), BETWEEN, "need_percentile"),
        (setter("need_index", 2, 3.5), BETWEEN, "need_index"),
        (setter("deprivation_contribution", 0, 0.35 * 3.4), BETWEEN,
         "deprivation_contribution"),
        (setter("deprivation_weight", 2, 0.5), IN_SET, "deprivation_weight"),
        (setter("indicator_contribution", 2, None), NOT_NULL, "indicator_contribution"),
        (setter("indicator_contribution", 2, 0.1), BETWEEN, "indicator_contribution"),
        (setter("person_crime_count", 2, -1), BETWEEN, "person_crime_count"),
        (setter("mental_health_rate", 2, -1.0), BETWEEN, "mental_health_rate"),
        (setter("person_crime_rate", SMALL_AREA, 12.0), BE_NULL, "person_crime_rate"),
        (setter("period_months", 2, 13), BETWEEN, "period_months"),
        (setter("period_end", 2, date(2025, 6, 1)), PAIR_GREATER, "period_end, period_start"),
        (setter("poverty_rate", 2, 1.2), BETWEEN, "poverty_rate"),
        (setter("nearest_facility_m", 2, -1.0), BETWEEN, "nearest_facility_m"),
    ],
    ids=[
        "duplicate-area",
        "null-ranked",
        "unranked-without-reason",
        "ranked-with-reason",
        "unknown-reason",
        "small-area-not-said-small",
        "unknown-population-not-said-unknown",
        "ranked-without-rank",
        "index-for-unranked",
        "contribution-for-unranked",
        "ranked-without-uninformative-list",
        "rank-zero",
        "percentile-above-100",
        "index-beyond-cap",
        "contribution-not-capped",
        "another-weight",
        "ranked-without-indicator-share",
        "indicator-share-without-indicators",
        "negative-count",
        "negative-rate",
        "rate-under-the-floor",
        "period-beyond-a-year",
        "period-ends-before-it-starts",
        "poverty-above-one",
        "negative-distance",
    ],
)  # fmt: skip
def test_priority_areas_suite_errors(
    con: duckdb.DuckDBPyConnection, mutate: Mutation, expectation: str, column: str
) -> None:
    spec = priority_suite()
    data = good_priority()
    mutate(data)
    assert_blocks(spec, priority_frame(con, data, spec), expectation, column)


def test_priority_areas_suite_warns_when_few_areas_are_ranked(
    con: duckdb.DuckDBPyConnection,
) -> None:
    spec = priority_suite(min_ranked_share=0.9)
    failure = assert_warns(spec, priority_frame(con, good_priority(), spec), IN_SET, "ranked")
    assert failure["unexpected_count"] == 3


def test_priority_areas_suite_follows_the_weights(con: duckdb.DuckDBPyConnection) -> None:
    equal = {c: 1.0 for c in PRIORITY_COMPONENTS}
    spec = M.priority_areas_suite(weights=equal)
    assert_blocks(spec, priority_frame(con, good_priority(), spec), IN_SET, "deprivation_weight")
    with pytest.raises(ValueError, match="weights"):
        M.priority_areas_suite(weights={"person_crime": 1.0})
    with pytest.raises(ValueError, match="positive"):
        M.priority_areas_suite(weights=dict.fromkeys(PRIORITY_COMPONENTS, 0.0))


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
    "fct_incidents": Mart(FCT_INCIDENTS_SCHEMA, good_incidents, incidents_suite, "occurred_raw"),
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
    "offense_spikes": Mart(OFFENSE_SPIKES_SCHEMA, good_spikes, spikes_suite, "summary"),
    "service_access": Mart(SERVICE_ACCESS_SCHEMA, good_access, access_suite, "origin_y"),
    "crime_social_correlation": Mart(
        CORRELATION_SCHEMA, good_correlations, M.crime_social_correlation_suite, "method"
    ),
    "initiative_impact": Mart(INITIATIVE_IMPACT_SCHEMA, good_impact, impact_suite, "method"),
    "priority_areas": Mart(PRIORITY_SCHEMA, good_priority, priority_suite, "need_drivers"),
    "dim_grid_cell": Mart(DIM_GRID_CELL_SCHEMA, good_cells, cells_suite, "centre_y"),
    "hotspots": Mart(
        HOTSPOTS_SCHEMA, good_hotspots, hotspots_suite, "expected_neighbourhood_count"
    ),
    "emerging_hotspots": Mart(EMERGING_SCHEMA, good_emerging, emerging_suite, "final_z"),
    "hotspot_forecast_predictions": Mart(
        PREDICTIONS_SCHEMA, good_predictions, predictions_suite, "cells_total"
    ),
    "hotspot_forecast": Mart(HOTSPOT_FORECAST_SCHEMA, good_forecast, forecast_suite, "method"),
    "hotspot_forecast_scores": Mart(SCORES_SCHEMA, good_scores, scores_suite, "pai_max"),
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
    assert failure["message"].startswith("row count 0, expected ")
    rows = len(next(iter(case.good().values())))
    load_mart(con, mart, case.schema, case.good())
    spec = case.suite(min_rows=0, max_rows=rows - 1)
    assert assert_blocks(spec, frame_of(con, mart, spec), ROW_COUNT, None)["message"] == (
        f"row count {rows}, expected between 0 and {rows - 1}"
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


def test_every_mart_outside_the_diagnostics_has_a_suite_and_a_contract() -> None:
    models = {p.stem: p.parent.name for p in MARTS_DIR.glob("*/*.sql")}
    published = {name for name, folder in models.items() if folder != "quality"}
    assert set(contracted_marts()) == published == set(MARTS)
    # the suites take their column lists from the models' yml: dbt must hold the table to it
    enforced = {mart for mart, (_, is_enforced) in documented_columns().items() if is_enforced}
    assert published <= enforced, published - enforced


def documented_columns() -> dict[str, tuple[list[str], bool]]:
    """Per mart: the columns its yml documents and whether it enforces a contract."""
    found = {}
    for path in MARTS_DIR.glob("*/_*__models.yml"):
        for model in yaml.safe_load(path.read_text())["models"]:
            enforced = bool(((model.get("config") or {}).get("contract") or {}).get("enforced"))
            found[model["name"]] = ([c["name"] for c in model.get("columns", [])], enforced)
    return found


@pytest.mark.parametrize("mart", list(MARTS))
def test_the_declared_columns_are_the_models(mart: str) -> None:
    """The test frames here are written by hand: they and the yml declaration agree."""
    expected = mart_columns(mart)
    assert len(set(expected)) == len(expected)
    assert list(MARTS[mart].schema.names) == list(expected)


def accepted_values(model: str, column: str) -> list[Any]:
    """The values ``model.column`` may take in the marts' yml: its ``check`` constraint
    ``<column> in (...)`` (a contracted mart) or its accepted_values test."""
    for path in MARTS_DIR.glob("*/_*__models.yml"):
        for entry in yaml.safe_load(path.read_text())["models"]:
            if entry["name"] != model:
                continue
            (found,) = [c for c in entry.get("columns", []) if c["name"] == column]
            for constraint in found.get("constraints") or []:
                listed = re.fullmatch(rf"{column} in \((.*)\)", constraint.get("expression", ""))
                if constraint["type"] == "check" and listed:
                    return list(ast.literal_eval(f"({listed.group(1)},)"))
            for test in found.get("data_tests") or []:
                if isinstance(test, dict) and "accepted_values" in test:
                    return list(test["accepted_values"]["arguments"]["values"])
    raise LookupError(f"no accepted values for {model}.{column}")


def test_analytics_domains_follow_the_dbt_project() -> None:
    assert accepted_values("crime_social_correlation", "measure") == list(M.CORRELATION_MEASURES)
    correlated = yaml.safe_load((REPO / "dbt_project" / "dbt_project.yml").read_text())["vars"]
    assert correlated["correlation_indicators"] == list(M.CORRELATION_INDICATORS)
    assert set(accepted_values("service_access", "facility_type")) == {
        M.ALL_FACILITIES,
        *FACILITY_TYPES,
    }
    assert accepted_values("priority_areas", "exclusion_reason") == list(M.EXCLUSION_REASONS)
    assert accepted_values("dim_grid_cell", "grid_shape") == list(GRID_SHAPES)
    assert accepted_values("hotspots", "confidence_bin") == list(M.CONFIDENCE_BINS)
    assert accepted_values("emerging_hotspots", "trend") == list(M.EMERGING_TRENDS)
    assert accepted_values("emerging_hotspots", "pattern") == list(M.EMERGING_PATTERNS)
    for mart in ("hotspot_forecast_predictions", "hotspot_forecast_scores"):
        assert accepted_values(mart, "model") == list(M.FORECAST_MODELS)
    assert accepted_values("hotspot_forecast_predictions", "period") == list(M.FORECAST_PERIODS)
    assert accepted_values("hotspot_forecast_scores", "scope") == list(M.SCORE_SCOPES)
    macros = (REPO / "dbt_project" / "macros" / "forecast.sql").read_text()
    window = macros.split("macro forecast_window_months()")[1].split("endmacro")[0]
    assert re.search(rf"^\s*{M.FORECAST_WINDOW_MONTHS}\s*$", window, re.MULTILINE), window


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
    assert S.read_columns(spec) == ("b", "c", "d", "a", "e")
    assert "suppressed" in S.read_columns(survey_suite())
    assert "location_precision" in S.read_columns(incidents_suite())


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
    assert list(frame.columns) == [*mart_columns("fct_incidents"), *M.POINT_COORDINATES]
    assert list(mart_columns("fct_incidents")[-4:]) == list(LINEAGE_COLUMNS)


# --- Dagster checks ----------------------------------------------------------------------------


def mart_check_result(root: Path, mart: str, suite: Any) -> Any:
    """The Dagster check result of ``mart``'s suite on the warehouse under ``root``."""
    from crimemap.config.paths import DataPaths
    from crimemap.orchestration.defs.quality.mart_checks import mart_suite_result
    from crimemap.quality.mart_validation import validate_marts

    paths = DataPaths(root)
    spec = suite(paths.conformed_file("areas"))
    (outcome,) = validate_marts(paths.warehouse, paths.quality, [(mart, spec)])
    return mart_suite_result(mart, outcome)


def test_mart_checks_block_each_published_mart() -> None:
    from dagster import AssetKey

    from crimemap.config.jurisdiction import load_jurisdiction
    from crimemap.orchestration.defs.quality.mart_checks import mart_checks

    specs = [spec for check in mart_checks(load_jurisdiction()) for spec in check.check_specs]
    assert {s.asset_key for s in specs} == {AssetKey(["marts", m]) for m in contracted_marts()}
    assert {s.name for s in specs} == {f"{m}_mart_suite" for m in contracted_marts()}
    assert all(s.blocking for s in specs)
    assert all(s.description and s.description.startswith("GX suite") for s in specs)


@pytest.mark.parametrize(
    "mart",
    [
        "offense_spikes",
        "service_access",
        "priority_areas",
        "crime_social_correlation",
        "initiative_impact",
        "emerging_hotspots",
        "hotspot_forecast_predictions",
        "hotspot_forecast",
        "hotspot_forecast_scores",
    ],
)
def test_analytics_mart_checks_use_the_jurisdiction_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mart: str
) -> None:
    """The checks hand the jurisdiction's analysis settings (spike rules, catchment, weights,
    declared initiatives, forecast shares: the sample city's) to the suites, so frames built
    with them pass."""
    from crimemap.config.jurisdiction import load_jurisdiction
    from crimemap.core.duckdb_spatial import connect
    from crimemap.quality.mart_registry import mart_suites

    config = load_jurisdiction()
    assert [i.name for i in config.analysis.initiatives] == list(INITIATIVES[:1])
    assert config.analysis.catchment_m == CATCHMENT_M
    monkeypatch.setenv("CRIMEMAP_DATA_DIR", str(tmp_path))
    data = MARTS[mart].good()
    if mart == "initiative_impact":  # the sample city declares the first initiative only
        data = {column: values[:1] for column, values in data.items()}
    with connect(tmp_path / "warehouse.duckdb") as db:
        load_mart(db, mart, MARTS[mart].schema, data)
    _, suite = mart_suites(config)[mart]
    result = mart_check_result(tmp_path, mart, suite)
    assert result.passed, result.description


def test_a_mart_check_validates_the_warehouse_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster import AssetCheckSeverity

    from crimemap.config.jurisdiction import load_jurisdiction
    from crimemap.core.duckdb_spatial import connect
    from crimemap.quality.mart_registry import mart_suites

    monkeypatch.setenv("CRIMEMAP_DATA_DIR", str(tmp_path))
    warehouse = tmp_path / "warehouse.duckdb"
    with connect(warehouse) as db:
        load_mart(db, "dim_area", DIM_AREA_SCHEMA, good_areas())
    _, suite = mart_suites(load_jurisdiction())["dim_area"]

    def check() -> Any:
        return mart_check_result(tmp_path, "dim_area", suite)

    passed = check()
    assert passed.passed and passed.description == "all expectations met"
    assert (tmp_path / "quality" / "validations" / "dim_area_mart.json").is_file()

    with connect(warehouse) as db:
        db.execute("UPDATE dim_area SET area_id = ? WHERE area_id = ?", [area_key(0), area_key(1)])
    failed = check()
    assert not failed.passed and failed.severity == AssetCheckSeverity.ERROR
    assert failed.asset_key.path == ["marts", "dim_area"]
    assert failed.check_name == "dim_area_mart_suite"
    assert failed.metadata["expectations_failed"].value == 1


# --- a suite declared in a mart's YAML (meta.suite) ----------------------------------------------


def declared_rates_mart() -> DeclaredMart:
    columns = tuple(MartColumn(c, None, "") for c in ("area_id", "month", "rate", "share"))
    suite = {"key": ("area_id", "month"), "non_negative": ("rate",), "shares": ("share",)}
    return DeclaredMart("rates", "crime", columns, suite=suite)


def test_a_declared_suite_holds_the_mart_to_its_yaml() -> None:
    spec = M.declared_suite(declared_rates_mart())
    good = pd.DataFrame(
        {"area_id": ["A", "A", "B"], "month": ["2025-01", "2025-02", "2025-01"],
         "rate": [0.0, 2.5, None], "share": [0.1, 1.0, 0.0]}
    )  # fmt: skip
    assert_passes(spec, good)
    repeated = good.assign(month=["2025-01", "2025-01", "2025-01"])
    assert_blocks(spec, repeated, COMPOUND_UNIQUE, "area_id, month")
    assert_blocks(spec, good.assign(area_id=["A", None, "B"]), NOT_NULL, "area_id")
    assert_blocks(spec, good.assign(rate=[0.0, -1.0, None]), BETWEEN, "rate")
    assert_blocks(spec, good.assign(share=[0.1, 1.5, 0.0]), BETWEEN, "share")


def data_dir_resource(root: Path) -> dict[str, Any]:
    from crimemap.orchestration.defs.data_directory import DataDirectory

    return {"data_dir": DataDirectory(root=str(root))}


def test_the_mart_suites_step_runs_the_checks_selected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All mart suites share one Dagster step; a run that selects one of them (the UI's
    "execute this check") validates that mart alone, under its own check key."""
    import dagster as dg

    from crimemap.config.jurisdiction import load_jurisdiction
    from crimemap.core.duckdb_spatial import connect
    from crimemap.orchestration.defs.quality.mart_checks import mart_check_key, mart_checks

    monkeypatch.setenv("CRIMEMAP_DATA_DIR", str(tmp_path))
    with connect(tmp_path / "warehouse.duckdb") as db:  # the only mart there is
        load_mart(db, "dim_area", DIM_AREA_SCHEMA, good_areas())
    checks = mart_checks(load_jurisdiction())
    marts = [dg.AssetSpec(spec.asset_key) for c in checks for spec in c.check_specs]
    key = mart_check_key("dim_area")
    defs = dg.Definitions(
        assets=marts,
        asset_checks=checks,
        jobs=[dg.define_asset_job("one_check", selection=dg.AssetSelection.checks(key))],
        resources=data_dir_resource(tmp_path),
    )
    result = defs.resolve_job_def("one_check").execute_in_process(
        instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    ((evaluation),) = result.get_asset_check_evaluations()
    assert (evaluation.asset_key, evaluation.check_name) == (key.asset_key, key.name)
    assert evaluation.passed


# --- the mart suites in worker processes (crimemap/quality/workers.py) ---------------------------


def test_the_mart_suites_give_the_same_outcomes_in_worker_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three marts, one with a repeated key: validated by two worker processes, their outcomes
    are the ones validating them here gives, the failure included."""
    from crimemap.config.jurisdiction import load_jurisdiction
    from crimemap.config.paths import DataPaths
    from crimemap.core.duckdb_spatial import connect
    from crimemap.quality import workers
    from crimemap.quality.mart_registry import mart_suites
    from crimemap.quality.mart_validation import validate_marts

    monkeypatch.setenv("CRIMEMAP_DATA_DIR", str(tmp_path))
    marts = ("dim_area", "offense_spikes", "service_access")
    with connect(tmp_path / "warehouse.duckdb") as db:
        for mart in marts:
            load_mart(db, mart, MARTS[mart].schema, MARTS[mart].good())
        db.execute("UPDATE dim_area SET area_id = ? WHERE area_id = ?", [area_key(0), area_key(1)])
    paths = DataPaths(tmp_path)
    suites = mart_suites(load_jurisdiction())
    jobs = [(mart, suites[mart][1](paths.conformed_file("areas"))) for mart in marts]

    monkeypatch.setattr(workers, "cores", lambda: 2)
    assert workers.parallel_workers(len(jobs)) == 2
    in_workers = validate_marts(paths.warehouse, tmp_path / "workers", jobs)
    monkeypatch.setattr(workers, "cores", lambda: 1)
    assert workers.parallel_workers(len(jobs)) == 0
    here = validate_marts(paths.warehouse, tmp_path / "here", jobs)

    def summary(outcomes: list[S.SuiteOutcome]) -> list[tuple[Any, ...]]:
        return [(o.suite, o.success, o.severity, o.n_expectations, o.failed) for o in outcomes]

    assert summary(in_workers) == summary(here)
    assert [o.success for o in in_workers] == [False, True, True]
    assert [f["expectation"] for f in in_workers[0].failed] == ["expect_column_values_to_be_unique"]
    assert (tmp_path / "workers" / "validations" / "offense_spikes_mart.json").is_file()


def test_a_suite_that_cannot_run_fails_its_own_check_and_the_others_still_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A suite whose mart cannot be read (here the table is gone) fails as a blocking check that
    names the mart and the error, in workers and here alike; the other marts' suites pass."""
    from crimemap.config.jurisdiction import load_jurisdiction
    from crimemap.config.paths import DataPaths
    from crimemap.core.duckdb_spatial import connect
    from crimemap.orchestration.defs.quality.mart_checks import mart_suite_result
    from crimemap.quality import workers
    from crimemap.quality.mart_registry import mart_suites
    from crimemap.quality.mart_validation import validate_marts

    monkeypatch.setenv("CRIMEMAP_DATA_DIR", str(tmp_path))
    marts = ("dim_area", "offense_spikes", "service_access")
    with connect(tmp_path / "warehouse.duckdb") as db:
        for mart in marts:
            load_mart(db, mart, MARTS[mart].schema, MARTS[mart].good())
        db.execute("DROP TABLE offense_spikes")
    paths = DataPaths(tmp_path)
    suites = mart_suites(load_jurisdiction())
    jobs = [(mart, suites[mart][1](paths.conformed_file("areas"))) for mart in marts]

    for cores in (2, 1):
        monkeypatch.setattr(workers, "cores", lambda cores=cores: cores)
        outcomes = validate_marts(paths.warehouse, tmp_path / f"cores{cores}", jobs)
        assert [o.success for o in outcomes] == [True, False, True]
        broken = outcomes[1]
        assert broken.blocking
        (failure,) = broken.failed
        assert failure["expectation"] == "suite_could_not_run"
        assert "could not run on offense_spikes: CatalogException" in failure["message"]
        result = mart_suite_result("offense_spikes", broken)
        assert not result.passed
        assert result.severity.value == "ERROR"
        assert "offense_spikes does not exist" in (result.description or "")


def pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def fail_with(message: str) -> None:
    raise ValueError(message)


def test_workers_are_processes_of_their_own_and_their_errors_reach_the_step() -> None:
    from crimemap.quality.workers import map_in_workers

    pids = map_in_workers(pid_after, [(0.5,), (0.5,)], 2)
    assert len(set(pids)) == 2 and os.getpid() not in pids
    with pytest.raises(ValueError, match="a suite broke"):
        map_in_workers(fail_with, [("a suite broke",), ("another",)], 2)

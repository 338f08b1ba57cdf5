"""GX 1.x suites of the conformed survey and public-record sources, run on real Parquet files.

Every frame goes through a Parquet file written with the conformed schema (WKB as BINARY,
timestamps UTC, booleans, doubles, dates) and read back the way the pipeline reads it, so the
expectations meet the dtypes they meet in production.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crimemap.quality import suites as S
from crimemap.quality.layouts import BBox

SEATTLE_BBOX = BBox(-122.46, 47.48, -122.22, 47.74)
INGESTED = datetime(2024, 6, 1, 12, tzinfo=UTC)

Data = dict[str, list[Any]]
Mutation = Callable[[Data], None]

LINEAGE_FIELDS = [
    pa.field("_source_file", pa.string()),
    pa.field("_row_number", pa.int64()),
    pa.field("_ingested_at", pa.timestamp("us", tz="UTC")),
    pa.field("_load_id", pa.string()),
]
AREAS_SCHEMA = pa.schema(
    [
        pa.field("area_id", pa.string()),
        pa.field("area_name", pa.string()),
        pa.field("geom_wkb", pa.binary()),
        pa.field("source_rows", pa.int64()),
        pa.field("geometry_repaired", pa.bool_()),
        pa.field("raw_id", pa.string()),
        pa.field("source_crs", pa.string()),
        *LINEAGE_FIELDS,
    ]
)
INDICATORS_SCHEMA = pa.schema(
    [
        pa.field("geoid", pa.string()),
        pa.field("geography_name", pa.string()),
        pa.field("indicator", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("label", pa.string()),
        pa.field("estimate", pa.float64()),
        pa.field("moe", pa.float64()),
        pa.field("cv_pct", pa.float64()),
        pa.field("unreliable", pa.bool_()),
        pa.field("numerator", pa.string()),
        pa.field("denominator", pa.string()),
        *LINEAGE_FIELDS,
    ]
)
FACILITIES_SCHEMA = pa.schema(
    [
        pa.field("facility_id", pa.string()),
        pa.field("facility_name", pa.string()),
        pa.field("facility_type", pa.string()),
        pa.field("facility_type_raw", pa.string()),
        pa.field("address", pa.string()),
        pa.field("longitude", pa.float64()),
        pa.field("latitude", pa.float64()),
        *LINEAGE_FIELDS,
    ]
)
REQUESTS_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string()),
        pa.field("request_type", pa.string()),
        pa.field("request_subtype", pa.string()),
        pa.field("status", pa.string()),
        pa.field("is_closed", pa.bool_()),
        pa.field("created_at", pa.timestamp("us", tz="UTC")),
        pa.field("closed_at", pa.timestamp("us", tz="UTC")),
        pa.field("address", pa.string()),
        pa.field("longitude", pa.float64()),
        pa.field("latitude", pa.float64()),
        *LINEAGE_FIELDS,
    ]
)
SURVEYS_SCHEMA = pa.schema(
    [
        pa.field("survey", pa.string()),
        pa.field("response_id", pa.string()),
        pa.field("submitted_on", pa.date32()),
        pa.field("area_key", pa.string()),
        pa.field("longitude", pa.float64()),
        pa.field("latitude", pa.float64()),
        pa.field("weight", pa.float64()),
        pa.field("question", pa.string()),
        pa.field("answer_value", pa.float64()),
        pa.field("answer_positive", pa.bool_()),
        *LINEAGE_FIELDS,
    ]
)

INDICATORS = (
    "population",
    "poverty_universe",
    "below_poverty",
    "poverty_rate",
    "median_household_income",
)
QUESTIONS = ("feel_safe_day", "feel_safe_night", "unmet_need_housing")


# --- files -------------------------------------------------------------------------------------


def lineage(n: int, source_file: str = "x.csv") -> Data:
    return {
        "_source_file": [source_file] * n,
        "_row_number": list(range(1, n + 1)),
        "_ingested_at": [INGESTED] * n,
        "_load_id": ["load-1"] * n,
    }


def written(tmp_path: Path, schema: pa.Schema, data: Data, name: str = "conformed") -> Any:
    """``data`` written as a Parquet file with exactly ``schema``, read back as the suite reads."""
    path = tmp_path / f"{name}.parquet"
    pq.write_table(pa.Table.from_pydict(data, schema=schema), path)
    frame = S.read_frame(path)
    assert list(frame.columns) == schema.names
    return frame


def empty(tmp_path: Path, schema: pa.Schema) -> Any:
    return written(tmp_path, schema, {name: [] for name in schema.names}, name="empty")


def square_wkb(x: float, y: float, size: float = 0.01) -> bytes:
    """A little-endian WKB polygon: one closed ring, the square with corner (x, y)."""
    ring = [(x, y), (x + size, y), (x + size, y + size), (x, y + size), (x, y)]
    header = struct.pack("<BIII", 1, 3, 1, len(ring))
    return header + b"".join(struct.pack("<dd", px, py) for px, py in ring)


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
    found = failed_by(outcome, expectation, column)
    assert len(found) == 1, outcome.failed
    assert found[0]["severity"] == "ERROR"
    return found[0]


def assert_warns(spec: S.SuiteSpec, frame: Any, expectation: str, column: str | None) -> dict:
    """The batch fails only with warnings (not blocking), the named expectation among them."""
    outcome = S.run_suite(spec, frame)
    assert not outcome.success
    assert outcome.severity == "WARN" and not outcome.blocking
    assert all(f["severity"] == "WARN" for f in outcome.failed)
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


NOT_NULL = "expect_column_values_to_not_be_null"
UNIQUE = "expect_column_values_to_be_unique"
IN_SET = "expect_column_values_to_be_in_set"
BETWEEN = "expect_column_values_to_be_between"
REGEX = "expect_column_values_to_match_regex"
COMPOUND_UNIQUE = "expect_compound_columns_to_be_unique"
PAIR_GREATER = "expect_column_pair_values_a_to_be_greater_than_b"
COLUMN_SET = "expect_table_columns_to_match_set"
ROW_COUNT = "expect_table_row_count_to_be_between"


# --- areas -------------------------------------------------------------------------------------


def good_areas(n: int = 20) -> Data:
    ids = [f"530330{i:05d}" for i in range(n)]
    data: Data = {
        "area_id": ids,
        "area_name": [f"Census Tract {i}" for i in range(n)],
        "geom_wkb": [square_wkb(-122.4 + i * 0.01, 47.6) for i in range(n)],
        "source_rows": [2 if i == 0 else 1 for i in range(n)],  # area 0 was published in pieces
        "geometry_repaired": [i == 1 for i in range(n)],  # 1 of 20 repaired: within 5%
        "raw_id": list(ids),
        "source_crs": ["EPSG:4326"] * n,
    }
    data.update(lineage(n, "areas.geojson"))
    return data


def test_areas_conformed_suite_passes(tmp_path: Path) -> None:
    frame = written(tmp_path, AREAS_SCHEMA, good_areas())
    assert isinstance(frame["geom_wkb"].iloc[0], bytes)
    assert_passes(S.areas_conformed_suite(), frame)


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("area_id", 0, 1), UNIQUE, "area_id"),
        (setter("area_id", 2, None), NOT_NULL, "area_id"),
        (setter("area_id", 2, "  "), NOT_NULL, "area_id"),
        (setter("geom_wkb", 3, None), NOT_NULL, "geom_wkb"),
        (setter("source_rows", 4, 0), BETWEEN, "source_rows"),
        (setter("source_rows", 4, None), NOT_NULL, "source_rows"),
        (setter("geometry_repaired", 5, None), NOT_NULL, "geometry_repaired"),
    ],
    ids=[
        "duplicate-id",
        "null-id",
        "blank-id",
        "no-geometry",
        "zero-rows",
        "null-rows",
        "null-flag",
    ],
)
def test_areas_conformed_suite_errors(
    tmp_path: Path, mutate: Mutation, expectation: str, column: str
) -> None:
    data = good_areas()
    mutate(data)
    assert_blocks(
        S.areas_conformed_suite(), written(tmp_path, AREAS_SCHEMA, data), expectation, column
    )


def test_areas_conformed_suite_rejects_the_raw_layout(tmp_path: Path) -> None:
    schema = pa.schema(
        [
            pa.field("GEOID", pa.string()),
            *(f for f in AREAS_SCHEMA if f.name != "area_id"),
        ]
    )
    data = good_areas()
    data["GEOID"] = data.pop("area_id")
    failure = assert_blocks(
        S.areas_conformed_suite(), written(tmp_path, schema, data), COLUMN_SET, None
    )
    assert "missing columns: ['area_id']" in failure["message"]
    assert "extra columns: ['GEOID']" in failure["message"]


def test_areas_conformed_suite_warns_on_many_repairs(tmp_path: Path) -> None:
    data = good_areas()
    data["geometry_repaired"][2:4] = [True, True]  # 3 of 20 = 15% > 5%
    failure = assert_warns(
        S.areas_conformed_suite(),
        written(tmp_path, AREAS_SCHEMA, data),
        IN_SET,
        "geometry_repaired",
    )
    assert failure["unexpected_count"] == 3
    assert failure["sample"] == [True, True, True]


# --- area indicators ---------------------------------------------------------------------------


def indicator_row(
    geoid: str, indicator: str, kind: str, estimate: float | None, moe: float | None
) -> dict[str, Any]:
    """A row as the contract derives it: cv = moe / 1.645 / estimate * 100, unreliable when the
    cv is above 30 or the estimate is missing."""
    cv = None if estimate is None or moe is None or estimate == 0 else moe / 1.645 / estimate * 100
    ratio = {"poverty_rate": ("below_poverty", "poverty_universe")}.get(indicator, (None, None))
    return {
        "geoid": geoid,
        "geography_name": f"Census Tract {geoid[-6:]}",
        "indicator": indicator,
        "kind": kind,
        "label": indicator.replace("_", " ").capitalize(),
        "estimate": estimate,
        "moe": moe,
        "cv_pct": cv,
        "unreliable": estimate is None or (cv is not None and cv > 30),
        "numerator": ratio[0],
        "denominator": ratio[1],
    }


def good_indicators(units: int = 4) -> Data:
    rows = []
    for u in range(units):
        geoid = f"530330{u + 1:05d}"
        rows += [
            indicator_row(geoid, "population", "count", 4000.0 + u, 300.0),
            indicator_row(geoid, "poverty_universe", "count", 3900.0, 310.0),
            indicator_row(geoid, "below_poverty", "count", 480.0, 120.0),
            indicator_row(geoid, "poverty_rate", "proportion", 0.123, 0.03),  # cv about 14.8
            indicator_row(geoid, "median_household_income", "median", 85000.0, 9000.0),
        ]
    # A small, noisy count (cv about 60, flagged) and a missing median (flagged): 2 of 20.
    rows[2] = indicator_row(rows[2]["geoid"], "below_poverty", "count", 40.0, 40.0)
    rows[9] = indicator_row(rows[9]["geoid"], "median_household_income", "median", None, None)
    data: Data = {c: [r[c] for r in rows] for c in rows[0]}
    data.update(lineage(len(rows), "acs_5yr_tract.json"))
    # One raw row per unit gives a row per indicator: lineage repeats.
    data["_row_number"] = [i // len(INDICATORS) + 1 for i in range(len(rows))]
    return data


@pytest.fixture(scope="module")
def indicators_spec() -> S.SuiteSpec:
    return S.area_indicators_conformed_suite(INDICATORS)


def test_area_indicators_suite_passes(tmp_path: Path, indicators_spec: S.SuiteSpec) -> None:
    data = good_indicators()
    assert data["unreliable"].count(True) == 2
    # Counts and medians far above 1 are not judged by the proportion range.
    assert max(e for e in data["estimate"] if e is not None) > 1
    assert_passes(indicators_spec, written(tmp_path, INDICATORS_SCHEMA, data))


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (setter("geoid", 0, "5303300"), REGEX, "geoid"),
        (setter("geoid", 0, "1400000US53033000100"), REGEX, "geoid"),
        (setter("geoid", 0, None), NOT_NULL, "geoid"),
        (copier("indicator", 0, 1), COMPOUND_UNIQUE, "geoid, indicator"),
        (setter("indicator", 0, "households"), IN_SET, "indicator"),
        (setter("indicator", 0, None), NOT_NULL, "indicator"),
        (setter("kind", 0, "ratio"), IN_SET, "kind"),
        (setter("kind", 0, None), NOT_NULL, "kind"),
        (setter("estimate", 0, -1.0), BETWEEN, "estimate"),
        (setter("estimate", 3, 1.2), BETWEEN, "estimate"),  # a proportion above 1
        (setter("moe", 0, -555555555.0), BETWEEN, "moe"),
        (setter("cv_pct", 0, -5.0), BETWEEN, "cv_pct"),
        (setter("numerator", 3, None), NOT_NULL, "numerator"),
        (setter("denominator", 3, None), NOT_NULL, "denominator"),
        (setter("unreliable", 0, None), NOT_NULL, "unreliable"),
    ],
    ids=[
        "short-geoid",
        "unnormalized-geoid",
        "null-geoid",
        "duplicate-unit-indicator",
        "unknown-indicator",
        "null-indicator",
        "unknown-kind",
        "null-kind",
        "negative-estimate",
        "proportion-above-one",
        "sentinel-moe",
        "negative-cv",
        "proportion-without-numerator",
        "proportion-without-denominator",
        "null-flag",
    ],
)
def test_area_indicators_suite_errors(
    tmp_path: Path,
    indicators_spec: S.SuiteSpec,
    mutate: Mutation,
    expectation: str,
    column: str,
) -> None:
    data = good_indicators()
    mutate(data)
    assert_blocks(indicators_spec, written(tmp_path, INDICATORS_SCHEMA, data), expectation, column)


def test_area_indicators_proportion_range_applies_to_proportions_only(
    tmp_path: Path, indicators_spec: S.SuiteSpec
) -> None:
    data = good_indicators()
    data["estimate"][3] = 1.2  # poverty_rate of the first unit
    data["estimate"][8] = 1.5  # poverty_rate of the second unit
    outcome = S.run_suite(indicators_spec, written(tmp_path, INDICATORS_SCHEMA, data))
    (in_range,) = failed_by(outcome, BETWEEN, "estimate")
    assert in_range["unexpected_count"] == 2
    assert sorted(in_range["sample"]) == [1.2, 1.5]


@pytest.mark.parametrize(
    ("row", "flag"),
    [(0, True), (2, False), (9, False)],
    ids=["reliable-flagged", "noisy-not-flagged", "missing-not-flagged"],
)
def test_area_indicators_flag_disagreeing_with_cv_warns(
    tmp_path: Path, indicators_spec: S.SuiteSpec, row: int, flag: bool
) -> None:
    data = good_indicators()
    data["unreliable"][row] = flag
    failure = assert_warns(
        indicators_spec, written(tmp_path, INDICATORS_SCHEMA, data), IN_SET, "unreliable"
    )
    assert failure["unexpected_count"] == 1
    assert failure["sample"] == [flag]


def test_area_indicators_flag_follows_the_threshold(tmp_path: Path) -> None:
    frame = written(tmp_path, INDICATORS_SCHEMA, good_indicators())
    # At a 10% threshold the poverty rates (cv about 14.8) should be flagged, and are not.
    failure = assert_warns(
        S.area_indicators_conformed_suite(INDICATORS, cv_threshold_pct=10),
        frame,
        IN_SET,
        "unreliable",
    )
    # cv above 10: the four poverty rates and three of the below-poverty counts (cv about 15).
    assert failure["unexpected_count"] == 7
    assert_passes(S.area_indicators_conformed_suite(INDICATORS, cv_threshold_pct=30), frame)


def test_area_indicators_warn_on_a_low_reliable_share(
    tmp_path: Path, indicators_spec: S.SuiteSpec
) -> None:
    data = good_indicators()
    noisy = [i for i, name in enumerate(data["indicator"]) if name in INDICATORS[:2]]
    for row in noisy:  # populations and poverty universes noisy, and flagged so
        data["moe"][row] = 3000.0
        data["cv_pct"][row] = 3000.0 / 1.645 / data["estimate"][row] * 100
        data["unreliable"][row] = True
    failure = assert_warns(
        indicators_spec, written(tmp_path, INDICATORS_SCHEMA, data), IN_SET, "unreliable"
    )
    assert failure["unexpected_count"] == 10  # 50% unreliable, 30% allowed
    assert failure["message"] == "10 unexpected values (50%, allowed 30%)"


def test_area_indicators_suite_needs_indicator_names() -> None:
    with pytest.raises(ValueError, match="at least one"):
        S.area_indicators_conformed_suite([])
    with pytest.raises(TypeError, match="string"):
        S.area_indicators_conformed_suite("population")


def test_row_conditions_reach_the_validation_result_and_data_docs(
    tmp_path: Path, indicators_spec: S.SuiteSpec
) -> None:
    data = good_indicators()
    data["estimate"][3] = 1.2
    outcome = S.run_suite(
        indicators_spec,
        written(tmp_path, INDICATORS_SCHEMA, data),
        results_dir=tmp_path / "validations",
        data_docs_dir=tmp_path / "docs",
    )
    assert outcome.validation_path is not None and outcome.data_docs_path is not None
    results = json.loads(outcome.validation_path.read_text())["results"]
    (conditioned,) = [
        r
        for r in results
        if r["expectation_config"]["kwargs"].get("column") == "estimate"
        and r["expectation_config"]["kwargs"].get("row_condition", {}).get("parameter")
        == "proportion"
    ]
    condition = conditioned["expectation_config"]["kwargs"]["row_condition"]
    assert (condition["column"]["name"], condition["operator"], condition["parameter"]) == (
        "kind",
        "==",
        "proportion",
    )
    assert conditioned["success"] is False
    assert outcome.data_docs_path.is_file()
    json.dumps(outcome.to_metadata(), allow_nan=False)


# --- facilities --------------------------------------------------------------------------------


def good_facilities(n: int = 20) -> Data:
    types = S.FACILITY_TYPES
    data: Data = {
        "facility_id": [f"F{i:03d}" for i in range(n)],
        "facility_name": [f"Facility {i}" for i in range(n)],
        "facility_type": [types[i % len(types)] for i in range(n)],
        "facility_type_raw": [types[i % len(types)].replace("_", " ").title() for i in range(n)],
        "address": [f"{100 + i} Pine St" if i % 4 else None for i in range(n)],
        "longitude": [-122.40 + i * 0.005 for i in range(n)],
        "latitude": [47.55 + i * 0.005 for i in range(n)],
    }
    data.update(lineage(n, "facilities.csv"))
    return data


@pytest.fixture(scope="module")
def facilities_spec() -> S.SuiteSpec:
    return S.facilities_conformed_suite(bbox=SEATTLE_BBOX)


def test_facilities_suite_passes(tmp_path: Path, facilities_spec: S.SuiteSpec) -> None:
    data = good_facilities()
    data["facility_name"][0] = None  # 1 of 20: within the 5% allowance
    assert_passes(facilities_spec, written(tmp_path, FACILITIES_SCHEMA, data))


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("facility_id", 0, 1), UNIQUE, "facility_id"),
        (setter("facility_id", 1, None), NOT_NULL, "facility_id"),
        (setter("facility_type", 1, "hospital"), IN_SET, "facility_type"),
        (setter("facility_type", 1, "Mental Health"), IN_SET, "facility_type"),
        (setter("facility_type", 1, None), NOT_NULL, "facility_type"),
        (setter("longitude", 1, None), NOT_NULL, "longitude"),
        (setter("latitude", 1, None), NOT_NULL, "latitude"),
    ],
    ids=[
        "duplicate-id",
        "null-id",
        "unknown-type",
        "raw-label",
        "null-type",
        "no-longitude",
        "no-latitude",
    ],
)
def test_facilities_suite_errors(
    tmp_path: Path,
    facilities_spec: S.SuiteSpec,
    mutate: Mutation,
    expectation: str,
    column: str,
) -> None:
    data = good_facilities()
    mutate(data)
    assert_blocks(facilities_spec, written(tmp_path, FACILITIES_SCHEMA, data), expectation, column)


def test_facilities_outside_the_bbox_warn(tmp_path: Path, facilities_spec: S.SuiteSpec) -> None:
    data = good_facilities()
    data["longitude"][:4] = [-118.24] * 4  # 20% in Los Angeles: over the 10% allowance
    failure = assert_warns(
        facilities_spec, written(tmp_path, FACILITIES_SCHEMA, data), BETWEEN, "longitude"
    )
    assert failure["unexpected_count"] == 4
    assert failure["sample"][0] == pytest.approx(-118.24)


def test_facilities_without_names_warn(tmp_path: Path, facilities_spec: S.SuiteSpec) -> None:
    data = good_facilities()
    data["facility_name"][:3] = [None, "", "  "]  # blanks count as missing: 15%
    failure = assert_warns(
        facilities_spec, written(tmp_path, FACILITIES_SCHEMA, data), NOT_NULL, "facility_name"
    )
    assert failure["unexpected_count"] == 3


# --- service requests --------------------------------------------------------------------------


def good_requests(n: int = 20) -> Data:
    created = [datetime(2024, 5, 1, 8, tzinfo=UTC) + timedelta(hours=7 * i) for i in range(n)]
    closed = [c + timedelta(days=2) if i % 3 else None for i, c in enumerate(created)]
    closed[1] = created[1]  # closed the moment it was opened: allowed
    data: Data = {
        "request_id": [str(17_000_000 + i) for i in range(n)],
        "request_type": [
            ("Graffiti", "Encampments", "Street and Sidewalk Cleaning")[i % 3] for i in range(n)
        ],
        "request_subtype": [None if i % 2 else "Other" for i in range(n)],
        "status": ["Closed" if c is not None else "Open" for c in closed],
        "is_closed": [c is not None for c in closed],
        "created_at": created,
        "closed_at": closed,
        "address": [f"{100 + i} MARKET ST" for i in range(n)],
        "longitude": [-122.40 + i * 0.005 for i in range(n)],
        "latitude": [47.55 + i * 0.005 for i in range(n)],
    }
    data.update(lineage(n, "sf311.json"))
    return data


@pytest.fixture(scope="module")
def requests_spec() -> S.SuiteSpec:
    return S.service_requests_conformed_suite(bbox=SEATTLE_BBOX)


def test_service_requests_suite_passes(tmp_path: Path, requests_spec: S.SuiteSpec) -> None:
    frame = written(tmp_path, REQUESTS_SCHEMA, good_requests())
    assert str(frame["created_at"].dt.tz) == "UTC"
    assert frame["closed_at"].isna().sum() > 0  # open requests: not compared
    assert_passes(requests_spec, frame)


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("request_id", 0, 1), UNIQUE, "request_id"),
        (setter("request_id", 1, None), NOT_NULL, "request_id"),
        (setter("request_id", 1, ""), NOT_NULL, "request_id"),
        (setter("created_at", 1, None), NOT_NULL, "created_at"),
        (setter("is_closed", 1, None), NOT_NULL, "is_closed"),
        (setter("longitude", 1, None), NOT_NULL, "longitude"),
        (setter("latitude", 1, None), NOT_NULL, "latitude"),
    ],
    ids=["duplicate-id", "null-id", "blank-id", "no-created", "null-flag", "no-lon", "no-lat"],
)
def test_service_requests_suite_errors(
    tmp_path: Path,
    requests_spec: S.SuiteSpec,
    mutate: Mutation,
    expectation: str,
    column: str,
) -> None:
    data = good_requests()
    mutate(data)
    assert_blocks(requests_spec, written(tmp_path, REQUESTS_SCHEMA, data), expectation, column)


def test_requests_closed_before_created_warn(tmp_path: Path, requests_spec: S.SuiteSpec) -> None:
    data = good_requests()
    data["closed_at"][2] = data["created_at"][2] - timedelta(minutes=5)
    failure = assert_warns(
        requests_spec,
        written(tmp_path, REQUESTS_SCHEMA, data),
        PAIR_GREATER,
        "closed_at, created_at",
    )
    assert failure["unexpected_count"] == 1


def test_requests_without_types_and_outside_the_bbox_warn(
    tmp_path: Path, requests_spec: S.SuiteSpec
) -> None:
    data = good_requests()
    data["request_type"][:2] = [None, " "]  # 10%: over the 5% allowance
    data["latitude"][:3] = [37.77] * 3  # 15% in San Francisco
    outcome = S.run_suite(requests_spec, written(tmp_path, REQUESTS_SCHEMA, data))
    assert not outcome.success and outcome.severity == "WARN" and not outcome.blocking
    assert {(f["expectation"], f["column"], f["severity"]) for f in outcome.failed} == {
        (NOT_NULL, "request_type", "WARN"),
        (BETWEEN, "latitude", "WARN"),
    }


def test_service_requests_empty_file_is_valid_with_min_rows_zero(
    tmp_path: Path, requests_spec: S.SuiteSpec
) -> None:
    frame = empty(tmp_path, REQUESTS_SCHEMA)
    assert len(frame) == 0 and str(frame["created_at"].dt.tz) == "UTC"
    assert_passes(S.service_requests_conformed_suite(bbox=SEATTLE_BBOX, min_rows=0), frame)
    failure = assert_blocks(requests_spec, frame, ROW_COUNT, None)
    assert failure["message"] == "row count 0, expected at least 1"


# --- surveys -----------------------------------------------------------------------------------


def good_surveys(respondents: int = 8) -> Data:
    rows = []
    for r in range(respondents):
        by_area = r % 2 == 0  # half placed by tract (no point), half by a point
        for q, question in enumerate(QUESTIONS):
            if r == 3 and q == 1:
                continue  # not answered: no row
            value = float(1 + (r + q) % 5) if q < 2 else float(r % 2)
            rows.append(
                {
                    "survey": "resident_survey_2024",
                    "response_id": f"R{r:03d}",
                    "submitted_on": date(2024, 4, 1 + r),
                    "area_key": f"530330{r + 1:05d}" if by_area else None,
                    "longitude": None if by_area else -122.35 + r * 0.001,
                    "latitude": None if by_area else 47.60 + r * 0.001,
                    "weight": 1.0 + r / 10,
                    "question": question,
                    "answer_value": value,
                    "answer_positive": value >= 4 if q < 2 else value == 1,
                    "_row_number": r + 1,
                }
            )
    data: Data = {c: [row[c] for row in rows] for c in rows[0] if c != "_row_number"}
    data.update(lineage(len(rows), "resident_survey_2024.csv"))
    data["_row_number"] = [row["_row_number"] for row in rows]
    return data


@pytest.fixture(scope="module")
def surveys_spec() -> S.SuiteSpec:
    return S.surveys_conformed_suite(QUESTIONS, bbox=SEATTLE_BBOX)


def test_surveys_suite_passes(tmp_path: Path, surveys_spec: S.SuiteSpec) -> None:
    data = good_surveys()
    # Placed by area without a point, and answers at both ends of the scales.
    assert None in data["longitude"] and {0.0, 1.0, 5.0} <= set(data["answer_value"])
    assert_passes(surveys_spec, written(tmp_path, SURVEYS_SCHEMA, data))
    assert_passes(S.surveys_conformed_suite(QUESTIONS), written(tmp_path, SURVEYS_SCHEMA, data))


@pytest.mark.parametrize(
    ("mutate", "expectation", "column"),
    [
        (copier("question", 0, 1), COMPOUND_UNIQUE, "survey, response_id, question"),
        (setter("question", 0, "feel_safe_weekend"), IN_SET, "question"),
        (setter("question", 0, None), NOT_NULL, "question"),
        (setter("survey", 0, None), NOT_NULL, "survey"),
        (setter("response_id", 0, None), NOT_NULL, "response_id"),
        (setter("submitted_on", 0, None), NOT_NULL, "submitted_on"),
        (setter("weight", 0, 0.0), BETWEEN, "weight"),
        (setter("weight", 0, -1.0), BETWEEN, "weight"),
        (setter("weight", 0, None), NOT_NULL, "weight"),
        (setter("answer_value", 0, 6.0), BETWEEN, "answer_value"),
        (setter("answer_value", 0, -1.0), BETWEEN, "answer_value"),
        (setter("answer_value", 0, None), NOT_NULL, "answer_value"),
        (setter("answer_positive", 0, None), NOT_NULL, "answer_positive"),
        (setter("area_key", 0, None), NOT_NULL, "longitude"),  # respondent 0 has no point
    ],
    ids=[
        "duplicate-answer",
        "unknown-question",
        "null-question",
        "null-survey",
        "null-response",
        "null-date",
        "zero-weight",
        "negative-weight",
        "null-weight",
        "answer-above-scale",
        "answer-below-scale",
        "null-answer",
        "null-positive",
        "unplaced",
    ],
)
def test_surveys_suite_errors(
    tmp_path: Path,
    surveys_spec: S.SuiteSpec,
    mutate: Mutation,
    expectation: str,
    column: str,
) -> None:
    data = good_surveys()
    mutate(data)
    assert_blocks(surveys_spec, written(tmp_path, SURVEYS_SCHEMA, data), expectation, column)


def test_same_response_in_another_survey_is_not_a_duplicate(
    tmp_path: Path, surveys_spec: S.SuiteSpec
) -> None:
    data = good_surveys()
    data["survey"][len(QUESTIONS) :] = ["resident_survey_2025"] * (
        len(data["survey"]) - len(QUESTIONS)
    )
    data["response_id"][len(QUESTIONS) : 2 * len(QUESTIONS)] = ["R000"] * len(QUESTIONS)
    assert_passes(surveys_spec, written(tmp_path, SURVEYS_SCHEMA, data))


def test_survey_points_outside_the_bbox_warn(tmp_path: Path, surveys_spec: S.SuiteSpec) -> None:
    data = good_surveys()
    placed = [i for i, lon in enumerate(data["longitude"]) if lon is not None]
    for i in placed[: len(placed) // 2]:
        data["longitude"][i] = -118.24
    failure = assert_warns(
        surveys_spec, written(tmp_path, SURVEYS_SCHEMA, data), BETWEEN, "longitude"
    )
    assert failure["unexpected_count"] == len(placed) // 2
    # Without a bbox the same rows are not judged.
    assert_passes(S.surveys_conformed_suite(QUESTIONS), written(tmp_path, SURVEYS_SCHEMA, data))


def test_surveys_empty_inbox_is_valid_with_min_rows_zero(
    tmp_path: Path, surveys_spec: S.SuiteSpec
) -> None:
    frame = empty(tmp_path, SURVEYS_SCHEMA)
    spec = S.surveys_conformed_suite(QUESTIONS, bbox=SEATTLE_BBOX, min_rows=0)
    assert_passes(spec, frame)
    assert_blocks(surveys_spec, frame, ROW_COUNT, None)


def test_surveys_without_questions_must_be_empty(tmp_path: Path) -> None:
    """A city without a survey layout: no answer can be valid, the empty file is."""
    spec = S.surveys_conformed_suite([], min_rows=0)
    assert_passes(spec, empty(tmp_path, SURVEYS_SCHEMA))
    assert_blocks(spec, written(tmp_path, SURVEYS_SCHEMA, good_surveys()), ROW_COUNT, None)


# --- the writers' contracts --------------------------------------------------------------------


def test_fixture_schemas_are_the_writers_columns() -> None:
    # The frames these tests validate are written by hand: they must be what the splits write.
    assert tuple(AREAS_SCHEMA.names) == S.AREAS_CONFORMED_COLUMNS
    assert tuple(INDICATORS_SCHEMA.names) == S.AREA_INDICATORS_CONFORMED_COLUMNS
    assert tuple(FACILITIES_SCHEMA.names) == S.FACILITIES_CONFORMED_COLUMNS
    assert tuple(REQUESTS_SCHEMA.names) == S.SERVICE_REQUESTS_CONFORMED_COLUMNS
    assert tuple(SURVEYS_SCHEMA.names) == S.SURVEYS_CONFORMED_COLUMNS


def test_point_writers_select_exactly_their_conformed_columns() -> None:
    import duckdb

    from crimemap.ingestion.facilities import facility_rows_sql
    from crimemap.ingestion.landing import LINEAGE_COLUMNS
    from crimemap.ingestion.service_requests.conform import request_rows_sql

    con = duckdb.connect()
    for name, select, expected in (
        ("facilities_in", facility_rows_sql, S.FACILITIES_CONFORMED_COLUMNS),
        ("requests_in", request_rows_sql, S.SERVICE_REQUESTS_CONFORMED_COLUMNS),
    ):
        derived = [f"cm_{c}" for c in expected if c not in LINEAGE_COLUMNS]
        columns = ", ".join(
            f"{c} VARCHAR" for c in (*derived, "cm_location_zero", *LINEAGE_COLUMNS)
        )
        con.execute(f"CREATE TABLE {name} ({columns})")
        con.execute(select(name))
        assert tuple(d[0] for d in con.description) == expected


def test_domains_match_the_writers() -> None:
    from crimemap.ingestion.census import TABLE_SETS

    kinds = {i.kind for table_set in TABLE_SETS.values() for i in table_set}
    assert kinds <= set(S.INDICATOR_KINDS)
    names = [i.name for i in TABLE_SETS["social_services"]]
    assert set(INDICATORS) <= set(names)
    assert S.area_indicators_conformed_suite(names).name == "area_indicators_conformed"


def test_suites_are_plain_data_with_contract_checks_as_errors() -> None:
    specs = [
        S.areas_conformed_suite(),
        S.area_indicators_conformed_suite(INDICATORS),
        S.facilities_conformed_suite(bbox=SEATTLE_BBOX),
        S.service_requests_conformed_suite(bbox=SEATTLE_BBOX),
        S.surveys_conformed_suite(QUESTIONS, bbox=SEATTLE_BBOX),
    ]
    for spec in specs:
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


# --- every suite: shape ------------------------------------------------------------------------

SOURCES: dict[str, tuple[Callable[..., S.SuiteSpec], pa.Schema, Callable[[], Data], str]] = {
    "areas": (lambda **kw: S.areas_conformed_suite(**kw), AREAS_SCHEMA, good_areas, "source_crs"),
    "area_indicators": (
        lambda **kw: S.area_indicators_conformed_suite(INDICATORS, **kw),
        INDICATORS_SCHEMA,
        good_indicators,
        "moe",
    ),
    "facilities": (
        lambda **kw: S.facilities_conformed_suite(bbox=SEATTLE_BBOX, **kw),
        FACILITIES_SCHEMA,
        good_facilities,
        "facility_type_raw",
    ),
    "service_requests": (
        lambda **kw: S.service_requests_conformed_suite(bbox=SEATTLE_BBOX, **kw),
        REQUESTS_SCHEMA,
        good_requests,
        "request_subtype",
    ),
    "surveys": (
        lambda **kw: S.surveys_conformed_suite(QUESTIONS, bbox=SEATTLE_BBOX, **kw),
        SURVEYS_SCHEMA,
        good_surveys,
        "submitted_on",
    ),
}


@pytest.mark.parametrize("source", list(SOURCES))
def test_a_missing_or_extra_column_blocks(tmp_path: Path, source: str) -> None:
    build, schema, good, dropped = SOURCES[source]
    data = good()
    data.pop(dropped)
    data["_reason"] = [None] * len(data["_load_id"])  # a quarantine column leaking in
    changed = pa.schema(
        [*(f for f in schema if f.name != dropped), pa.field("_reason", pa.string())]
    )
    failure = assert_blocks(build(), written(tmp_path, changed, data), COLUMN_SET, None)
    assert f"missing columns: ['{dropped}']" in failure["message"]
    assert "extra columns: ['_reason']" in failure["message"]


@pytest.mark.parametrize("source", list(SOURCES))
def test_row_count_bounds_block(tmp_path: Path, source: str) -> None:
    build, schema, good, _ = SOURCES[source]
    nothing = empty(tmp_path, schema)
    assert_passes(build(min_rows=0), nothing)
    message = assert_blocks(build(), nothing, ROW_COUNT, None)["message"]
    assert message == "row count 0, expected at least 1"
    rows = len(good()["_load_id"])
    frame = written(tmp_path, schema, good())
    assert_passes(build(max_rows=rows), frame)
    failure = assert_blocks(build(max_rows=rows - 1), frame, ROW_COUNT, None)
    assert failure["message"] == f"row count {rows}, expected between 1 and {rows - 1}"
    assert build(name="custom_name").name == "custom_name"

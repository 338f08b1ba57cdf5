"""Great Expectations suites of the published dbt marts, one per mart, read from the warehouse.

Each suite is the contract an agency consuming the published layer relies on: the exact column
set, keys present and unique (compound where the grain is compound), value domains, ranges, and
the arithmetic that holds between columns. A mart is built by dbt from conformed sources that
already passed their own suites, so anything out of contract here means a model is wrong: those
expectations are ERROR and block publishing. WARN is left for distributions (``mostly``): shares
of unmapped codes, withheld rates, suppressed survey cells, points outside the bounding box.

Suites stay plain values: everything that depends on the run (the jurisdiction's bounding box,
its start month, the current time) is a function argument. Dates go into the expectations as ISO
text, which GX parses back.

Frames. Geometry never reaches pandas, and a million-row fact must not be read whole for a
suite that looks at a dozen columns, so ``mart_frame`` reads only the columns a suite names
(``read_columns``) and stands a cheap placeholder in for every other column of the table. The
frame therefore has the table's exact column names, and the column-set expectation judges the
real schema. Placeholders are never validated: a suite only names columns it reads. A geometry
column a suite reads arrives as its geometry type name; the point marts' frames add the point's
``longitude`` and ``latitude`` after the table's columns, and their column sets list them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ingestion.census import DEFAULT_CV_THRESHOLD_PCT
from ingestion.facilities import FACILITY_TYPES
from ingestion.sql import quote_ident
from quality.layouts import LINEAGE_COLUMNS, BBox
from quality.suites import (
    INDICATOR_KINDS,
    ExpectationSpec,
    SuiteSpec,
    distinct_names,
    expect,
    in_domain,
    not_null,
    point_expectations,
    table_shape,
    unique_key,
    where,
    where_null,
)

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

# --- the marts' columns, in model order (dbt_project/models/marts/*/*.sql) ----------------------

FCT_INCIDENTS_COLUMNS: tuple[str, ...] = (
    "offense_key",
    "incident_key",
    "offense_seq",
    "source",
    "agency",
    "report_number",
    "offense_code_raw",
    "offense_code",
    "offense_desc_raw",
    "nibrs_code",
    "nibrs_group",
    "crime_against",
    "category",
    "is_sensitive",
    "mental_health_related",
    "domestic_violence",
    "juvenile_involved",
    "substance_related",
    "occurred_at",
    "reported_at",
    "occurred_month",
    "location_precision",
    "block_address",
    "geom",
    "area_id",
    "assignment_method",
    "occurred_raw",
    "reported_raw",
    "location_raw",
    "raw_record",
    *LINEAGE_COLUMNS,
)
DIM_AREA_COLUMNS: tuple[str, ...] = (
    "area_id",
    "area_name",
    "geom",
    "area_km2",
    "population",
    "population_moe",
    "poverty_universe",
    "poverty_count",
    "labor_force",
    "unemployed",
    "poverty_rate",
    "poverty_rate_moe",
    "unemployment_rate",
    "unemployment_rate_moe",
    "median_household_income",
    "share_under_18",
    "share_65_plus",
    "population_unreliable",
    "poverty_rate_unreliable",
    "unemployment_rate_unreliable",
    "median_household_income_unreliable",
    "indicator_units",
    "indicator_method",
    "source_rows",
    "geometry_repaired",
    *LINEAGE_COLUMNS,
)
AREA_INDICATORS_COLUMNS: tuple[str, ...] = (
    "area_id",
    "area_name",
    "indicator",
    "kind",
    "estimate",
    "moe",
    "cv_pct",
    "unreliable",
    "source_units",
    "method",
)
AREA_MONTH_RATES_COLUMNS: tuple[str, ...] = (
    "area_id",
    "month",
    "category",
    "incident_count",
    "incident_reports",
    "population",
    "rate_suppressed",
    "rate_per_1000",
    "eb_rate_per_1000",
)
DIM_FACILITY_COLUMNS: tuple[str, ...] = (
    "facility_id",
    "name",
    "facility_type",
    "facility_type_raw",
    "address",
    "geom",
    "area_id",
    "assignment_method",
    *LINEAGE_COLUMNS,
)
SERVICE_REQUESTS_AREA_MONTH_COLUMNS: tuple[str, ...] = (
    "area_id",
    "month",
    "request_type",
    "requests",
    "closed_requests",
    "median_days_to_close",
)
SURVEY_AREA_RESPONSES_COLUMNS: tuple[str, ...] = (
    "area_id",
    "area_name",
    "survey",
    "question",
    "area_respondents",
    "respondents",
    "suppressed",
    "weight_total",
    "weighted_share",
)
MART_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "fct_incidents": FCT_INCIDENTS_COLUMNS,
    "dim_area": DIM_AREA_COLUMNS,
    "area_indicators": AREA_INDICATORS_COLUMNS,
    "area_month_rates": AREA_MONTH_RATES_COLUMNS,
    "dim_facility": DIM_FACILITY_COLUMNS,
    "service_requests_area_month": SERVICE_REQUESTS_AREA_MONTH_COLUMNS,
    "survey_area_responses": SURVEY_AREA_RESPONSES_COLUMNS,
}

# --- domains -------------------------------------------------------------------------------------

# The taxonomy of the seed category_descriptions, 'unmapped' last.
INCIDENT_CATEGORIES: tuple[str, ...] = (
    "violent",
    "assault",
    "sexual_offense",
    "robbery",
    "burglary",
    "theft",
    "motor_vehicle_theft",
    "vandalism",
    "fraud",
    "drugs",
    "weapons",
    "public_order",
    "other",
    "non_criminal",
    "unmapped",
)
UNMAPPED = "unmapped"
ALL_CATEGORIES = "all"
LOCATION_PRECISIONS: tuple[str, ...] = ("exact", "block", "area", "none")
ASSIGNMENT_METHODS: tuple[str, ...] = ("covered", "snapped", "unassigned")
INDICATOR_METHODS: tuple[str, ...] = ("identity", "area")
AREA_GEOMETRY_TYPES: tuple[str, ...] = ("POLYGON", "MULTIPOLYGON")
# dbt var min_population (dbt_project.yml): the jurisdiction YAML does not override it.
DEFAULT_MIN_POPULATION = 300

# The point marts' frames carry their point's coordinates after the table's own columns.
POINT_COLUMN = "geom"
POINT_COORDINATES: tuple[str, str] = ("longitude", "latitude")
_COORDINATE_SQL = {"longitude": "ST_X", "latitude": "ST_Y"}
# Local dates run at most a day ahead of UTC (UTC+14): the latest month a mart may hold.
_LOCAL_DATE_SLACK = timedelta(days=1)


# --- building blocks -----------------------------------------------------------------------------


def count_column(column: str, minimum: int = 0) -> tuple[ExpectationSpec, ...]:
    """A count: present and at least ``minimum``."""
    return (
        not_null(column),
        expect("ExpectColumnValuesToBeBetween", "ERROR", column=column, min_value=minimum),
    )


def non_negative(*columns: str) -> tuple[ExpectationSpec, ...]:
    """Nullable measures that are never negative."""
    return tuple(
        expect("ExpectColumnValuesToBeBetween", "ERROR", column=c, min_value=0) for c in columns
    )


def shares(*columns: str) -> tuple[ExpectationSpec, ...]:
    """Nullable shares within [0, 1]."""
    return tuple(
        expect("ExpectColumnValuesToBeBetween", "ERROR", column=c, min_value=0, max_value=1)
        for c in columns
    )


def flag_is(column: str, value: bool, condition: Mapping[str, Any]) -> ExpectationSpec:
    """``column`` equals ``value`` on the rows matching ``condition`` (a derivation that holds)."""
    return expect(
        "ExpectColumnValuesToBeInSet",
        "ERROR",
        column=column,
        value_set=[value],
        row_condition=dict(condition),
    )


def null_where(column: str, condition: Mapping[str, Any]) -> ExpectationSpec:
    return expect(
        "ExpectColumnValuesToBeNull", "ERROR", column=column, row_condition=dict(condition)
    )


def at_most(larger: str, smaller: str) -> ExpectationSpec:
    """``smaller`` <= ``larger`` on every row where both are present."""
    return expect(
        "ExpectColumnPairValuesAToBeGreaterThanB",
        "ERROR",
        column_A=larger,
        column_B=smaller,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )


def compound_key(*columns: str) -> tuple[ExpectationSpec, ...]:
    """A grain of several columns: each present, together unique."""
    return (*(not_null(c) for c in columns), unique_together(*columns))


def unique_together(*columns: str) -> ExpectationSpec:
    """Compound uniqueness alone, for keys whose columns are checked present elsewhere (GX keeps
    one of two identical expectations, and the count of expectations run would disagree)."""
    return expect("ExpectCompoundColumnsToBeUnique", "ERROR", column_list=list(columns))


def area_assignment() -> tuple[ExpectationSpec, ...]:
    """The spatial assignment of a point: a method, and an area exactly when assigned."""
    return (
        *in_domain("assignment_method", ASSIGNMENT_METHODS),
        not_null("area_id", row_condition=where("assignment_method", "!=", "unassigned")),
        null_where("area_id", where("assignment_method", "==", "unassigned")),
    )


def months_within(column: str, start: date, now: datetime) -> tuple[ExpectationSpec, ...]:
    """Months (their first days) up to the latest local date of ``now`` (ERROR: future records
    are quarantined, so a future month is a bug), and from ``start`` on (WARN: an old offense
    reported late is real, but the months it adds before the data begin are zero-filled)."""
    return (
        expect(
            "ExpectColumnValuesToBeBetween",
            "ERROR",
            column=column,
            max_value=latest_local_date(now).isoformat(),
        ),
        # The row condition (true for every dated row) only keeps GX from merging this with the
        # range above: a suite holds one expectation per type and column otherwise.
        expect(
            "ExpectColumnValuesToBeBetween",
            "WARN",
            column=column,
            min_value=start.isoformat(),
            row_condition=where_null(column, is_null=False),
        ),
    )


def latest_local_date(now: datetime) -> date:
    return (utc(now) + _LOCAL_DATE_SLACK).date()


def utc(now: datetime) -> datetime:
    """``now`` in UTC; a naive time would be read in the machine's zone, so it is refused."""
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    return now.astimezone(UTC)


def mostly_in(column: str, values: Sequence[Any], share: float) -> ExpectationSpec:
    """A distribution: at least ``share`` of the non-null values in ``values``."""
    return expect(
        "ExpectColumnValuesToBeInSet", "WARN", column=column, value_set=list(values), mostly=share
    )


# --- suites --------------------------------------------------------------------------------------


def fct_incidents_suite(
    sources: Sequence[str],
    *,
    start: date,
    now: datetime,
    bbox: BBox,
    min_rows: int = 1,
    max_rows: int | None = None,
    min_mapped_share: float = 0.95,
    min_in_period_share: float = 0.99,
    name: str = "fct_incidents_mart",
) -> SuiteSpec:
    """One row per offense. Lean on purpose (a million rows): keys, domains and the rules the
    published layer's privacy and maps rest on, no text patterns.

    ERROR: exact columns (plus the point's coordinates); ``offense_key`` present and unique, an
    ``incident_key``; ``source`` one of ``sources``; ``category`` in the taxonomy; an
    ``is_sensitive`` flag, true for every unmapped code; ``location_precision`` in its domain
    and 'none' exactly when there is no point; an ``assignment_method`` and an area exactly
    when assigned; nothing occurred after ``now``. WARN: more than ``1 - min_mapped_share`` of
    the offenses unmapped; more than ``1 - min_in_period_share`` occurring before ``start``
    (old offenses reported late); points outside ``bbox``.
    """
    no_point = where("location_precision", "==", "none")
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape((*FCT_INCIDENTS_COLUMNS, *POINT_COORDINATES), min_rows, max_rows),
            *unique_key("offense_key"),
            not_null("incident_key"),
            *in_domain("source", distinct_names(sources, "sources")),
            *in_domain("category", INCIDENT_CATEGORIES),
            not_null("is_sensitive"),
            flag_is("is_sensitive", True, where("category", "==", UNMAPPED)),
            *in_domain("location_precision", LOCATION_PRECISIONS),
            null_where("longitude", no_point),
            not_null("longitude", row_condition=where("location_precision", "!=", "none")),
            *area_assignment(),
            expect(
                "ExpectColumnValuesToBeBetween",
                "ERROR",
                column="occurred_at",
                max_value=utc(now).isoformat(),
            ),
            mostly_in(
                "category", [c for c in INCIDENT_CATEGORIES if c != UNMAPPED], min_mapped_share
            ),
            expect(
                "ExpectColumnValuesToBeBetween",
                "WARN",
                column="occurred_month",
                min_value=start.isoformat(),
                mostly=min_in_period_share,
            ),
            *point_expectations(bbox, required=False),
        ),
    )


def dim_area_suite(
    *,
    min_rows: int = 1,
    max_rows: int | None = None,
    min_population_share: float = 0.95,
    min_reliable_share: float = 0.7,
    name: str = "dim_area_mart",
) -> SuiteSpec:
    """One row per area.

    ERROR: exact columns; ``area_id`` present and unique; a polygon; a positive ``area_km2``;
    counts, margins and the median income never negative, rates and shares within [0, 1];
    ``poverty_count`` <= ``poverty_universe`` and ``unemployed`` <= ``labor_force``; every
    reliability flag present and true where its value is missing; ``indicator_units`` >= 1 and
    ``indicator_method`` in its domain when the area has indicators; ``source_rows`` >= 1 and a
    ``geometry_repaired`` flag. WARN: fewer than ``min_population_share`` of the areas with a
    population, or fewer than ``min_reliable_share`` with a reliable one.
    """
    flagged = (
        ("population", "population_unreliable"),
        ("poverty_rate", "poverty_rate_unreliable"),
        ("unemployment_rate", "unemployment_rate_unreliable"),
        ("median_household_income", "median_household_income_unreliable"),
    )
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(DIM_AREA_COLUMNS, min_rows, max_rows),
            *unique_key("area_id"),
            *in_domain("geom", AREA_GEOMETRY_TYPES),
            not_null("area_km2"),
            expect(
                "ExpectColumnValuesToBeBetween",
                "ERROR",
                column="area_km2",
                min_value=0,
                strict_min=True,
            ),
            *non_negative(
                "population",
                "population_moe",
                "poverty_universe",
                "poverty_count",
                "labor_force",
                "unemployed",
                "poverty_rate_moe",
                "unemployment_rate_moe",
                "median_household_income",
            ),
            *shares("poverty_rate", "unemployment_rate", "share_under_18", "share_65_plus"),
            at_most("poverty_universe", "poverty_count"),
            at_most("labor_force", "unemployed"),
            *(not_null(flag) for _, flag in flagged),
            *(flag_is(flag, True, where_null(value)) for value, flag in flagged),
            expect("ExpectColumnValuesToBeBetween", "ERROR", column="indicator_units", min_value=1),
            expect(
                "ExpectColumnValuesToBeInSet",
                "ERROR",
                column="indicator_method",
                value_set=list(INDICATOR_METHODS),
            ),
            *count_column("source_rows", minimum=1),
            not_null("geometry_repaired"),
            not_null("population", "WARN", mostly=min_population_share),
            mostly_in("population_unreliable", [False], min_reliable_share),
        ),
    )


def area_indicators_suite(
    indicators: Sequence[str],
    *,
    cv_threshold_pct: float = DEFAULT_CV_THRESHOLD_PCT,
    min_reliable_share: float = 0.7,
    min_rows: int = 1,
    max_rows: int | None = None,
    name: str = "area_indicators_mart",
) -> SuiteSpec:
    """Every indicator of the table set ``indicators`` per area, long form.

    ERROR: exact columns; (area_id, indicator) present and unique; ``indicator`` and ``kind`` in
    their domains; estimates, margins and CVs never negative, proportions within [0, 1];
    ``unreliable`` exactly "estimate missing or ``cv_pct`` above ``cv_threshold_pct``" (the mart
    computes it, so a disagreement is a model bug); ``source_units`` >= 1; ``method`` in its
    domain. WARN: fewer than ``min_reliable_share`` of the estimates reliable.
    """
    threshold = float(cv_threshold_pct)
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(AREA_INDICATORS_COLUMNS, min_rows, max_rows),
            not_null("area_id"),
            *in_domain("indicator", distinct_names(indicators, "indicators")),
            unique_together("area_id", "indicator"),
            *in_domain("kind", INDICATOR_KINDS),
            *non_negative("estimate", "moe", "cv_pct"),
            expect(
                "ExpectColumnValuesToBeBetween",
                "ERROR",
                column="estimate",
                max_value=1,
                row_condition=where("kind", "==", "proportion"),
            ),
            not_null("unreliable"),
            flag_is("unreliable", True, where_null("estimate")),
            flag_is("unreliable", True, where("cv_pct", ">", threshold)),
            flag_is("unreliable", False, where("cv_pct", "<=", threshold)),
            *count_column("source_units", minimum=1),
            *in_domain("method", INDICATOR_METHODS),
            mostly_in("unreliable", [False], min_reliable_share),
        ),
    )


def area_month_rates_suite(
    *,
    start: date,
    now: datetime,
    min_population: int = DEFAULT_MIN_POPULATION,
    min_reported_share: float = 0.9,
    min_rows: int = 1,
    max_rows: int | None = None,
    name: str = "area_month_rates_mart",
) -> SuiteSpec:
    """Counts and rates per area x month x category (plus 'all').

    ERROR: exact columns; (area_id, month, category) present and unique; ``category`` in the
    taxonomy or 'all'; months up to the current month; counts >= 0 and ``incident_reports`` <=
    ``incident_count``; ``population`` >= 0; ``rate_suppressed`` present, true exactly when the
    population is unknown or below ``min_population``; a rate >= 0 and an empirical-Bayes rate
    >= 0 exactly when not suppressed. WARN: more than ``1 - min_reported_share`` of the rows
    with their rate withheld; months before ``start`` (the mart starts its grid at the police
    start month, so such a month means the model and the suite disagree on the start).
    """
    floor = max(int(min_population), 1)  # a zero population never gets a rate
    suppressed = where("rate_suppressed", "==", True)
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(AREA_MONTH_RATES_COLUMNS, min_rows, max_rows),
            *compound_key("area_id", "month", "category"),
            expect(
                "ExpectColumnValuesToBeInSet",
                "ERROR",
                column="category",
                value_set=[ALL_CATEGORIES, *INCIDENT_CATEGORIES],
            ),
            *months_within("month", start, now),
            *count_column("incident_count"),
            *count_column("incident_reports"),
            at_most("incident_count", "incident_reports"),
            *non_negative("population", "rate_per_1000", "eb_rate_per_1000"),
            not_null("rate_suppressed"),
            flag_is("rate_suppressed", True, where_null("population")),
            flag_is("rate_suppressed", True, where("population", "<", floor)),
            flag_is("rate_suppressed", False, where("population", ">=", floor)),
            null_where("rate_per_1000", suppressed),
            not_null("rate_per_1000", row_condition=where("rate_suppressed", "==", False)),
            # a smoothed rate would give the withheld raw rate back (population and prior known)
            null_where("eb_rate_per_1000", suppressed),
            not_null("eb_rate_per_1000", row_condition=where("rate_suppressed", "==", False)),
            mostly_in("rate_suppressed", [False], min_reported_share),
        ),
    )


def dim_facility_suite(
    *,
    bbox: BBox,
    min_rows: int = 1,
    max_rows: int | None = None,
    min_assigned_share: float = 0.9,
    name: str = "dim_facility_mart",
) -> SuiteSpec:
    """One row per social-service facility.

    ERROR: exact columns (plus the point's coordinates); ``facility_id`` present and unique; a
    canonical ``facility_type``; a point; an ``assignment_method`` and an area exactly when
    assigned. WARN: names missing; points outside ``bbox``; more than
    ``1 - min_assigned_share`` of the facilities in no area.
    """
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape((*DIM_FACILITY_COLUMNS, *POINT_COORDINATES), min_rows, max_rows),
            *unique_key("facility_id"),
            *in_domain("facility_type", FACILITY_TYPES),
            *in_domain("geom", ["POINT"]),
            *area_assignment(),
            not_null("name", "WARN", mostly=0.95),
            *point_expectations(bbox, required=True),
            mostly_in("assignment_method", ["covered", "snapped"], min_assigned_share),
        ),
    )


def service_requests_area_month_suite(
    *,
    start: date,
    now: datetime,
    max_median_days: float = 365.0,
    min_rows: int = 0,
    max_rows: int | None = None,
    name: str = "service_requests_area_month_mart",
) -> SuiteSpec:
    """311 requests per area x month x request type. Empty when there are no requests.

    ERROR: exact columns; (area_id, month, request_type) present and unique; months up to the
    current month; counts >= 0 and ``closed_requests`` <= ``requests``; a
    median >= 0, and none without a closed request. WARN: medians above ``max_median_days``;
    months before ``start``.
    """
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(SERVICE_REQUESTS_AREA_MONTH_COLUMNS, min_rows, max_rows),
            *compound_key("area_id", "month", "request_type"),
            *months_within("month", start, now),
            *count_column("requests"),
            *count_column("closed_requests"),
            at_most("requests", "closed_requests"),
            *non_negative("median_days_to_close"),
            null_where("median_days_to_close", where("closed_requests", "==", 0)),
            expect(
                "ExpectColumnValuesToBeBetween",
                "WARN",
                column="median_days_to_close",
                max_value=max_median_days,
                mostly=0.9,
            ),
        ),
    )


def survey_area_responses_suite(
    questions: Sequence[str],
    *,
    min_responses: int,
    min_reported_share: float = 0.5,
    min_rows: int = 0,
    max_rows: int | None = None,
    name: str = "survey_area_responses_mart",
) -> SuiteSpec:
    """Survey results per area x survey x question. Empty when no survey has arrived.

    ERROR: exact columns; (area_id, survey, question) present and unique; ``question`` one of
    ``questions``; respondents >= 1 and at most the area's respondents; ``suppressed`` true
    exactly when fewer than ``min_responses`` answered; a suppressed row has no share and no
    weight total, any other row a share within [0, 1] and a positive weight total. WARN: more
    than ``1 - min_reported_share`` of the rows suppressed.
    """
    suppressed = where("suppressed", "==", True)
    reported = where("suppressed", "==", False)
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(SURVEY_AREA_RESPONSES_COLUMNS, min_rows, max_rows),
            not_null("area_id"),
            not_null("survey"),
            *in_domain("question", distinct_names(questions, "questions")),
            unique_together("area_id", "survey", "question"),
            *count_column("area_respondents", minimum=1),
            *count_column("respondents", minimum=1),
            at_most("area_respondents", "respondents"),
            not_null("suppressed"),
            flag_is("suppressed", True, where("respondents", "<", int(min_responses))),
            flag_is("suppressed", False, where("respondents", ">=", int(min_responses))),
            null_where("weighted_share", suppressed),
            null_where("weight_total", suppressed),
            not_null("weighted_share", row_condition=reported),
            not_null("weight_total", row_condition=reported),
            *shares("weighted_share"),
            expect(
                "ExpectColumnValuesToBeBetween",
                "ERROR",
                column="weight_total",
                min_value=0,
                strict_min=True,
            ),
            mostly_in("suppressed", [False], min_reported_share),
        ),
    )


# --- frames --------------------------------------------------------------------------------------


def read_columns(spec: SuiteSpec) -> tuple[str, ...]:
    """Every column an expectation of ``spec`` reads, row conditions included, in first-use
    order: what ``mart_frame`` has to load for it."""
    names: list[str] = []
    for exp in spec.expectations:
        kwargs = exp.kwargs
        for key in ("column", "column_A", "column_B"):
            if kwargs.get(key) is not None:
                names.append(str(kwargs[key]))
        names += [str(c) for c in kwargs.get("column_list") or ()]
        names += list(_condition_columns(kwargs.get("row_condition")))
    return tuple(dict.fromkeys(names))


def _condition_columns(condition: Any) -> Iterator[str]:
    """Column names of a GX row condition given as plain data (nested groups included)."""
    if isinstance(condition, Mapping):
        column = condition.get("column")
        if isinstance(column, Mapping) and column.get("name") is not None:
            yield str(column["name"])
        for value in condition.values():
            if isinstance(value, Mapping | list | tuple):
                yield from _condition_columns(value)
    elif isinstance(condition, list | tuple):
        for item in condition:
            yield from _condition_columns(item)


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """(name, type) of each column of a warehouse table, in order."""
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = ? AND table_schema = current_schema() ORDER BY ordinal_position",
        [table],
    ).fetchall()
    if not rows:
        raise LookupError(f"no table {table!r} in the warehouse")
    return [(str(name), str(kind)) for name, kind in rows]


def is_geometry(data_type: str) -> bool:
    kind = data_type.upper()
    return kind.startswith("GEOMETRY") or kind in ("WKB_BLOB", "BLOB")


def mart_frame(con: duckdb.DuckDBPyConnection, mart: str, columns: Sequence[str]) -> pd.DataFrame:
    """The warehouse table ``mart`` as the suite reading ``columns`` sees it, via Arrow.

    One frame column per table column, in table order:

    * a column in ``columns`` carries its values; a geometry column (GEOMETRY, or WKB in a BLOB)
      its geometry type name ('POINT', 'POLYGON', ...; NULL where the geometry is NULL), so a
      suite checks presence and kind while the geometry itself stays in DuckDB;
    * any other column is a constant ``false`` placeholder: present for the column-set
      expectation, never read.

    ``longitude`` / ``latitude`` in ``columns`` add the coordinates of the ``geom`` point after
    the table's columns (NULL where there is no point or it is not a point). A name in
    ``columns`` the table lacks is left out, so the column-set expectation reports it.
    """
    schema = table_columns(con, mart)
    wanted = set(columns)
    select = [_frame_column(name, kind, name in wanted) for name, kind in schema]
    types = dict(schema)
    for coordinate in (c for c in POINT_COORDINATES if c in wanted):
        if coordinate in types:
            raise ValueError(f"{mart} has its own {coordinate!r} column: cannot derive it")
        if is_geometry(types.get(POINT_COLUMN, "")):
            point = _as_geometry(POINT_COLUMN, types[POINT_COLUMN])
            function = _COORDINATE_SQL[coordinate]
            select.append(
                f"CASE WHEN ST_GeometryType({point}) = 'POINT' THEN {function}({point}) END "
                f"AS {quote_ident(coordinate)}"
            )
    sql = f"SELECT {', '.join(select)} FROM {quote_ident(mart)}"
    return con.execute(sql).to_arrow_table().to_pandas()


def _frame_column(name: str, data_type: str, read: bool) -> str:
    column = quote_ident(name)
    if not read:
        return f"false AS {column}"
    if is_geometry(data_type):
        kind = f"CAST(ST_GeometryType({_as_geometry(name, data_type)}) AS VARCHAR)"
        return f"{kind} AS {column}"
    return column


def _as_geometry(name: str, data_type: str) -> str:
    column = quote_ident(name)
    if data_type.upper().startswith("GEOMETRY"):
        return column
    return f"ST_GeomFromWKB({column})"

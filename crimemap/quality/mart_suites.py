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
(``suites.read_columns``) and stands a cheap placeholder in for every other column of the
table. The frame therefore has the table's exact column names, and the column-set expectation
judges the real schema. Placeholders are never validated: a suite only names columns it reads.
A geometry column a suite reads arrives as its geometry type name; the point marts' frames add
the point's ``longitude`` and ``latitude`` after the table's columns, and their column sets
list them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from crimemap.config.analysis import DEFAULT_PRIORITY_WEIGHTS, GRID_SHAPES, PRIORITY_COMPONENTS
from crimemap.core.marts import DeclaredMart, mart_columns
from crimemap.core.sql import quote_ident
from crimemap.ingestion.census import DEFAULT_CV_THRESHOLD_PCT
from crimemap.ingestion.facilities import FACILITY_TYPES
from crimemap.quality.batches import BATCH_ROWS, bucket_columns
from crimemap.quality.layouts import BBox
from crimemap.quality.suites import (
    INDICATOR_KINDS,
    ExpectationSpec,
    SuiteSpec,
    distinct_names,
    expect,
    in_domain,
    mostly_within,
    not_null,
    point_expectations,
    read_columns,
    table_shape,
    unique_key,
    where,
    where_null,
    within,
)

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

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
# dbt var min_population (dbt_project.yml); a jurisdiction sets its own under `analysis:`.
DEFAULT_MIN_POPULATION = 300
# crime_social_correlation: the crime measures, and the indicators of the ACS table set it
# correlates them with (a city's own table: its indicators other than counts).
CORRELATION_MEASURES: tuple[str, ...] = (
    "all_offenses_rate",
    "person_crime_rate",
    "property_crime_rate",
)
CORRELATION_INDICATORS: tuple[str, ...] = (
    "poverty_rate",
    "unemployment_rate",
    "median_household_income",
    "share_under_18",
    "share_65_plus",
)
# Fewer areas than this: the mart computes no correlation.
MIN_CORRELATION_AREAS = 4
# service_access: the canonical facility types plus the row over every facility.
ALL_FACILITIES = "all"
# priority_areas: why an area is not ranked; the cap on each component's z score and the
# longest crime-rate period (the last 12 months with data).
EXCLUSION_REASONS: tuple[str, ...] = (
    "population_unknown",
    "population_below_minimum",
    "indicator_missing",
    "access_missing",
)
PRIORITY_Z_CAP = 3.0
PRIORITY_PERIOD_MONTHS = 12
# dim_grid_cell ids: 'r<row>c<col>' (lattice indices, possibly negative).
CELL_ID_REGEX = r"^r-?[0-9]+c-?[0-9]+$"
# hotspots: Esri's Gi_Bin, -3 (cold, q <= 0.01) .. 3 (hot, q <= 0.01).
CONFIDENCE_BINS: tuple[int, ...] = (-3, -2, -1, 0, 1, 2, 3)
# emerging_hotspots: Mann-Kendall trends and Esri's emerging hot spot classes.
EMERGING_TRENDS: tuple[str, ...] = ("up", "down", "none")
HOT_PATTERNS: tuple[str, ...] = (
    "new_hot_spot",
    "consecutive_hot_spot",
    "intensifying_hot_spot",
    "persistent_hot_spot",
    "diminishing_hot_spot",
    "sporadic_hot_spot",
    "oscillating_hot_spot",
)
COLD_PATTERNS: tuple[str, ...] = tuple(p.replace("_hot_", "_cold_") for p in HOT_PATTERNS)
EMERGING_PATTERNS: tuple[str, ...] = (
    *HOT_PATTERNS,
    "historical_hot_spot",
    *COLD_PATTERNS,
    "historical_cold_spot",
    "no_pattern",
)
# hotspot forecast: the models, the predicted periods, the scores' scopes, and the months of
# history the forecast averages over (dbt macro forecast_window_months).
FORECAST_MODELS: tuple[str, ...] = ("forecast", "naive_last_period")
FORECAST_PERIODS: tuple[str, ...] = ("holdout", "next")
SCORE_SCOPES: tuple[str, ...] = ("month", "holdout_mean")
FORECAST_WINDOW_MONTHS = 12
# Float slack: a value computed in SQL against the same formula in Python, and the scores'
# own bound on ratios that equal 1 up to rounding.
_RELATIVE_TOLERANCE = 1e-9
_SCORE_TOLERANCE = 1e-12

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
        within(column, min_value=minimum),
    )


def non_negative(*columns: str) -> tuple[ExpectationSpec, ...]:
    """Nullable measures that are never negative."""
    return tuple(within(c, min_value=0) for c in columns)


def shares(*columns: str) -> tuple[ExpectationSpec, ...]:
    """Nullable shares within [0, 1]."""
    return tuple(within(c, min_value=0, max_value=1) for c in columns)


def flag_is(column: str, value: bool, condition: Mapping[str, Any]) -> ExpectationSpec:
    """``column`` equals ``value`` on the rows matching ``condition`` (a derivation that holds)."""
    return value_where(column, value, condition)


def one_of_where(
    column: str, values: Sequence[Any], condition: Mapping[str, Any] | None = None
) -> ExpectationSpec:
    """``column`` is one of ``values`` (on the rows matching ``condition``, if given)."""
    if condition is None:
        return expect("ExpectColumnValuesToBeInSet", "ERROR", column=column, value_set=list(values))
    return expect(
        "ExpectColumnValuesToBeInSet",
        "ERROR",
        column=column,
        value_set=list(values),
        row_condition=dict(condition),
    )


def value_where(column: str, value: Any, condition: Mapping[str, Any]) -> ExpectationSpec:
    """``column`` equals ``value`` on the rows matching ``condition``."""
    return one_of_where(column, [value], condition)


def all_of(*conditions: Mapping[str, Any]) -> dict[str, Any]:
    """A GX row condition that holds where every one of ``conditions`` holds."""
    return {"type": "and", "conditions": [dict(c) for c in conditions]}


def positive(column: str) -> ExpectationSpec:
    """A nullable measure strictly above 0."""
    return within(column, min_value=0, strict_min=True)


def present_exactly_where(
    column: str, present: Mapping[str, Any], absent: Mapping[str, Any]
) -> tuple[ExpectationSpec, ...]:
    """``column`` set on the rows matching ``present`` and NULL on those matching ``absent``
    (a derived value that exists exactly when its inputs do)."""
    return (not_null(column, row_condition=dict(present)), null_where(column, absent))


def not_listed(column: str) -> ExpectationSpec:
    """NULL on every row."""
    return expect("ExpectColumnValuesToBeNull", "ERROR", column=column)


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
        within(
            column,
            max_value=latest_local_date(now).isoformat(),
        ),
        # The row condition (true for every dated row) only keeps GX from merging this with the
        # range above: a suite holds one expectation per type and column otherwise.
        within(
            column,
            "WARN",
            min_value=start.isoformat(),
            row_condition=where_null(column, is_null=False),
        ),
    )


def forecast_months(
    column: str, start: date, now: datetime, *, holdout: Mapping[str, Any] | None = None
) -> tuple[ExpectationSpec, ...]:
    """Predicted months: at most the month after the current one (the month after the last
    month of data, ERROR), a held-back month (rows matching ``holdout``) a month of data, so
    up to the current one (ERROR), and from ``start`` on (WARN)."""
    found = [
        within(
            column,
            max_value=month_after(latest_local_date(now)).isoformat(),
        ),
        within(
            column,
            "WARN",
            min_value=start.isoformat(),
            row_condition=where_null(column, is_null=False),
        ),
    ]
    if holdout is not None:
        found.append(
            within(
                column,
                max_value=latest_local_date(now).isoformat(),
                row_condition=dict(holdout),
            )
        )
    return tuple(found)


def month_after(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


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
    when assigned; nothing occurred after it was landed (``_ingested_at``: stricter than "not
    in the future", and the same on every run, so an unchanged table is not judged again).
    WARN: more than ``1 - min_mapped_share`` of the offenses unmapped; more than
    ``1 - min_in_period_share`` occurring before ``start`` (old offenses reported late); points
    outside ``bbox``.
    """
    no_point = where("location_precision", "==", "none")
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape((*mart_columns("fct_incidents"), *POINT_COORDINATES), min_rows, max_rows),
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
            at_most("_ingested_at", "occurred_at"),
            mostly_in(
                "category", [c for c in INCIDENT_CATEGORIES if c != UNMAPPED], min_mapped_share
            ),
            within(
                "occurred_month",
                "WARN",
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
            *table_shape(mart_columns("dim_area"), min_rows, max_rows),
            *unique_key("area_id"),
            *in_domain("geom", AREA_GEOMETRY_TYPES),
            not_null("area_km2"),
            within("area_km2", min_value=0, strict_min=True),
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
            within("indicator_units", min_value=1),
            one_of_where("indicator_method", list(INDICATOR_METHODS)),
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
    their domains, a label each; margins and CVs never negative, estimates too except an index's,
    proportions within [0, 1];
    ``unreliable`` exactly "estimate missing or ``cv_pct`` above ``cv_threshold_pct``" (the mart
    computes it, so a disagreement is a model bug); ``source_units`` >= 1; ``method`` in its
    domain. WARN: fewer than ``min_reliable_share`` of the estimates reliable.
    """
    threshold = float(cv_threshold_pct)
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(mart_columns("area_indicators"), min_rows, max_rows),
            not_null("area_id"),
            *in_domain("indicator", distinct_names(indicators, "indicators")),
            unique_together("area_id", "indicator"),
            *in_domain("kind", INDICATOR_KINDS),
            *non_negative("moe", "cv_pct"),
            within("estimate", min_value=0, row_condition=where("kind", "!=", "index")),
            within(
                "estimate",
                max_value=1,
                row_condition=where("kind", "==", "proportion"),
            ),
            not_null("label"),
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
            *table_shape(mart_columns("area_month_rates"), min_rows, max_rows),
            *compound_key("area_id", "month", "category"),
            one_of_where("category", [ALL_CATEGORIES, *INCIDENT_CATEGORIES]),
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


def offense_spikes_suite(
    *,
    start: date,
    now: datetime,
    baseline_months: int = 12,
    min_baseline_months: int = 6,
    alpha: float = 0.001,
    min_count: int = 5,
    min_ratio: float = 2.0,
    max_spike_share: float = 0.01,
    min_rows: int = 1,
    max_rows: int | None = None,
    name: str = "offense_spikes_mart",
) -> SuiteSpec:
    """Each area x month x category of area_month_rates judged against its usual level.

    The parameters are the jurisdiction's spike settings (dbt vars ``spike_*``).

    ERROR: exact columns; (area_id, month, category) present and unique; ``category`` in the
    taxonomy or 'all'; months up to the current month; ``observed`` >= 0; ``baseline_months``
    within [0, ``baseline_months``]; the usual level, the expected count, the ratio, the
    p-value and the summary present exactly when there is history (``baseline_months`` > 0);
    ``baseline_mean`` >= 0, ``expected`` > 0 and at least the usual level (the floor only
    raises it), ``ratio`` >= 0, ``p_value`` within [0, 1] and 1 for a month without reports;
    ``is_spike`` present and true exactly when the month has ``min_baseline_months`` of
    history, ``p_value`` < ``alpha``, ``observed`` >= ``min_count`` and ``ratio`` >=
    ``min_ratio``. WARN: more than ``max_spike_share`` of the rows are spikes (a flood of
    alerts means a broken baseline or a changed feed, not crime); months before ``start``.
    """
    history = where("baseline_months", ">", 0)
    no_history = where("baseline_months", "==", 0)
    judged = where("baseline_months", ">=", int(min_baseline_months))
    significant = where("p_value", "<", float(alpha))
    enough = where("observed", ">=", int(min_count))
    large = where("ratio", ">=", float(min_ratio))
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(mart_columns("offense_spikes"), min_rows, max_rows),
            *compound_key("area_id", "month", "category"),
            one_of_where("category", [ALL_CATEGORIES, *INCIDENT_CATEGORIES]),
            *months_within("month", start, now),
            *count_column("observed"),
            not_null("baseline_months"),
            within(
                "baseline_months",
                min_value=0,
                max_value=int(baseline_months),
            ),
            *(
                check
                for column in ("baseline_mean", "expected", "ratio", "p_value", "summary")
                for check in present_exactly_where(column, history, no_history)
            ),
            *non_negative("baseline_mean", "ratio"),
            positive("expected"),
            at_most("expected", "baseline_mean"),
            *shares("p_value"),
            within(
                "p_value",
                min_value=1,
                row_condition=where("observed", "==", 0),
            ),
            not_null("is_spike"),
            flag_is("is_spike", True, all_of(judged, significant, enough, large)),
            flag_is("is_spike", False, where("baseline_months", "<", int(min_baseline_months))),
            flag_is("is_spike", False, where("p_value", ">=", float(alpha))),
            flag_is("is_spike", False, where("observed", "<", int(min_count))),
            flag_is("is_spike", False, where("ratio", "<", float(min_ratio))),
            mostly_in("is_spike", [False], 1 - max_spike_share),
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
            *table_shape((*mart_columns("dim_facility"), *POINT_COORDINATES), min_rows, max_rows),
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
            *table_shape(mart_columns("service_requests_area_month"), min_rows, max_rows),
            *compound_key("area_id", "month", "request_type"),
            *months_within("month", start, now),
            *count_column("requests"),
            *count_column("closed_requests"),
            at_most("requests", "closed_requests"),
            *non_negative("median_days_to_close"),
            null_where("median_days_to_close", where("closed_requests", "==", 0)),
            within("median_days_to_close", "WARN", max_value=max_median_days, mostly=0.9),
        ),
    )


def service_access_suite(
    *,
    catchment_m: float,
    min_reached_share: float = 0.5,
    min_rows: int = 1,
    max_rows: int | None = None,
    name: str = "service_access_mart",
) -> SuiteSpec:
    """Access to social services per area x facility type (the canonical types and 'all').

    ERROR: exact columns; (area_id, facility_type) present and unique; ``facility_type``
    canonical or 'all'; ``population`` >= 0; an origin (the area's centroid); a distance to
    the nearest facility >= 0 exactly when there is a nearest facility; counts >= 0;
    ``facilities_per_10k`` >= 0, present exactly when the population is known and positive;
    ``catchment_m`` the configured radius; ``access_2sfca`` present, >= 0, and 0 without a
    facility in the catchment; a facility in the catchment exactly when the nearest one is
    within it. WARN:
    fewer than ``min_reached_share`` of the areas with any facility within the catchment (a
    facility list missing its providers, or a radius too small for the jurisdiction).
    """
    in_reach = where("facilities_in_catchment", ">", 0)
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(mart_columns("service_access"), min_rows, max_rows),
            not_null("area_id"),
            *in_domain("facility_type", [ALL_FACILITIES, *FACILITY_TYPES]),
            unique_together("area_id", "facility_type"),
            *non_negative("population", "nearest_facility_m"),
            not_null("origin_x"),
            not_null("origin_y"),
            *present_exactly_where(
                "nearest_facility_m",
                where_null("nearest_facility_id", is_null=False),
                where_null("nearest_facility_id"),
            ),
            *count_column("facilities_in_area"),
            *count_column("facilities_in_catchment"),
            *non_negative("facilities_per_10k"),
            *present_exactly_where(
                "facilities_per_10k", where("population", ">", 0), where_null("population")
            ),
            null_where("facilities_per_10k", where("population", "==", 0)),
            *in_domain("catchment_m", [float(catchment_m)]),
            *count_column("access_2sfca"),
            within(
                "access_2sfca",
                max_value=0,
                row_condition=where("facilities_in_catchment", "==", 0),
            ),
            within(
                "nearest_facility_m",
                max_value=float(catchment_m),
                row_condition=in_reach,
            ),
            not_null("nearest_facility_id", row_condition=in_reach),
            within(
                "facilities_in_catchment",
                min_value=1,
                row_condition=where("nearest_facility_m", "<=", float(catchment_m)),
            ),
            within(
                "facilities_in_catchment",
                "WARN",
                min_value=1,
                mostly=min_reached_share,
                row_condition=where("facility_type", "==", ALL_FACILITIES),
            ),
        ),
    )


def priority_areas_suite(
    *,
    weights: Mapping[str, float] = DEFAULT_PRIORITY_WEIGHTS,
    min_population: int = DEFAULT_MIN_POPULATION,
    unavailable: Sequence[str] = (),
    indicator_weights: Mapping[str, float] | None = None,
    min_ranked_share: float = 0.8,
    min_rows: int = 1,
    max_rows: int | None = None,
    name: str = "priority_areas_mart",
) -> SuiteSpec:
    """The composite need index per area (the jurisdiction's component ``weights``).

    ERROR: exact columns; ``area_id`` present and unique; ``ranked`` present, and an
    exclusion reason (in its domain) exactly when not ranked: 'population_unknown' without a
    positive population, 'population_below_minimum' under ``min_population``; rank, index,
    percentile, component z scores, contributions and the uninformative components exactly
    for ranked areas; rank >= 1, percentile within [0, 100], the index within [-3, 3] and
    each contribution within +-3 x its weight's share (z capped at 3); the weights the
    configured ones; counts >= 0; rates >= 0 and none under the population floor; 1 to 12
    months in the period, ``period_start`` <= ``period_end``; poverty and unemployment rates
    within [0, 1]; income, 2SFCA score and distance >= 0. The ``unavailable`` components (their
    source absent) weigh 0, have no z score or contribution, and are listed on every row. The
    jurisdiction's own ``indicator_weights`` (indicator -> weight) are listed on every row with
    their summed weight, and their summed contribution is within +-3 x their weights' share.
    WARN: fewer than ``min_ranked_share`` of the areas ranked.
    """
    if set(weights) != set(PRIORITY_COMPONENTS):
        raise ValueError(f"weights: expected {PRIORITY_COMPONENTS}, got {sorted(weights)}")
    weights = {c: 0.0 if c in unavailable else float(w) for c, w in weights.items()}
    available = [c for c in PRIORITY_COMPONENTS if c not in unavailable]
    extra = dict(indicator_weights or {})
    extra_weight = sum(extra.values())
    total = sum(float(w) for w in weights.values()) + extra_weight
    if total <= 0:
        raise ValueError("weights: at least one weight must be positive")
    floor = max(int(min_population), 1)
    ranked = where("ranked", "==", True)
    unranked = where("ranked", "==", False)
    with_rank = (
        "need_rank",
        "need_index",
        "need_percentile",
        "uninformative_components",
        "indicator_contribution",
        *(f"{c}_z" for c in available),
        *(f"{c}_contribution" for c in available),
    )
    withheld = [*(f"{c}_z" for c in unavailable), *(f"{c}_contribution" for c in unavailable)]
    listed = ", ".join(unavailable)
    cap = PRIORITY_Z_CAP + _RELATIVE_TOLERANCE
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(mart_columns("priority_areas"), min_rows, max_rows),
            *unique_key("area_id"),
            not_null("ranked"),
            *present_exactly_where("exclusion_reason", unranked, ranked),
            one_of_where("exclusion_reason", list(EXCLUSION_REASONS)),
            value_where("exclusion_reason", "population_unknown", where_null("population")),
            value_where("exclusion_reason", "population_unknown", where("population", "<=", 0)),
            value_where(
                "exclusion_reason",
                "population_below_minimum",
                all_of(where("population", ">", 0), where("population", "<", floor)),
            ),
            *(
                check
                for column in with_rank
                for check in present_exactly_where(column, ranked, unranked)
            ),
            *(null_where(column, ranked) for column in withheld),
            *(
                in_domain("unavailable_components", [listed])
                if unavailable
                else [not_listed("unavailable_components")]
            ),
            *(
                in_domain("indicator_components", [", ".join(extra)])
                if extra
                else [not_listed("indicator_components")]
            ),
            *in_domain("indicator_weight", [extra_weight]),
            within(
                "indicator_contribution",
                min_value=-cap * extra_weight / total,
                max_value=cap * extra_weight / total,
            ),
            within("need_rank", min_value=1),
            within("need_percentile", min_value=0, max_value=100),
            within("need_index", min_value=-cap, max_value=cap),
            *(
                within(
                    f"{c}_contribution",
                    min_value=-cap * float(weights[c]) / total,
                    max_value=cap * float(weights[c]) / total,
                )
                for c in available
            ),
            *(
                check
                for c in PRIORITY_COMPONENTS
                for check in in_domain(f"{c}_weight", [float(weights[c])])
            ),
            *count_column("person_crime_count"),
            *count_column("mental_health_count"),
            *non_negative("person_crime_rate", "mental_health_rate"),
            *(
                null_where(rate, condition)
                for rate in ("person_crime_rate", "mental_health_rate")
                for condition in (where_null("population"), where("population", "<", floor))
            ),
            not_null("period_months"),
            within("period_months", min_value=0, max_value=PRIORITY_PERIOD_MONTHS),
            at_most("period_end", "period_start"),
            *shares("poverty_rate", "unemployment_rate"),
            *non_negative("median_household_income", "access_2sfca", "nearest_facility_m"),
            mostly_in("ranked", [True], min_ranked_share),
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
            # without questions (no survey layout) there is nothing to report
            *table_shape(
                mart_columns("survey_area_responses"), min_rows, max_rows if questions else 0
            ),
            not_null("area_id"),
            not_null("survey"),
            *(in_domain("question", distinct_names(questions, "questions")) if questions else ()),
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
            within("weight_total", min_value=0, strict_min=True),
            mostly_in("suppressed", [False], min_reported_share),
        ),
    )


def crime_social_correlation_suite(
    *,
    indicators: Sequence[str] = CORRELATION_INDICATORS,
    min_areas: int = 10,
    min_rows: int | None = None,
    max_rows: int | None = None,
    name: str = "crime_social_correlation_mart",
) -> SuiteSpec:
    """Spearman correlations of area crime rates with the jurisdiction's social ``indicators``
    (every indicator but counts), one row per measure x indicator: by default exactly one row
    per pair, computed or not.

    ERROR: exact columns; ``measure`` and ``indicator`` in their domains, together unique;
    ``n`` >= 0; no ``spearman_rho`` with fewer than 4 areas; rho and its interval within
    [-1, 1] with ``ci_lower`` <= rho <= ``ci_upper``; the interval and the p-value present
    exactly when rho is, the p-value within [0, 1]; a ``method``. WARN: correlations over fewer
    than ``min_areas`` areas (an interval too wide to read); correlations not computed.
    """
    computed = where_null("spearman_rho", is_null=False)
    not_computed = where_null("spearman_rho")
    pairs = len(CORRELATION_MEASURES) * len(indicators)
    min_rows = pairs if min_rows is None else min_rows
    max_rows = pairs if max_rows is None else max_rows
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(mart_columns("crime_social_correlation"), min_rows, max_rows),
            *in_domain("measure", CORRELATION_MEASURES),
            *(in_domain("indicator", indicators) if indicators else ()),
            unique_together("measure", "indicator"),
            *count_column("n"),
            null_where("spearman_rho", where("n", "<", MIN_CORRELATION_AREAS)),
            *(
                within(c, min_value=-1, max_value=1)
                for c in ("spearman_rho", "ci_lower", "ci_upper")
            ),
            at_most("spearman_rho", "ci_lower"),
            at_most("ci_upper", "spearman_rho"),
            *(
                check
                for column in ("ci_lower", "ci_upper", "p_value")
                for check in present_exactly_where(column, computed, not_computed)
            ),
            *shares("p_value"),
            not_null("method"),
            within(
                "n",
                "WARN",
                min_value=int(min_areas),
                row_condition=where_null("n", is_null=False),
            ),
            not_null("spearman_rho", "WARN"),
        ),
    )


def initiative_impact_suite(
    initiatives: Sequence[str] = (),
    *,
    min_comparison_areas: int = 10,
    min_rows: int | None = None,
    max_rows: int | None = None,
    name: str = "initiative_impact_mart",
) -> SuiteSpec:
    """The difference-in-differences of each declared initiative, one row per initiative.

    ``initiatives`` are the names the jurisdiction declares: by default the mart holds
    exactly one row for each (none when none is declared).

    ERROR: exact columns; ``initiative`` one of ``initiatives`` and unique; a start month and
    the listed areas; no ``configuration_error`` (the declaration names an unknown area or
    starts outside the data: fix the jurisdiction YAML); area counts >= 0, months before and
    after >= 1; mean rates and the standard error >= 0; no estimate without an area on each
    side, one with; no standard error with fewer than 2 areas on a side, one with 2 or more;
    no t statistic without a standard error, no interval without degrees of freedom, no
    p-value without a t statistic; ``df`` > 0; ``ci_lower`` <= ``estimate`` <= ``ci_upper``;
    ``p_value`` within [0, 1]; ``relative_effect`` >= -1 (a drop of more than all offenses is
    impossible); a ``method``. WARN: fewer than 2 treated areas (no uncertainty) or fewer
    than ``min_comparison_areas`` comparison areas.
    """
    if isinstance(initiatives, str):
        raise TypeError(f"initiatives: expected a sequence of names, got {initiatives!r}")
    names = list(dict.fromkeys(initiatives))
    low = len(names) if min_rows is None else min_rows
    high = len(names) if max_rows is None else max_rows
    treated = where("treated_areas", ">=", 1)
    compared = where("comparison_areas", ">=", 1)
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(mart_columns("initiative_impact"), low, high),
            *in_domain("initiative", names),
            expect("ExpectColumnValuesToBeUnique", "ERROR", column="initiative"),
            not_null("start_month"),
            not_null("listed_areas"),
            expect("ExpectColumnValuesToBeNull", "ERROR", column="configuration_error"),
            *count_column("treated_areas"),
            *count_column("comparison_areas"),
            *(within(c, min_value=1) for c in ("pre_months", "post_months")),
            *non_negative(
                "treated_pre_mean",
                "treated_post_mean",
                "comparison_pre_mean",
                "comparison_post_mean",
                "std_error",
            ),
            null_where("estimate", where("treated_areas", "==", 0)),
            null_where("estimate", where("comparison_areas", "==", 0)),
            not_null("estimate", row_condition=all_of(treated, compared)),
            null_where("std_error", where("treated_areas", "<", 2)),
            null_where("std_error", where("comparison_areas", "<", 2)),
            not_null(
                "std_error",
                row_condition=all_of(
                    where("treated_areas", ">=", 2), where("comparison_areas", ">=", 2)
                ),
            ),
            null_where("t_statistic", where_null("std_error")),
            null_where("ci_lower", where_null("df")),
            null_where("ci_upper", where_null("df")),
            null_where("p_value", where_null("t_statistic")),
            positive("df"),
            at_most("estimate", "ci_lower"),
            at_most("ci_upper", "estimate"),
            *shares("p_value"),
            within("relative_effect", min_value=-1),
            not_null("method"),
            within(
                "treated_areas",
                "WARN",
                min_value=2,
                row_condition=where_null("treated_areas", is_null=False),
            ),
            within(
                "comparison_areas",
                "WARN",
                min_value=int(min_comparison_areas),
                row_condition=where_null("comparison_areas", is_null=False),
            ),
        ),
    )


def dim_grid_cell_suite(
    *,
    grid_shape: str,
    cell_size_m: float,
    bbox: BBox | None = None,
    min_rows: int = 1,
    max_rows: int | None = None,
    name: str = "dim_grid_cell_mart",
) -> SuiteSpec:
    """One row per cell of the analysis grid (``grid_shape``, ``cell_size_m`` between centres).

    ERROR: exact columns; ``cell_id`` present, unique and 'r<row>c<col>'; (cell_row,
    cell_col) present and unique; the configured shape and size; a centre in metres and in
    degrees; ``cell_area_m2`` the shape's area for the size; ``area_in_jurisdiction_m2``
    within [0, ``cell_area_m2``]; a polygon. WARN: centres outside ``bbox`` (cells cover the
    jurisdiction, so only edge cells' centres fall a little outside).
    """
    if grid_shape not in GRID_SHAPES:
        raise ValueError(f"grid_shape must be one of {GRID_SHAPES}, got {grid_shape!r}")
    size = float(cell_size_m)
    area = size * size * (math.sqrt(3) / 2 if grid_shape == "hexagon" else 1.0)
    centres = (("centre_lon", -180, 180), ("centre_lat", -90, 90))
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(mart_columns("dim_grid_cell"), min_rows, max_rows),
            *unique_key("cell_id"),
            expect(
                "ExpectColumnValuesToMatchRegex", "ERROR", column="cell_id", regex=CELL_ID_REGEX
            ),
            *compound_key("cell_row", "cell_col"),
            *in_domain("grid_shape", [grid_shape]),
            *in_domain("cell_size_m", [size]),
            *(not_null(c) for c in ("centre_x", "centre_y", "centre_lon", "centre_lat")),
            *(within(c, min_value=lo, max_value=hi) for c, lo, hi in centres),
            not_null("cell_area_m2"),
            within(
                "cell_area_m2",
                min_value=area * (1 - _RELATIVE_TOLERANCE),
                max_value=area * (1 + _RELATIVE_TOLERANCE),
            ),
            *count_column("area_in_jurisdiction_m2"),
            at_most("cell_area_m2", "area_in_jurisdiction_m2"),
            *in_domain("geom", ["POLYGON"]),
            *(
                (
                    mostly_within("centre_lon", bbox.min_lon, bbox.max_lon),
                    mostly_within("centre_lat", bbox.min_lat, bbox.max_lat),
                )
                if bbox is not None
                else ()
            ),
        ),
    )


def hotspots_suite(
    *,
    start: date,
    now: datetime,
    min_scored_share: float = 0.95,
    min_rows: int = 1,
    max_rows: int | None = None,
    name: str = "hotspots_mart",
) -> SuiteSpec:
    """Getis-Ord Gi* per grid cell x month.

    ERROR: exact columns; (cell_id, month) present and unique; months up to the current month;
    counts >= 0, a neighbourhood of at least the cell itself, holding at least the cell's
    offenses, within the month's cells; expected count, mean and standard deviation >= 0; no
    z score in a month whose counts are all equal; p and q present exactly when z is, within
    [0, 1], q >= p; ``confidence_bin`` in -3..3, its size as q says (3: q <= 0.01, 2: <= 0.05,
    1: <= 0.10, else 0) and its sign z's. WARN: fewer than ``min_scored_share`` of the rows
    with a z score; months before ``start``.
    """
    scored = where_null("gi_star_z", is_null=False)
    q = "q_value"
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(mart_columns("hotspots"), min_rows, max_rows),
            *compound_key("cell_id", "month"),
            *months_within("month", start, now),
            *count_column("incident_count"),
            *count_column("neighbour_cells", minimum=1),
            *count_column("neighbourhood_count"),
            at_most("neighbourhood_count", "incident_count"),
            *count_column("cells_in_month", minimum=1),
            at_most("cells_in_month", "neighbour_cells"),
            *non_negative("expected_neighbourhood_count", "month_mean_count", "month_sd_count"),
            null_where("gi_star_z", where("month_sd_count", "==", 0)),
            *(
                check
                for column in ("p_value", q)
                for check in present_exactly_where(column, scored, where_null("gi_star_z"))
            ),
            *shares("p_value", q),
            at_most(q, "p_value"),
            *in_domain("confidence_bin", CONFIDENCE_BINS),
            one_of_where("confidence_bin", [-3, 3], where(q, "<=", 0.01)),
            one_of_where(
                "confidence_bin", [-2, 2], all_of(where(q, ">", 0.01), where(q, "<=", 0.05))
            ),
            one_of_where(
                "confidence_bin", [-1, 1], all_of(where(q, ">", 0.05), where(q, "<=", 0.10))
            ),
            value_where("confidence_bin", 0, where(q, ">", 0.10)),
            value_where("confidence_bin", 0, where_null("gi_star_z")),
            within(
                "confidence_bin",
                min_value=0,
                row_condition=where("gi_star_z", ">", 0),
            ),
            within(
                "confidence_bin",
                max_value=0,
                row_condition=where("gi_star_z", "<", 0),
            ),
            not_null("gi_star_z", "WARN", mostly=min_scored_share),
        ),
    )


def emerging_hotspots_suite(
    *,
    start: date,
    now: datetime,
    min_rows: int = 1,
    max_rows: int | None = None,
    name: str = "emerging_hotspots_mart",
) -> SuiteSpec:
    """One emerging hot spot class per grid cell.

    ERROR: exact columns; ``cell_id`` present and unique; period counts >= 0, hot and cold
    months at most the months, the final runs at most the hot / cold months and never both;
    first and final month present exactly when there are months, the final month not before
    the first nor after the current month; Mann-Kendall S and its variance present exactly
    when z scores entered it (``mk_n`` > 0, at most the months), the variance >= 0, its p
    within [0, 1] and present exactly with its Z; ``trend`` 'up' / 'down' exactly when p <
    0.05 (as S's sign), else 'none'; ``pattern`` in the classes: 'no_pattern' under two
    months, a hot class exactly when the final month is hot, a cold class exactly when it is
    cold, else historical or no pattern; new spots hot / cold once; intensifying, persistent
    and diminishing spots with their trend. WARN: final months before ``start``.
    """
    months = where("periods", ">", 0)
    no_months = where("periods", "==", 0)
    judged = where("mk_n", ">", 0)
    final_hot = where("final_hot_run", ">=", 1)
    final_cold = where("final_cold_run", ">=", 1)
    significant = where("mk_p", "<", 0.05)
    patterned = where("periods", ">=", 2)

    def pattern_is(pattern: str) -> dict[str, Any]:
        return where("pattern", "==", pattern)

    trends = (
        ("intensifying_hot_spot", "up"),
        ("persistent_hot_spot", "none"),
        ("diminishing_hot_spot", "down"),
        ("intensifying_cold_spot", "down"),
        ("persistent_cold_spot", "none"),
        ("diminishing_cold_spot", "up"),
    )
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(mart_columns("emerging_hotspots"), min_rows, max_rows),
            *unique_key("cell_id"),
            *count_column("periods"),
            *count_column("hot_periods"),
            *count_column("cold_periods"),
            *count_column("final_hot_run"),
            *count_column("final_cold_run"),
            at_most("periods", "hot_periods"),
            at_most("periods", "cold_periods"),
            at_most("hot_periods", "final_hot_run"),
            at_most("cold_periods", "final_cold_run"),
            within("final_cold_run", max_value=0, row_condition=final_hot),
            *present_exactly_where("first_month", months, no_months),
            *present_exactly_where("final_month", months, no_months),
            at_most("final_month", "first_month"),
            *months_within("final_month", start, now),
            *count_column("mk_n"),
            at_most("periods", "mk_n"),
            *present_exactly_where("mk_s", judged, where("mk_n", "==", 0)),
            *present_exactly_where("mk_var", judged, where("mk_n", "==", 0)),
            *non_negative("mk_var"),
            *present_exactly_where("mk_z", where("mk_var", ">", 0), where_null("mk_var")),
            null_where("mk_z", where("mk_var", "<=", 0)),
            *present_exactly_where("mk_p", where_null("mk_z", is_null=False), where_null("mk_z")),
            *shares("mk_p"),
            *in_domain("trend", EMERGING_TRENDS),
            value_where("trend", "up", all_of(significant, where("mk_s", ">", 0))),
            value_where("trend", "down", all_of(significant, where("mk_s", "<", 0))),
            value_where("trend", "none", where("mk_p", ">=", 0.05)),
            value_where("trend", "none", where_null("mk_p")),
            *in_domain("pattern", EMERGING_PATTERNS),
            value_where("pattern", "no_pattern", where("periods", "<", 2)),
            one_of_where("pattern", list(HOT_PATTERNS), all_of(patterned, final_hot)),
            one_of_where("pattern", list(COLD_PATTERNS), all_of(patterned, final_cold)),
            one_of_where(
                "pattern",
                ["historical_hot_spot", "historical_cold_spot", "no_pattern"],
                all_of(where("final_hot_run", "==", 0), where("final_cold_run", "==", 0)),
            ),
            within(
                "hot_periods",
                min_value=1,
                max_value=1,
                row_condition=pattern_is("new_hot_spot"),
            ),
            within(
                "cold_periods",
                min_value=1,
                max_value=1,
                row_condition=pattern_is("new_cold_spot"),
            ),
            *(value_where("trend", trend, pattern_is(pattern)) for pattern, trend in trends),
        ),
    )


def hotspot_forecast_predictions_suite(
    *,
    start: date,
    now: datetime,
    min_rows: int = 1,
    max_rows: int | None = None,
    name: str = "hotspot_forecast_predictions_mart",
) -> SuiteSpec:
    """The forecast's and the naive baseline's predictions per model x grid cell x month.

    ERROR: exact columns; (model, month, cell_id) present and unique, and one cell per
    (model, month, predicted_rank); ``model`` and ``period`` in their domains; held-back
    months up to the current month, the predicted next month at most the month after it;
    ``history_months`` within 1..12, 1 for the naive model; ``predicted_count`` present and
    >= 0; ``predicted_rank`` within 1..``cells_total``; ``actual_count`` >= 0, present exactly
    for the held-back months. WARN: months before ``start``.
    """
    holdout = where("period", "==", "holdout")
    upcoming = where("period", "==", "next")
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(mart_columns("hotspot_forecast_predictions"), min_rows, max_rows),
            *in_domain("model", FORECAST_MODELS),
            not_null("cell_id"),
            not_null("month"),
            unique_together("model", "month", "cell_id"),
            unique_together("model", "month", "predicted_rank"),
            *in_domain("period", FORECAST_PERIODS),
            *forecast_months("month", start, now, holdout=holdout),
            not_null("history_months"),
            within("history_months", min_value=1, max_value=FORECAST_WINDOW_MONTHS),
            value_where("history_months", 1, where("model", "==", "naive_last_period")),
            *count_column("predicted_count"),
            *count_column("predicted_rank", minimum=1),
            *count_column("cells_total", minimum=1),
            at_most("cells_total", "predicted_rank"),
            *non_negative("actual_count"),
            *present_exactly_where("actual_count", holdout, upcoming),
        ),
    )


def hotspot_forecast_suite(
    *,
    start: date,
    now: datetime,
    area_shares: Sequence[float],
    min_rows: int = 1,
    max_rows: int | None = None,
    name: str = "hotspot_forecast_mart",
) -> SuiteSpec:
    """Next month's hotspot forecast, one row per grid cell.

    ERROR: exact columns; ``cell_id`` and ``predicted_rank`` present and unique; one forecast
    month, at most the month after the current one, and one model ('forecast'); a predicted
    count >= 0; ranks >= 1; ``top_area_share`` one of ``area_shares``, the smallest for rank
    1; a method; ``history_months`` within 1..12. WARN: a forecast month before ``start``.
    """
    shares_ = sorted({float(s) for s in area_shares})
    if not shares_:
        raise ValueError("area_shares: at least one share is required")
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(mart_columns("hotspot_forecast"), min_rows, max_rows),
            *unique_key("cell_id"),
            *unique_key("predicted_rank"),
            not_null("forecast_month"),
            expect(
                "ExpectColumnUniqueValueCountToBeBetween",
                "ERROR",
                column="forecast_month",
                max_value=1,
            ),
            *forecast_months("forecast_month", start, now),
            *count_column("predicted_count"),
            within("predicted_rank", min_value=1),
            one_of_where("top_area_share", shares_),
            value_where("top_area_share", shares_[0], where("predicted_rank", "==", 1)),
            *in_domain("model", ["forecast"]),
            not_null("method"),
            not_null("history_months"),
            within("history_months", min_value=1, max_value=FORECAST_WINDOW_MONTHS),
        ),
    )


def hotspot_forecast_scores_suite(
    *,
    start: date,
    now: datetime,
    area_shares: Sequence[float],
    holdout_months: int,
    min_forecast_lift: float = 1.0,
    min_rows: int = 0,
    max_rows: int | None = None,
    name: str = "hotspot_forecast_scores_mart",
) -> SuiteSpec:
    """The forecast and the naive baseline scored on the held-back months, per model x area
    share x month and over the holdout ('holdout_mean'). Empty with too few months of data.

    ERROR: exact columns; (model, area_share, scope, month) unique with model, share and scope
    present; ``model`` and ``scope`` in their domains, ``area_share`` one of ``area_shares``;
    a month exactly on the monthly rows, up to the current month; ``months_scored`` 0 or 1 on
    a monthly row, at most ``holdout_months`` on a mean row; cells selected >= 1; offenses
    >= 0, those in the selected cells at most all of them; a hit rate exactly on the monthly
    rows with offenses; hit rate and PEI within [0, 1 + 1e-12]; the selected area's share
    within (0, 1]; PAI and its maximum >= 0; a lift over the naive model only on the
    forecast's rows, >= 0. WARN: the forecast's mean PAI below ``min_forecast_lift`` times the
    naive model's (it does not beat "same as last month"); months before ``start``.
    """
    shares_ = sorted({float(s) for s in area_shares})
    if not shares_:
        raise ValueError("area_shares: at least one share is required")
    monthly = where("scope", "==", "month")
    mean = where("scope", "==", "holdout_mean")
    return SuiteSpec(
        name=name,
        expectations=(
            *table_shape(mart_columns("hotspot_forecast_scores"), min_rows, max_rows),
            *in_domain("model", FORECAST_MODELS),
            *in_domain("area_share", shares_),
            *in_domain("scope", SCORE_SCOPES),
            unique_together("model", "area_share", "scope", "month"),
            *present_exactly_where("month", monthly, mean),
            *months_within("month", start, now),
            *count_column("months_scored"),
            within("months_scored", max_value=1, row_condition=monthly),
            within(
                "months_scored",
                max_value=int(holdout_months),
                row_condition=mean,
            ),
            *count_column("cells_selected", minimum=1),
            *count_column("offenses"),
            *count_column("offenses_in_selected"),
            at_most("offenses", "offenses_in_selected"),
            not_null("hit_rate", row_condition=all_of(monthly, where("offenses", ">", 0))),
            null_where("hit_rate", where("offenses", "==", 0)),
            *(within(c, min_value=0, max_value=1 + _SCORE_TOLERANCE) for c in ("hit_rate", "pei")),
            within("area_share_actual", min_value=0, max_value=1, strict_min=True),
            *non_negative("pai", "pai_max", "pai_lift_over_naive"),
            null_where("pai_lift_over_naive", where("model", "==", "naive_last_period")),
            within(
                "pai_lift_over_naive",
                "WARN",
                min_value=float(min_forecast_lift),
                row_condition=mean,
            ),
        ),
    )


# --- frames --------------------------------------------------------------------------------------


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


def mart_frames(
    con: duckdb.DuckDBPyConnection, mart: str, spec: SuiteSpec, *, batch_rows: int = BATCH_ROWS
) -> Iterator[pd.DataFrame]:
    """``mart`` as ``spec`` reads it (``mart_frame``), in frames of about ``batch_rows`` rows
    for ``run_suite`` to validate in turn. A larger mart is split by a hash of the key its
    uniqueness expectations name, so equal keys meet in one frame; one that cannot be split so
    (``bucket_columns``) is read whole."""
    columns = read_columns(spec)
    (rows,) = con.execute(f"SELECT count(*) FROM {quote_ident(mart)}").fetchone() or (0,)
    buckets = math.ceil(rows / batch_rows)
    key = bucket_columns(spec)
    if buckets <= 1 or key is None:
        yield mart_frame(con, mart, columns)
        return
    present = {name for name, _ in table_columns(con, mart)}
    hashed = ", ".join(quote_ident(c) for c in key if c in present)
    for bucket in range(buckets):
        spread = f"hash({hashed})" if hashed else "rowid"  # rowid: marts are tables
        yield mart_frame(con, mart, columns, row_filter=f"{spread} % {buckets} = {bucket}")


def mart_frame(
    con: duckdb.DuckDBPyConnection,
    mart: str,
    columns: Sequence[str],
    *,
    row_filter: str | None = None,
) -> pd.DataFrame:
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
    ``row_filter`` (SQL) keeps only the rows of one batch.
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
    if row_filter:
        sql += f" WHERE {row_filter}"
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


def declared_suite(declared: DeclaredMart, *, min_rows: int = 1) -> SuiteSpec:
    """The suite of a mart with no suite of its own here, from its YAML's ``meta.suite``: its
    declared columns, a key (present and unique), columns never null, measures never
    negative, shares within [0, 1]."""
    mart = declared.name
    suite = declared.suite
    key = suite.get("key", ())
    return SuiteSpec(
        name=f"{mart}_mart",
        expectations=(
            *table_shape(declared.column_names, min_rows, None),
            *(compound_key(*key) if len(key) > 1 else unique_key(key[0]) if key else ()),
            *(not_null(c) for c in suite.get("not_null", ()) if c not in key),
            *non_negative(*suite.get("non_negative", ())),
            *shares(*suite.get("shares", ())),
        ),
    )

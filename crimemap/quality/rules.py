"""Row-level quality rules with reason codes, evaluated in DuckDB over raw landing Parquet.

A rule is a value: a reason code plus a SQL predicate that is true when a row violates it. Rules
read the raw columns, which are all strings (docs/data-contracts.md), so every predicate parses
what it needs with ``TRY_CAST`` / ``try_strptime`` and never raises on bad input.

Rules are *guarded*: a rule that needs a parsed value is not judged when that value is unusable,
because an earlier rule already reports it. Blank coordinates are ``coordinates_missing`` only, not
also ``out_of_jurisdiction``; an unparseable date is ``date_unparseable``, not also ``date_future``.
So a row with one planted defect gets exactly that one reason code.

Duplicates: ``duplicate_record`` is judged among rows that pass every other rule. The first such row
of each ``dedupe_on`` key (lowest ``_row_number``) is kept and later copies are quarantined. A
defective row is never the "original", so a clean later copy of a defective row is staged instead
of being lost, and staged rows are unique on the key. A defective row that is also a copy carries
only its defect codes. Rows with a blank dedupe key are never duplicates (that is ``missing_key``).

``split_quarantine`` does the whole split in DuckDB (one scan, one temp table, ``COPY ... TO``), so
a million rows never pass through Python.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from crimemap.core.duckdb_spatial import fetch_one, scratch
from crimemap.core.files import atomic_output
from crimemap.core.sql import quote_ident, sql_literal
from crimemap.ingestion.landing import MALFORMED_COLUMN, MALFORMED_COLUMNS
from crimemap.quality.layouts import SEATTLE_PROJECTED_CRS, BBox
from crimemap.quality.reconcile import count_parquet_rows

if TYPE_CHECKING:
    import duckdb

# Reason codes of docs/data-contracts.md, in the order a row's codes are reported.
REASON_CODES: tuple[str, ...] = (
    "row_malformed",
    "missing_key",
    "coordinates_missing",
    "coordinates_zero",
    "out_of_jurisdiction",
    "date_unparseable",
    "date_placeholder",
    "date_future",
    "offense_code_missing",
    "duplicate_record",
    "geometry_invalid",
    "value_invalid",
    "type_unmapped",
    "area_unknown",
)
DUPLICATE_RECORD = "duplicate_record"
# A record the landing could not read (``crimemap.ingestion.landing.MALFORMED_COLUMN``): its
# published columns are blank, so it carries this code alone and no rule judges it.
ROW_MALFORMED = "row_malformed"
REASON_CODES_COLUMN = "_reason_codes"
REASON_COLUMN = "_reason"
ROW_NUMBER_COLUMN = "_row_number"
DEFAULT_TOLERANCE_M = 50.0
WGS84 = "EPSG:4326"
# Rules read raw columns through this alias (see ``_raw``).
RAW_ALIAS = "__raw"


@dataclass(frozen=True)
class RowRule:
    """One rule: ``predicate_sql`` is true when a row violates it (NULL counts as "no violation").

    The predicate reads raw columns as ``__raw."Column Name"`` (``RAW_ALIAS``).

    ``columns`` are the raw columns the predicate reads; they are checked up front so a renamed
    column fails with its name instead of a DuckDB binder error. ``temp_tables`` are
    ``(name, select_sql)`` pairs the predicate reads, created before the split and dropped after
    (derived reference data worth computing once, e.g. projected areas).
    """

    code: str
    predicate_sql: str
    description: str
    columns: tuple[str, ...] = ()
    temp_tables: tuple[tuple[str, str], ...] = ()
    # The published column a message quotes an example value of (a rejected date, a longitude).
    field: str | None = None


@dataclass(frozen=True)
class SourceRules:
    """The rules for one raw source. ``dedupe_on`` empty means no duplicate detection."""

    source: str
    key_columns: tuple[str, ...]
    rules: tuple[RowRule, ...]
    dedupe_on: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for rule in self.rules:
            if rule.code not in REASON_CODES:
                raise ValueError(f"{self.source}: unknown reason code {rule.code!r}")
            if rule.code in (DUPLICATE_RECORD, ROW_MALFORMED):
                raise ValueError(f"{self.source}: {rule.code} is derived by the split, not a rule")

    @property
    def columns(self) -> tuple[str, ...]:
        """Every raw column the rules, keys and dedupe key read (ordered, no repeats)."""
        names = [*self.key_columns, *self.dedupe_on]
        for rule in self.rules:
            names.extend(rule.columns)
        return tuple(dict.fromkeys(names))


# Codes that mean a value was absent (completeness), and that a row has no usable point.
MISSING_VALUE_CODES: tuple[str, ...] = (
    ROW_MALFORMED,  # every value unreadable
    "missing_key",
    "coordinates_missing",
    "offense_code_missing",
)
NO_POINT_CODES: tuple[str, ...] = (ROW_MALFORMED, "coordinates_missing", "coordinates_zero")
DATE_CODES: tuple[str, ...] = ("date_unparseable", "date_placeholder", "date_future")


@dataclass(frozen=True)
class LoadProfile:
    """Where a split writes its quality profile (the per-month counts behind the scorecard).

    ``month_sql`` dates a judged row (SQL over its raw and derived columns, a DATE); a row whose
    date was rejected, or a source without dates (``None``), is counted under a NULL month.
    ``located`` sources report how many rows had a usable point. Without a ``path`` (a split run
    outside the pipeline, as in tests) nothing is written.
    """

    path: Path | None
    family: str
    month_sql: str | None = None
    located: bool = False


@dataclass(frozen=True)
class ReasonExample:
    """Why rows got a reason, for a message: the rule's description, and a rejected value."""

    description: str
    field: str | None = None
    value: str | None = None

    @property
    def text(self) -> str:
        if self.field is None:
            return self.description
        shown = "blank" if self.value is None else repr(self.value[:80])
        return f"{self.description}; example {self.field}: {shown}"


@dataclass(frozen=True)
class SplitResult:
    """Counts of one split. ``by_reason`` counts the first code (sums to ``quarantined_rows``);
    ``by_code`` counts every code a row carries (a row may count under several)."""

    source: str
    raw_rows: int
    clean_rows: int
    quarantined_rows: int
    by_reason: dict[str, int]
    by_code: dict[str, int]
    quarantine_path: Path
    clean_path: Path | None = None
    # Per reason (first code): what the rule says, and one rejected value of its field.
    examples: dict[str, ReasonExample] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.raw_rows == self.clean_rows + self.quarantined_rows


# --- SQL text helpers (``quote_ident`` / ``sql_literal`` come from ``crimemap.core.sql``) ---


def _raw(column: str) -> str:
    # Qualified, so a correlated subquery never binds a raw column to a reference table's column.
    return f"{RAW_ALIAS}.{quote_ident(column)}"


def _text(column: str) -> str:
    # The contract says strings; the cast keeps predicates valid if a writer typed a column anyway.
    return f"trim(CAST({_raw(column)} AS VARCHAR))"


def _blank(column: str) -> str:
    return f"(NULLIF({_text(column)}, '') IS NULL)"


def _number(column: str) -> str:
    return f"TRY_CAST({_text(column)} AS DOUBLE)"


def _finite(column: str) -> str:
    # TRY_CAST accepts 'nan' and 'inf', which are not coordinates.
    return f"coalesce(isfinite({_number(column)}), false)"


def _coordinates_usable(lon: str, lat: str) -> str:
    return f"({_finite(lon)} AND {_finite(lat)})"


def _coordinates_zero(lon: str, lat: str) -> str:
    return f"({_coordinates_usable(lon, lat)} AND {_number(lon)} = 0 AND {_number(lat)} = 0)"


def _to_projected(geom_sql: str, projected_crs: str) -> str:
    # always_xy: treat EPSG:4326 input as lon/lat whatever the CRS's official axis order is.
    return (
        f"ST_Transform({geom_sql}, {sql_literal(WGS84)}, {sql_literal(projected_crs)}, "
        "always_xy := true)"
    )


# --- rule builders -----------------------------------------------------------------------------


def missing_key(*columns: str) -> RowRule:
    """Any of the key columns is blank (NULL, empty or only spaces)."""
    if not columns:
        raise ValueError("missing_key needs at least one column")
    return RowRule(
        code="missing_key",
        predicate_sql="(" + " OR ".join(_blank(c) for c in columns) + ")",
        description=f"key field blank: {', '.join(columns)}",
        columns=tuple(columns),
        field=columns[0],
    )


def coordinates_missing(lon: str, lat: str) -> RowRule:
    return RowRule(
        code="coordinates_missing",
        predicate_sql=f"(NOT {_coordinates_usable(lon, lat)})",
        description=f"{lon} or {lat} blank or not a finite number",
        columns=(lon, lat),
        field=lon,
    )


def coordinates_zero(lon: str, lat: str) -> RowRule:
    return RowRule(
        code="coordinates_zero",
        predicate_sql=_coordinates_zero(lon, lat),
        description=f"{lon} and {lat} both 0 (portal placeholder for no location)",
        columns=(lon, lat),
        field=lon,
    )


def out_of_jurisdiction(
    lon: str,
    lat: str,
    boundary_table: str,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    *,
    projected_crs: str = SEATTLE_PROJECTED_CRS,
    geometry_column: str = "geom",
) -> RowRule:
    """The point is further than ``tolerance_m`` metres from the union of ``boundary_table``.

    Distance to a union equals the minimum distance to its parts, so the predicate asks whether
    *any* area lies within the tolerance. Written as a correlated ``EXISTS``, DuckDB plans it as a
    SPATIAL_JOIN (an R-tree over the areas' boxes): each point is measured only against the one or
    two areas near it. The areas are projected once into a temp table first; projecting them
    inside the join condition re-projects a polygon per candidate pair (3x slower). A single
    dissolved boundary with thousands of vertices defeats the index (every point measured against
    every vertex): pass the areas themselves. Only usable, non-(0,0) points are judged; points
    outside lon/lat range (e.g. State Plane feet) are out without measuring.
    """
    if tolerance_m < 0:
        raise ValueError("tolerance_m must be >= 0")
    digest = hashlib.sha1(
        f"{boundary_table}|{geometry_column}|{projected_crs}".encode()
    ).hexdigest()[:12]
    projected_table = f"__quality_boundary_{digest}"
    projected_areas = (
        f"SELECT {_to_projected(quote_ident(geometry_column), projected_crs)} AS geom "
        f"FROM {quote_ident(boundary_table)} WHERE {quote_ident(geometry_column)} IS NOT NULL"
    )
    x, y = _number(lon), _number(lat)
    in_range = f"({x} BETWEEN -180 AND 180 AND {y} BETWEEN -90 AND 90)"
    # NULL outside lon/lat range, so the projection never sees an impossible coordinate.
    point = f"(CASE WHEN {in_range} THEN ST_Point({x}, {y}) END)"
    near_an_area = (
        f"EXISTS (SELECT 1 FROM {quote_ident(projected_table)} AS __b WHERE ST_DWithin("
        f"__b.geom, {_to_projected(point, projected_crs)}, {float(tolerance_m)!r}))"
    )
    judged = f"({_coordinates_usable(lon, lat)} AND NOT {_coordinates_zero(lon, lat)})"
    return RowRule(
        code="out_of_jurisdiction",
        predicate_sql=f"({judged} AND (NOT {in_range} OR NOT {near_an_area}))",
        description=(
            f"({lon}, {lat}) more than {tolerance_m:g} m from every area of {boundary_table} "
            f"(measured in {projected_crs})"
        ),
        columns=(lon, lat),
        temp_tables=((projected_table, projected_areas),),
    )


# --- rules over conformed (cm_) columns, shared by the point sources ---------------------------

DEFAULT_MIN_VALID_DATE = "1990-01-01"


@dataclass(frozen=True)
class EventRuleSettings:
    """What the rules of a dated, located record (an incident, a 311 request) are judged by."""

    boundary_table: str
    projected_crs: str
    timezone: str
    tolerance_m: float = DEFAULT_TOLERANCE_M
    now_sql: str = "now()"
    # Portals write 1970-01-01 or 1900-01-01 when a date is unknown: such dates are placeholders.
    min_valid_date: str = DEFAULT_MIN_VALID_DATE


def derived(column: str) -> str:
    """A derived (``cm_``) column of the judged row."""
    return f"{RAW_ALIAS}.{quote_ident(column)}"


def local_month_sql(timestamp_sql: str, timezone: str) -> str:
    """The first day of a TIMESTAMPTZ's month on the jurisdiction's clock."""
    return f"CAST(date_trunc('month', timezone({sql_literal(timezone)}, {timestamp_sql})) AS DATE)"


def rule(code: str, predicate: str, description: str, *columns: str) -> RowRule:
    return RowRule(
        code=code, predicate_sql=f"({predicate})", description=description, columns=columns
    )


def location_rules(
    boundary_table: str, projected_crs: str, tolerance_m: float
) -> tuple[RowRule, ...]:
    """Missing, (0, 0) and out-of-jurisdiction points, over the ``cm_`` columns of
    ``crimemap.ingestion.points.conformed_point_sql``."""
    return (
        rule(
            "coordinates_missing",
            f"{derived('cm_longitude')} IS NULL AND NOT {derived('cm_location_zero')}",
            "no location column parses as a point",
            "cm_longitude",
            "cm_location_zero",
        ),
        rule(
            "coordinates_zero",
            derived("cm_location_zero"),
            "location is (0, 0), the portal placeholder for no location",
            "cm_location_zero",
        ),
        out_of_jurisdiction(
            "cm_longitude", "cm_latitude", boundary_table, tolerance_m, projected_crs=projected_crs
        ),
    )


def event_date_rules(
    settings: EventRuleSettings, column: str, published: str, formats: tuple[str, ...]
) -> tuple[RowRule, ...]:
    """Unparseable, placeholder and future dates of the derived TIMESTAMPTZ ``column``, read from
    the ``published`` column in ``formats``; a placeholder is judged on the local day."""
    value = derived(column)
    local_day = f"CAST(timezone({sql_literal(settings.timezone)}, {value}) AS DATE)"
    return (
        replace(
            rule(
                "date_unparseable",
                f"{value} IS NULL",
                f"{published} blank or not in {list(formats)}",
                column,
            ),
            field=published,
        ),
        replace(
            rule(
                "date_placeholder",
                f"{local_day} < DATE {sql_literal(settings.min_valid_date)}",
                f"{published} before {settings.min_valid_date} (a placeholder date)",
                column,
            ),
            field=published,
        ),
        replace(
            rule(
                "date_future",
                f"{value} > ({settings.now_sql})",
                f"{published} after {settings.now_sql}",
                column,
            ),
            field=published,
        ),
    )


def raw_columns_of(con: duckdb.DuckDBPyConnection, raw_parquet: Path) -> tuple[str, ...]:
    """The published columns of a landing file (lineage columns left out)."""
    rel = con.execute(f"SELECT * FROM read_parquet({sql_literal(str(raw_parquet))}) LIMIT 0")
    return tuple(c[0] for c in rel.description if not c[0].startswith("_"))


def check_read_columns(
    what: str,
    read_columns: tuple[str, ...],
    present: tuple[str, ...],
    *,
    where: str,
    published: tuple[str, ...] = (),
) -> None:
    """Schema drift stops the source with the names that moved, before any row is judged.

    ``what`` names the mapping ("the lapd layout"); ``published`` is the header it expects, if
    it declares one, so unexpected columns can be named too."""
    missing = [c for c in read_columns if c not in present]
    if missing:
        unexpected = [c for c in present if published and c not in published]
        raise ValueError(
            f"{where}: columns {what} reads are missing: {missing}"
            + (f"; unexpected columns: {unexpected}" if unexpected else "")
        )


# --- reference tables the rules read -----------------------------------------------------------


def load_areas(
    con: duckdb.DuckDBPyConnection, conformed_areas: Path, *, table: str = "jurisdiction_areas"
) -> str:
    """The conformed areas (``crimemap.quality.boundaries``) as a temp table ``(area_id, geom)``."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quote_ident(table)} AS "
        "SELECT area_id, ST_GeomFromWKB(geom_wkb) AS geom "
        f"FROM read_parquet({sql_literal(str(conformed_areas))})"
    )
    return table


def areas_bbox(conformed_areas: Path) -> BBox:
    """The jurisdiction's extent, from the conformed areas, for coordinate range expectations."""
    with scratch() as con:
        table = load_areas(con, conformed_areas)
        xmin, ymin, xmax, ymax = fetch_one(
            con,
            f"SELECT min(ST_XMin(geom)), min(ST_YMin(geom)), max(ST_XMax(geom)), "
            f"max(ST_YMax(geom)) FROM {table}",
        )
    return BBox(xmin, ymin, xmax, ymax)


# --- the split ---------------------------------------------------------------------------------


def reason_codes_sql(rules: SourceRules) -> str:
    """SQL for the VARCHAR[] of codes a row breaks, in rule order, one entry per code."""
    by_code: dict[str, list[str]] = {}
    for rule in rules.rules:
        by_code.setdefault(rule.code, []).append(f"coalesce({rule.predicate_sql}, false)")
    items = [
        f"CASE WHEN {' OR '.join(preds)} THEN {sql_literal(code)} END"
        for code, preds in by_code.items()
    ]
    if not items:
        return "CAST([] AS VARCHAR[])"
    return f"list_filter(CAST([{', '.join(items)}] AS VARCHAR[]), lambda c: c IS NOT NULL)"


def _with_duplicates_sql(rules: SourceRules, codes: str) -> str:
    """Append ``duplicate_record`` to 2nd+ otherwise-clean rows of a dedupe key."""
    if not rules.dedupe_on:
        return codes
    keys = ", ".join(_text(c) for c in rules.dedupe_on)
    # A row whose key is entirely blank is never a copy (that is ``missing_key``); a content key
    # of many columns may have some blank ones.
    present = "NOT (" + " AND ".join(_blank(c) for c in rules.dedupe_on) + ")"
    rank = (
        f"row_number() OVER (PARTITION BY len({codes}) = 0, {keys} "
        f"ORDER BY {_raw(ROW_NUMBER_COLUMN)})"
    )
    return (
        f"CASE WHEN len({codes}) = 0 AND {present} AND {rank} > 1 "
        f"THEN [{sql_literal(DUPLICATE_RECORD)}] ELSE {codes} END"
    )


def _with_malformed_sql(codes: str) -> str:
    """A record the landing could not read carries ``row_malformed`` alone."""
    return (
        f"CASE WHEN {_raw(MALFORMED_COLUMN)} IS NOT NULL "
        f"THEN [{sql_literal(ROW_MALFORMED)}] ELSE {codes} END"
    )


def _malformed_example(con: duckdb.DuckDBPyConnection, table: str) -> ReasonExample:
    row = con.execute(
        f"SELECT {quote_ident(MALFORMED_COLUMN)} FROM {table} "
        f"WHERE {quote_ident(REASON_COLUMN)} = ? ORDER BY {quote_ident(ROW_NUMBER_COLUMN)} LIMIT 1",
        [ROW_MALFORMED],
    ).fetchone()
    return ReasonExample(f"record not readable as CSV, first: {row[0] if row else '?'}")


def _check_columns(source: str, present: list[str], needed: tuple[str, ...]) -> None:
    missing = [c for c in needed if c not in present]
    if missing:
        raise ValueError(f"{source}: raw file lacks columns the rules read: {missing}")


def _copy_to_parquet(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> None:
    with atomic_output(path) as tmp:
        con.execute(f"COPY ({query}) TO {sql_literal(str(tmp))} (FORMAT parquet, COMPRESSION zstd)")


def split_quarantine(
    con: duckdb.DuckDBPyConnection,
    raw_parquet: Path,
    rules: SourceRules,
    *,
    quarantine_path: Path,
    clean_path: Path | None = None,
    relation_sql: str | None = None,
    clean_select: Callable[[str], str] | None = None,
    derived_prefix: str | None = None,
    profile: LoadProfile | None = None,
) -> SplitResult:
    """Judge every raw row, write rejected rows to ``quarantine_path``, return the counts.

    The quarantine file holds all raw columns (lineage included) plus ``_reason_codes`` and
    ``_reason``, ordered by ``_row_number``; it is written even when empty so readers always
    find a file with the right schema. ``clean_path``, if given, receives the accepted rows with
    the raw columns only. Both are written to a temp file and renamed into place.

    ``relation_sql`` replaces the plain read of ``raw_parquet`` with a query over it that adds
    derived columns for the rules to read (their names start with ``derived_prefix`` and are left
    out of the quarantine file); ``clean_select`` maps the accepted rows' table name to the query
    written to ``clean_path``. ``profile``, if given, receives the split's counts per month.
    """
    raw_parquet, quarantine_path = Path(raw_parquet), Path(quarantine_path)
    source_sql = relation_sql or f"SELECT * FROM read_parquet({sql_literal(str(raw_parquet))})"
    present = [c[0] for c in con.execute(f"SELECT * FROM ({source_sql}) LIMIT 0").description]
    _check_columns(rules.source, present, (*rules.columns, ROW_NUMBER_COLUMN))
    raw_rows = count_parquet_rows(con, raw_parquet)
    codes = reason_codes_sql(rules)
    malformed = [c for c in MALFORMED_COLUMNS if c in present]
    if MALFORMED_COLUMN in malformed:
        codes = _with_malformed_sql(codes)
    table = quote_ident(f"__quality_split_{uuid.uuid4().hex}")
    codes_col, reason_col = quote_ident(REASON_CODES_COLUMN), quote_ident(REASON_COLUMN)
    order = quote_ident(ROW_NUMBER_COLUMN)
    temp_tables = dict(t for rule in rules.rules for t in rule.temp_tables)
    try:
        for name, select_sql in temp_tables.items():
            con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(name)} AS {select_sql}")
        # One scan: the rules (and their spatial join) run once; every output reads the table.
        con.execute(
            f"CREATE TEMP TABLE {table} AS "
            f"WITH judged AS (SELECT *, {codes} AS __codes "
            f"FROM ({source_sql}) AS {RAW_ALIAS}), "
            f"final AS (SELECT * EXCLUDE (__codes), "
            f"{_with_duplicates_sql(rules, '__codes')} AS {codes_col} FROM judged AS {RAW_ALIAS}) "
            f"SELECT *, {codes_col}[1] AS {reason_col} FROM final"
        )
        kept = "*"
        if derived_prefix:
            kept = f"COLUMNS(c -> NOT starts_with(c, {sql_literal(derived_prefix)}))"
        _copy_to_parquet(
            con,
            f"SELECT {kept} FROM {table} WHERE {reason_col} IS NOT NULL ORDER BY {order}",
            quarantine_path,
        )
        if clean_path is not None:
            clean_path = Path(clean_path)
            accepted = quote_ident(f"__quality_accepted_{uuid.uuid4().hex}")
            con.execute(
                f"CREATE TEMP VIEW {accepted} AS SELECT * EXCLUDE "
                f"({', '.join([codes_col, reason_col, *map(quote_ident, malformed)])}) "
                f"FROM {table} WHERE {reason_col} IS NULL"
            )
            try:
                query = (
                    clean_select(accepted)
                    if clean_select
                    else f"SELECT * FROM {accepted} ORDER BY {order}"
                )
                _copy_to_parquet(con, query, clean_path)
            finally:
                con.execute(f"DROP VIEW IF EXISTS {accepted}")
        if profile is not None and profile.path is not None:
            _copy_to_parquet(con, profile_sql(table, rules.source, profile), profile.path)
        by_reason = dict(
            con.execute(
                f"SELECT coalesce({reason_col}, ''), count(*) FROM {table} GROUP BY ALL"
            ).fetchall()
        )
        by_code = dict(
            con.execute(
                f"SELECT code, count(*) FROM (SELECT unnest({codes_col}) AS code FROM {table}) "
                "GROUP BY ALL"
            ).fetchall()
        )
        examples_by_code = reason_examples(con, table, rules, set(by_reason))
        if ROW_MALFORMED in by_reason:
            examples_by_code[ROW_MALFORMED] = _malformed_example(con, table)
    finally:
        for name in (table, *map(quote_ident, temp_tables)):
            con.execute(f"DROP TABLE IF EXISTS {name}")
    clean_rows = by_reason.pop("", 0)
    examples = {code: ex for code, ex in examples_by_code.items() if code in by_reason}
    return SplitResult(
        source=rules.source,
        raw_rows=raw_rows,
        clean_rows=clean_rows,
        quarantined_rows=sum(by_reason.values()),
        by_reason=_in_code_order(by_reason),
        by_code=_in_code_order(by_code),
        quarantine_path=quarantine_path,
        clean_path=clean_path,
        examples=examples,
    )


def reason_examples(
    con: duckdb.DuckDBPyConnection, table: str, rules: SourceRules, reasons: set[str]
) -> dict[str, ReasonExample]:
    """For each of ``reasons`` a rule gives, its description and the first rejected row's value
    of its field."""
    reason = quote_ident(REASON_COLUMN)
    examples: dict[str, ReasonExample] = {}
    for rule in rules.rules:
        if rule.code in examples or rule.code not in reasons:
            continue
        value: str | None = None
        if rule.field is not None:
            row = con.execute(
                f"SELECT CAST({quote_ident(rule.field)} AS VARCHAR) FROM {table} "
                f"WHERE {reason} = ? ORDER BY {quote_ident(ROW_NUMBER_COLUMN)} LIMIT 1",
                [rule.code],
            ).fetchone()
            value = row[0] if row else None
        examples[rule.code] = ReasonExample(rule.description, rule.field, value)
    return examples


def _codes_literal(codes: tuple[str, ...]) -> str:
    return "[" + ", ".join(sql_literal(c) for c in codes) + "]"


def profile_sql(table: str, source: str, profile: LoadProfile) -> str:
    """Counts of a judged table per month: rows in, accepted, quarantined, complete, located,
    and rows carrying each reason code (a row counts under every code it carries)."""
    codes = quote_ident(REASON_CODES_COLUMN)
    reason = quote_ident(REASON_COLUMN)

    def carrying(names: tuple[str, ...]) -> str:
        return f"list_has_any({codes}, {_codes_literal(names)})"

    month = "CAST(NULL AS DATE)"
    if profile.month_sql is not None:
        month = f"CASE WHEN NOT {carrying(DATE_CODES)} THEN CAST({profile.month_sql} AS DATE) END"
    located = (
        f"count(*) FILTER (WHERE NOT {carrying(NO_POINT_CODES)})"
        if profile.located
        else "CAST(NULL AS BIGINT)"
    )
    per_code = ", ".join(
        f"count(*) FILTER (WHERE list_contains({codes}, {sql_literal(code)})) "
        f"AS {quote_ident(code + '_rows')}"
        for code in REASON_CODES
    )
    return (
        f"SELECT {sql_literal(source)} AS source, {sql_literal(profile.family)} AS family, "
        f"{month} AS month, count(*) AS raw_rows, "
        f"count(*) FILTER (WHERE {reason} IS NULL) AS accepted_rows, "
        f"count(*) FILTER (WHERE {reason} IS NOT NULL) AS quarantined_rows, "
        f"count(*) FILTER (WHERE NOT {carrying(MISSING_VALUE_CODES)}) AS complete_rows, "
        f"{located} AS located_rows, {per_code} "
        f"FROM {table} AS {RAW_ALIAS} GROUP BY ALL ORDER BY month NULLS LAST"
    )


def _in_code_order(counts: dict[str, int]) -> dict[str, int]:
    rank = {code: i for i, code in enumerate(REASON_CODES)}
    return dict(sorted(counts.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))

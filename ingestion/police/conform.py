"""SQL that reads a police landing (every column a string) through its layout.

``conformed_columns_sql`` adds, to each published row, the canonical values the layout maps:
ids, time-zone-aware occurred/reported times, normalized offense codes, a WGS84 point. The new
columns carry the ``cm_`` prefix so they never collide with a publisher's own names (DuckDB
names are case-insensitive: "Latitude" and "latitude" are one column). Quality rules judge these
columns; ``offense_rows_sql`` then turns accepted rows into one row per offense.

Everything is ``TRY_``-parsed: a bad value becomes NULL for a rule to report, never an error.
The SQL needs DuckDB's spatial extension only for ``projected``, ``wkt``, ``wkb_hex`` and
``geojson`` locations.
"""

from __future__ import annotations

from ingestion.police.layout import HHMM, DateTimeField, LocationField, PoliceLayout
from ingestion.sql import quote_ident, sql_literal

WGS84 = "EPSG:4326"
RAW_RECORD = "raw_record"
# Offense codes of one row, as written and normalized, position-aligned with offense_seq.
CONFORMED_COLUMNS: tuple[str, ...] = (
    "cm_record_id",
    "cm_report_number",
    "cm_occurred_at",
    "cm_occurred_raw",
    "cm_reported_at",
    "cm_reported_raw",
    "cm_offense_codes_raw",
    "cm_offense_codes",
    "cm_offense_desc",
    "cm_block_address",
    "cm_longitude",
    "cm_latitude",
    "cm_location_zero",
    "cm_location_source",
    "cm_location_raw",
)


def _col(name: str, alias: str) -> str:
    return f"{alias}.{quote_ident(name)}"


def _text(name: str, alias: str) -> str:
    """Trimmed text, NULL when blank."""
    return f"NULLIF(trim(CAST({_col(name, alias)} AS VARCHAR)), '')"


def _formats_list(formats: tuple[str, ...]) -> str:
    return "[" + ", ".join(sql_literal(f) for f in formats) + "]"


def _values_list(values: tuple[str, ...]) -> str:
    return ", ".join(sql_literal(v) for v in values)


def _naive_and_aware(formats: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    aware = tuple(f for f in formats if "%z" in f or "%Z" in f)
    return tuple(f for f in formats if f not in aware), aware


def _time_of_day(field: DateTimeField, alias: str) -> str:
    """INTERVAL since midnight from the time column (NULL when blank or unparseable)."""
    assert field.time_column is not None
    value = _text(field.time_column, alias)
    options = []
    for fmt in field.time_formats:
        if fmt == HHMM:
            # "5" is 00:05, "45" is 00:45, "1230" is 12:30: a 24-hour clock without padding.
            padded = f"lpad({value}, 4, '0')"
            options.append(
                f"CASE WHEN regexp_full_match({value}, '[0-9]{{1,4}}') "
                f"AND CAST(left({padded}, 2) AS INTEGER) < 24 "
                f"AND CAST(right({padded}, 2) AS INTEGER) < 60 "
                f"THEN to_minutes(CAST(left({padded}, 2) AS INTEGER) * 60 "
                f"+ CAST(right({padded}, 2) AS INTEGER)) END"
            )
        else:
            options.append(
                f"(try_strptime('1970-01-01 ' || {value}, {sql_literal('%Y-%m-%d ' + fmt)}) "
                "- TIMESTAMP '1970-01-01')"
            )
    return f"coalesce({', '.join(options)})"


def timestamp_sql(field: DateTimeField, timezone: str, alias: str) -> str:
    """TIMESTAMPTZ of a layout date-time: offsets as written, else wall-clock in ``timezone``.

    With a separate time column the date column's own time part is ignored (LAPD writes a fake
    midnight there); a blank time column leaves the date's midnight.
    """
    value = _text(field.column, alias)
    naive, aware = _naive_and_aware(field.formats)
    local = f"try_strptime({value}, {_formats_list(naive)})" if naive else "NULL::TIMESTAMP"
    if field.time_column is not None:
        time_of_day = f"coalesce({_time_of_day(field, alias)}, INTERVAL 0 MINUTE)"
        local = f"(date_trunc('day', {local}) + {time_of_day})"
    zoned = f"timezone({sql_literal(timezone)}, {local})"
    if aware:
        return f"coalesce(try_strptime({value}, {_formats_list(aware)}), {zoned})"
    return zoned


def _raw_datetime_text(field: DateTimeField, alias: str) -> str:
    if field.time_column is None:
        return f"CAST({_col(field.column, alias)} AS VARCHAR)"
    return (
        f"concat_ws(' ', CAST({_col(field.column, alias)} AS VARCHAR), "
        f"CAST({_col(field.time_column, alias)} AS VARCHAR))"
    )


def _offense_code(name: str, width: int | None, alias: str) -> str:
    code = f"upper({_text(name, alias)})"
    if width is None:
        return code
    # "486" and "0486" are one IUCR code: pad short codes, never truncate long ones.
    return f"CASE WHEN length({code}) < {width} THEN lpad({code}, {width}, '0') ELSE {code} END"


def _number(sql: str) -> str:
    return f"TRY_CAST({sql} AS DOUBLE)"


def _location_xy(loc: LocationField, alias: str) -> tuple[str, str]:
    """(x, y) of one location alternative in its own CRS, NULL when it does not parse."""
    if loc.kind in ("lonlat", "projected"):
        return _number(_text(loc.columns[0], alias)), _number(_text(loc.columns[1], alias))
    value = _text(loc.columns[0], alias)
    if loc.kind == "point_text":
        number = r"([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)"
        pattern = rf"^\(?\s*{number}\s*[, ]\s*{number}\s*\)?$"
        first = _number(f"regexp_extract({value}, {sql_literal(pattern)}, 1)")
        second = _number(f"regexp_extract({value}, {sql_literal(pattern)}, 2)")
        return (second, first) if loc.order == "latlon" else (first, second)
    parse = {
        "wkt": "ST_GeomFromText",
        "wkb_hex": "ST_GeomFromHEXWKB",
        "geojson": "ST_GeomFromGeoJSON",
    }[loc.kind]
    geom = f"TRY({parse}({value}))"
    point = (
        f"(CASE WHEN ST_GeometryType({geom}) = 'POINT' AND NOT ST_IsEmpty({geom}) THEN {geom} END)"
    )
    return f"ST_X({point})", f"ST_Y({point})"


def _location_raw(loc: LocationField, alias: str) -> str:
    return (
        "concat_ws(', ', "
        + ", ".join(f"CAST({_col(c, alias)} AS VARCHAR)" for c in loc.columns)
        + ")"
    )


def conformed_columns_sql(
    layout: PoliceLayout, raw_relation: str, timezone: str, *, alias: str = "__src"
) -> str:
    """``SELECT`` of every raw column plus the ``cm_`` columns, one row per published row."""
    loc_parts = []
    for i, loc in enumerate(layout.location):
        x, y = _location_xy(loc, alias)
        loc_parts.append(f"{x} AS __loc{i}_x, {y} AS __loc{i}_y")
    codes_raw = (
        "[" + ", ".join(f"CAST({_col(c, alias)} AS VARCHAR)" for c in layout.offense_codes) + "]"
    )
    codes = (
        "["
        + ", ".join(
            _offense_code(c, layout.offense_code_width, alias) for c in layout.offense_codes
        )
        + "]"
    )
    reported = (
        (
            timestamp_sql(layout.reported, timezone, alias),
            _raw_datetime_text(layout.reported, alias),
        )
        if layout.reported
        else ("NULL::TIMESTAMPTZ", "NULL::VARCHAR")
    )
    optional = {
        "cm_record_id": _text(layout.record_id, alias) if layout.record_id else "NULL::VARCHAR",
        "cm_report_number": (
            _text(layout.report_number, alias) if layout.report_number else "NULL::VARCHAR"
        ),
        "cm_offense_desc": (
            _text(layout.offense_description, alias)
            if layout.offense_description
            else "NULL::VARCHAR"
        ),
        "cm_block_address": (
            f"regexp_replace({_text(layout.block_address, alias)}, '\\s+', ' ', 'g')"
            if layout.block_address
            else "NULL::VARCHAR"
        ),
    }
    flags = [
        f"lower({_text(flag.column, alias)}) IN ({_values_list(flag.true_values)}) "
        f"AS cm_flag_{name}"
        for name, flag in layout.flags.items()
    ]
    stage1 = ",\n    ".join(
        [
            f"{alias}.*",
            *(f"{sql} AS {name}" for name, sql in optional.items()),
            f"{timestamp_sql(layout.occurred, timezone, alias)} AS cm_occurred_at",
            f"{_raw_datetime_text(layout.occurred, alias)} AS cm_occurred_raw",
            f"{reported[0]} AS cm_reported_at",
            f"{reported[1]} AS cm_reported_raw",
            f"{codes_raw} AS __codes_raw",
            f"{codes} AS __codes",
            *loc_parts,
            *(
                f"{_location_raw(loc, alias)} AS __loc{i}_raw"
                for i, loc in enumerate(layout.location)
            ),
            *flags,
        ]
    )
    # Stage 2: each alternative to WGS84 lon/lat; (0, 0) is a placeholder, not a place.
    stage2 = []
    usable, zero = [], []
    for i, loc in enumerate(layout.location):
        ok = f"(isfinite(__loc{i}_x) AND isfinite(__loc{i}_y))"
        is_zero = f"({ok} AND __loc{i}_x = 0 AND __loc{i}_y = 0)"
        usable.append(f"coalesce({ok} AND NOT {is_zero}, false)")
        zero.append(f"coalesce({is_zero}, false)")
        if loc.crs.upper() in (WGS84, "OGC:CRS84"):
            stage2.append(f"__loc{i}_x AS __loc{i}_lon, __loc{i}_y AS __loc{i}_lat")
        else:
            geom = (
                f"(CASE WHEN {usable[-1]} THEN ST_Transform(ST_Point(__loc{i}_x, __loc{i}_y), "
                f"{sql_literal(loc.crs)}, {sql_literal(WGS84)}, always_xy := true) END)"
            )
            stage2.append(f"ST_X({geom}) AS __loc{i}_lon, ST_Y({geom}) AS __loc{i}_lat")

    def first_usable(values: list[str]) -> str:
        branches = " ".join(f"WHEN {u} THEN {v}" for u, v in zip(usable, values, strict=True))
        return f"CASE {branches} END"

    n = len(layout.location)
    kinds = [sql_literal(loc.kind) for loc in layout.location]
    helper_columns = ", ".join(
        ["__codes_raw", "__codes"]
        + [f"__loc{i}_{p}" for i in range(n) for p in ("x", "y", "raw", "lon", "lat")]
    )
    return f"""
WITH __stage1 AS (
    SELECT
    {stage1}
    FROM {raw_relation} AS {alias}
),
__stage2 AS (
    SELECT *, {", ".join(stage2)} FROM __stage1
)
SELECT
    * EXCLUDE ({helper_columns}),
    __codes_raw AS cm_offense_codes_raw,
    __codes AS cm_offense_codes,
    {first_usable([f"__loc{i}_lon" for i in range(n)])} AS cm_longitude,
    {first_usable([f"__loc{i}_lat" for i in range(n)])} AS cm_latitude,
    (NOT ({" OR ".join(usable)}) AND ({" OR ".join(zero)})) AS cm_location_zero,
    {first_usable(kinds)} AS cm_location_source,
    coalesce({first_usable([f"__loc{i}_raw" for i in range(n)])}, __loc0_raw) AS cm_location_raw
FROM __stage2
"""


SOURCE_FLAG_COLUMNS: tuple[str, ...] = tuple(
    f"source_{name}"
    for name in (
        "domestic_violence",
        "juvenile_involved",
        "mental_health_related",
        "substance_related",
    )
)


def raw_record_sql(raw_columns: tuple[str, ...], alias: str) -> str:
    """The published row as one JSON object, so every raw value travels with the offense."""
    pairs = ", ".join(f"{sql_literal(c)}: {_col(c, alias)}" for c in raw_columns)
    return f"CAST(to_json({{{pairs}}}) AS VARCHAR)"


def offense_rows_sql(
    layout: PoliceLayout,
    source: str,
    accepted_relation: str,
    raw_columns: tuple[str, ...],
    *,
    alias: str = "__acc",
) -> str:
    """One row per offense of each accepted row (``conformed_columns_sql`` output).

    Publishers with several code columns (LAPD) give one offense per non-blank code; the
    description belongs to the first. ``offense_index`` is the position in the row.
    """
    flags = {f"source_{name}": f"{alias}.cm_flag_{name}" for name in layout.flags}
    flag_columns = ", ".join(
        f"{flags.get(column, 'NULL::BOOLEAN')} AS {column}" for column in SOURCE_FLAG_COLUMNS
    )
    return f"""
SELECT
    {sql_literal(source)} AS source,
    {sql_literal(layout.agency)} AS agency,
    {sql_literal(layout.name)} AS layout,
    {sql_literal(layout.crosswalk)} AS crosswalk,
    {alias}.cm_record_id AS record_id,
    {alias}.cm_report_number AS report_number,
    CAST(__offense.i AS INTEGER) AS offense_index,
    {alias}.cm_offense_codes[__offense.i] AS offense_code,
    {alias}.cm_offense_codes_raw[__offense.i] AS offense_code_raw,
    CASE WHEN __offense.i = 1 THEN {alias}.cm_offense_desc END AS offense_desc_raw,
    {alias}.cm_occurred_at AS occurred_at,
    {alias}.cm_occurred_raw AS occurred_raw,
    {alias}.cm_reported_at AS reported_at,
    {alias}.cm_reported_raw AS reported_raw,
    {alias}.cm_block_address AS block_address,
    {alias}.cm_longitude AS longitude,
    {alias}.cm_latitude AS latitude,
    {alias}.cm_location_source AS location_source,
    {alias}.cm_location_raw AS location_raw,
    {flag_columns},
    {raw_record_sql(raw_columns, alias)} AS {RAW_RECORD},
    {alias}._source_file,
    {alias}._row_number,
    {alias}._ingested_at,
    {alias}._load_id
FROM {accepted_relation} AS {alias},
    unnest(generate_series(1, len({alias}.cm_offense_codes))) AS __offense(i)
WHERE {alias}.cm_offense_codes[__offense.i] IS NOT NULL
"""

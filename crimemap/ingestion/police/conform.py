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

from crimemap.core.sql import sql_literal
from crimemap.ingestion.points import collapsed_text_sql, column_sql, conformed_point_sql, text_sql
from crimemap.ingestion.police.layout import HHMM, DateTimeField, PoliceLayout

RAW_RECORD = "raw_record"


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
    value = text_sql(field.time_column, alias)
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
    value = text_sql(field.column, alias)
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
        return f"CAST({column_sql(field.column, alias)} AS VARCHAR)"
    return (
        f"concat_ws(' ', CAST({column_sql(field.column, alias)} AS VARCHAR), "
        f"CAST({column_sql(field.time_column, alias)} AS VARCHAR))"
    )


def _offense_code(name: str, width: int | None, alias: str) -> str:
    code = f"upper({text_sql(name, alias)})"
    if width is None:
        return code
    # "486" and "0486" are one IUCR code: pad short codes, never truncate long ones.
    return f"CASE WHEN length({code}) < {width} THEN lpad({code}, {width}, '0') ELSE {code} END"


def conformed_columns_sql(
    layout: PoliceLayout, raw_relation: str, timezone: str, *, alias: str = "__src"
) -> str:
    """``SELECT`` of every raw column plus the ``cm_`` columns, one row per published row."""
    codes_raw = ", ".join(f"CAST({column_sql(c, alias)} AS VARCHAR)" for c in layout.offense_codes)
    codes = ", ".join(
        _offense_code(c, layout.offense_code_width, alias) for c in layout.offense_codes
    )

    def optional(name: str | None) -> str:
        return text_sql(name, alias) if name else "NULL::VARCHAR"

    reported = (
        (
            timestamp_sql(layout.reported, timezone, alias),
            _raw_datetime_text(layout.reported, alias),
        )
        if layout.reported
        else ("NULL::TIMESTAMPTZ", "NULL::VARCHAR")
    )
    block_address = (
        collapsed_text_sql(layout.block_address, alias) if layout.block_address else "NULL::VARCHAR"
    )
    occurred, imputed = timestamp_sql(layout.occurred, timezone, alias), "false"
    if layout.occurred.fallback == "reported":
        # only a blank occurred cell takes the reported time; a written, unreadable one does not
        blank = f"{text_sql(layout.occurred.column, alias)} IS NULL"
        imputed = f"({blank} AND {reported[0]} IS NOT NULL)"
        occurred = f"(CASE WHEN {blank} THEN {reported[0]} ELSE {occurred} END)"
    columns = [
        f"{optional(layout.record_id)} AS cm_record_id",
        f"{optional(layout.report_number)} AS cm_report_number",
        f"{optional(layout.offense_description)} AS cm_offense_desc",
        f"{block_address} AS cm_block_address",
        f"{occurred} AS cm_occurred_at",
        f"{imputed} AS cm_occurred_imputed",
        f"{_raw_datetime_text(layout.occurred, alias)} AS cm_occurred_raw",
        f"{reported[0]} AS cm_reported_at",
        f"{reported[1]} AS cm_reported_raw",
        f"[{codes_raw}] AS cm_offense_codes_raw",
        f"[{codes}] AS cm_offense_codes",
        *(
            f"lower({text_sql(flag.column, alias)}) IN ({_values_list(flag.true_values)}) "
            f"AS cm_flag_{name}"
            for name, flag in layout.flags.items()
        ),
    ]
    return conformed_point_sql(raw_relation, layout.location, columns, alias=alias)


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
    pairs = ", ".join(f"{sql_literal(c)}: {column_sql(c, alias)}" for c in raw_columns)
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
    {alias}.cm_occurred_imputed AS occurred_imputed,
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

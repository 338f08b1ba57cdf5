"""SQL that reads a 311 landing (every column a string) through its layout.

``conformed_columns_sql`` adds the ``cm_`` columns the quality rules judge and the conformed file
is cut from: the request id, type, status, time-zone-aware created/closed times and a WGS84 point.
Date-times and location alternatives are read by the police layout's readers
(``ingestion.police.conform``), so a format or a location kind means the same in both sources.

``conformed_point_sql`` is the point part on its own (location alternatives tried in order, each
moved to WGS84, (0, 0) a placeholder), shared with other point sources such as facilities.
Everything is ``TRY_``-parsed: a bad value becomes NULL for a rule to report, never an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ingestion.police.conform import _location_xy as _police_location_xy
from ingestion.police.conform import timestamp_sql
from ingestion.police.layout import LocationField
from ingestion.service_requests.layout import ServiceRequestLayout
from ingestion.sql import quote_ident, sql_literal

WGS84_NAMES = ("EPSG:4326", "OGC:CRS84")
CONFORMED_COLUMNS: tuple[str, ...] = (
    "cm_request_id",
    "cm_request_type",
    "cm_request_subtype",
    "cm_status",
    "cm_is_closed",
    "cm_created_at",
    "cm_closed_at",
    "cm_address",
    "cm_longitude",
    "cm_latitude",
    "cm_location_zero",
    "cm_location_source",
)


def location_xy(loc: LocationField, alias: str) -> tuple[str, str]:
    """(x, y) SQL of one location alternative in its own CRS, NULL when it does not parse."""
    return _police_location_xy(loc, alias)


def column_sql(name: str, alias: str) -> str:
    return f"{alias}.{quote_ident(name)}"


def text_sql(name: str, alias: str) -> str:
    """Trimmed text, NULL when blank."""
    return f"NULLIF(trim(CAST({column_sql(name, alias)} AS VARCHAR)), '')"


def normalized_label_sql(value_sql: str) -> str:
    """SQL twin of ``layout.normalize_label``: lower case, whitespace runs as one space."""
    return f"lower(trim(regexp_replace(CAST({value_sql} AS VARCHAR), '\\s+', ' ', 'g')))"


def collapsed_text_sql(name: str, alias: str) -> str:
    """Trimmed text with inner whitespace runs as one space (addresses), NULL when blank."""
    return f"regexp_replace({text_sql(name, alias)}, '\\s+', ' ', 'g')"


def conformed_point_sql(
    raw_relation: str,
    locations: Sequence[LocationField],
    columns: Sequence[str],
    *,
    alias: str = "__src",
) -> str:
    """``SELECT`` of every raw column, ``columns`` (``sql AS name`` items reading ``alias``) and
    ``cm_longitude, cm_latitude`` (WGS84, the first usable alternative), ``cm_location_zero``
    (no usable alternative but one reads (0, 0)) and ``cm_location_source`` (the kind used)."""
    if not locations:
        raise ValueError("at least one location alternative is needed")
    stage1, stage2, usable, zero = [], [], [], []
    for i, loc in enumerate(locations):
        x, y = location_xy(loc, alias)
        stage1.append(f"{x} AS __pt{i}_x, {y} AS __pt{i}_y")
        ok = f"(isfinite(__pt{i}_x) AND isfinite(__pt{i}_y))"
        is_zero = f"({ok} AND __pt{i}_x = 0 AND __pt{i}_y = 0)"
        usable.append(f"coalesce({ok} AND NOT {is_zero}, false)")
        zero.append(f"coalesce({is_zero}, false)")
        if loc.crs.upper() in WGS84_NAMES:
            stage2.append(f"__pt{i}_x AS __pt{i}_lon, __pt{i}_y AS __pt{i}_lat")
        else:
            geom = (
                f"(CASE WHEN {usable[-1]} THEN ST_Transform(ST_Point(__pt{i}_x, __pt{i}_y), "
                f"{sql_literal(loc.crs)}, 'EPSG:4326', always_xy := true) END)"
            )
            stage2.append(f"ST_X({geom}) AS __pt{i}_lon, ST_Y({geom}) AS __pt{i}_lat")

    def first_usable(values: list[str]) -> str:
        branches = " ".join(f"WHEN {u} THEN {v}" for u, v in zip(usable, values, strict=True))
        return f"CASE {branches} END"

    n = len(locations)
    helpers = ", ".join(f"__pt{i}_{p}" for i in range(n) for p in ("x", "y", "lon", "lat"))
    selected = ",\n    ".join([f"{alias}.*", *columns, *stage1])
    return f"""
WITH __stage1 AS (
    SELECT
    {selected}
    FROM {raw_relation} AS {alias}
),
__stage2 AS (
    SELECT *, {", ".join(stage2)} FROM __stage1
)
SELECT
    * EXCLUDE ({helpers}),
    {first_usable([f"__pt{i}_lon" for i in range(n)])} AS cm_longitude,
    {first_usable([f"__pt{i}_lat" for i in range(n)])} AS cm_latitude,
    (NOT ({" OR ".join(usable)}) AND ({" OR ".join(zero)})) AS cm_location_zero,
    {first_usable([sql_literal(loc.kind) for loc in locations])} AS cm_location_source
FROM __stage2
"""


def is_closed_sql(layout: ServiceRequestLayout, status_sql: str, closed_at_sql: str) -> str:
    """The status decides; a request without a status is closed when it has a closing time."""
    values = ", ".join(sql_literal(v) for v in layout.closed_values)
    return (
        f"CASE WHEN {status_sql} IS NOT NULL THEN {normalized_label_sql(status_sql)} IN ({values}) "
        f"ELSE {closed_at_sql} IS NOT NULL END"
    )


def conformed_columns_sql(
    layout: ServiceRequestLayout, raw_relation: str, timezone: str, *, alias: str = "__src"
) -> str:
    """``SELECT`` of every raw column plus the ``cm_`` columns, one row per published row.

    Date-times without an offset are wall-clock times in ``timezone`` (DST resolved as zoneinfo
    does); formats with ``%z`` keep the offset as written.
    """

    def optional(name: str | None, render: Callable[[str, str], str] = text_sql) -> str:
        return render(name, alias) if name else "NULL::VARCHAR"

    status = text_sql(layout.status, alias)
    closed_at = (
        timestamp_sql(layout.closed, timezone, alias) if layout.closed else "NULL::TIMESTAMPTZ"
    )
    columns = [
        f"{text_sql(layout.record_id, alias)} AS cm_request_id",
        f"{text_sql(layout.request_type, alias)} AS cm_request_type",
        f"{optional(layout.request_subtype)} AS cm_request_subtype",
        f"{status} AS cm_status",
        f"{is_closed_sql(layout, status, closed_at)} AS cm_is_closed",
        f"{timestamp_sql(layout.created, timezone, alias)} AS cm_created_at",
        f"{closed_at} AS cm_closed_at",
        f"{optional(layout.address, collapsed_text_sql)} AS cm_address",
    ]
    return conformed_point_sql(raw_relation, layout.location, columns, alias=alias)


def request_rows_sql(accepted_relation: str, *, alias: str = "__acc") -> str:
    """Conformed 311 rows (docs/data-contracts.md) of accepted ``conformed_columns_sql`` rows."""
    return f"""
SELECT
    {alias}.cm_request_id AS request_id,
    {alias}.cm_request_type AS request_type,
    {alias}.cm_request_subtype AS request_subtype,
    {alias}.cm_status AS status,
    {alias}.cm_is_closed AS is_closed,
    {alias}.cm_created_at AS created_at,
    {alias}.cm_closed_at AS closed_at,
    {alias}.cm_address AS address,
    {alias}.cm_longitude AS longitude,
    {alias}.cm_latitude AS latitude,
    {alias}._source_file,
    {alias}._row_number,
    {alias}._ingested_at,
    {alias}._load_id
FROM {accepted_relation} AS {alias}
ORDER BY {alias}._row_number
"""

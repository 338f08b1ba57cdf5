"""SQL that reads a published row's text and point fields, for every point source (police
incidents, 311 requests, facilities).

A point may be published several ways (lon/lat, State Plane x/y, "(lat, lon)" text, WKT, hex WKB,
GeoJSON); ``conformed_point_sql`` tries a layout's alternatives in order, moves each to WGS84 and
treats (0, 0) as the portals' placeholder for "no location". Everything is ``TRY_``-parsed: a bad
value becomes NULL for a quality rule to report, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from crimemap.core.sql import quote_ident, sql_literal
from crimemap.ingestion.landing import LINEAGE_COLUMNS
from crimemap.ingestion.police.layout import CONFORMED_PREFIX, LocationField

WGS84 = "EPSG:4326"
WGS84_NAMES = (WGS84, "OGC:CRS84")
# The whitespace class of RE2's \s, so Python and DuckDB normalize a label identically.
_SPACES = re.compile(r"[\t\n\f\r ]+")


def column_sql(name: str, alias: str) -> str:
    return f"{alias}.{quote_ident(name)}"


def text_sql(name: str, alias: str) -> str:
    """Trimmed text, NULL when blank."""
    return f"NULLIF(trim(CAST({column_sql(name, alias)} AS VARCHAR)), '')"


def collapsed_text_sql(name: str, alias: str) -> str:
    """Trimmed text with inner whitespace runs as one space (addresses), NULL when blank."""
    return f"regexp_replace({text_sql(name, alias)}, '\\s+', ' ', 'g')"


def normalize_label(text: str) -> str:
    """Lower case, runs of whitespace as one space, no leading or trailing space."""
    return _SPACES.sub(" ", text).strip(" ").lower()


def normalized_label_sql(value_sql: str) -> str:
    """SQL twin of ``normalize_label``."""
    return f"lower(trim(regexp_replace(CAST({value_sql} AS VARCHAR), '\\s+', ' ', 'g')))"


def _number(sql: str) -> str:
    return f"TRY_CAST({sql} AS DOUBLE)"


def location_xy(loc: LocationField, alias: str) -> tuple[str, str]:
    """(x, y) of one location alternative in its own CRS, NULL when it does not parse."""
    if loc.kind in ("lonlat", "projected"):
        return _number(text_sql(loc.columns[0], alias)), _number(text_sql(loc.columns[1], alias))
    value = text_sql(loc.columns[0], alias)
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


def location_raw_sql(loc: LocationField, alias: str) -> str:
    """The alternative's published text, its columns joined by ", "."""
    columns = ", ".join(f"CAST({column_sql(c, alias)} AS VARCHAR)" for c in loc.columns)
    return f"concat_ws(', ', {columns})"


def conformed_point_sql(
    raw_relation: str,
    locations: Sequence[LocationField],
    columns: Sequence[str],
    *,
    alias: str = "__src",
) -> str:
    """``SELECT`` of every raw column, ``columns`` (``sql AS name`` items reading ``alias``) and
    ``cm_longitude, cm_latitude`` (WGS84, the first usable alternative), ``cm_location_zero``
    (no usable alternative but one reads (0, 0)), ``cm_location_source`` (the kind used) and
    ``cm_location_raw`` (the text of the alternative used, else of the first)."""
    if not locations:
        raise ValueError("at least one location alternative is needed")
    stage1, stage2, usable, zero = [], [], [], []
    for i, loc in enumerate(locations):
        x, y = location_xy(loc, alias)
        stage1.append(f"{x} AS __pt{i}_x, {y} AS __pt{i}_y")
        stage1.append(f"{location_raw_sql(loc, alias)} AS __pt{i}_raw")
        ok = f"(isfinite(__pt{i}_x) AND isfinite(__pt{i}_y))"
        is_zero = f"({ok} AND __pt{i}_x = 0 AND __pt{i}_y = 0)"
        usable.append(f"coalesce({ok} AND NOT {is_zero}, false)")
        zero.append(f"coalesce({is_zero}, false)")
        if loc.crs.upper() in WGS84_NAMES:
            stage2.append(f"__pt{i}_x AS __pt{i}_lon, __pt{i}_y AS __pt{i}_lat")
        else:
            geom = (
                f"(CASE WHEN {usable[-1]} THEN ST_Transform(ST_Point(__pt{i}_x, __pt{i}_y), "
                f"{sql_literal(loc.crs)}, {sql_literal(WGS84)}, always_xy := true) END)"
            )
            stage2.append(f"ST_X({geom}) AS __pt{i}_lon, ST_Y({geom}) AS __pt{i}_lat")

    # A projected point outside its CRS's domain transforms to infinity: not a location.
    located = [
        f"({u} AND coalesce(isfinite(__pt{i}_lon) AND isfinite(__pt{i}_lat), false))"
        for i, u in enumerate(usable)
    ]

    def first_usable(values: list[str]) -> str:
        branches = " ".join(f"WHEN {u} THEN {v}" for u, v in zip(located, values, strict=True))
        return f"CASE {branches} END"

    n = len(locations)
    helpers = ", ".join(f"__pt{i}_{p}" for i in range(n) for p in ("x", "y", "raw", "lon", "lat"))
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
    (NOT ({" OR ".join(located)}) AND ({" OR ".join(zero)})) AS cm_location_zero,
    {first_usable([sql_literal(loc.kind) for loc in locations])} AS cm_location_source,
    coalesce({first_usable([f"__pt{i}_raw" for i in range(n)])}, __pt0_raw) AS cm_location_raw
FROM __stage2
"""


def conformed_rows_sql(
    accepted_relation: str, names: Sequence[str], *, alias: str = "__acc"
) -> str:
    """The conformed file of accepted rows: each ``cm_<name>`` as ``<name>``, then lineage."""
    selected = [f"{alias}.{CONFORMED_PREFIX}{name} AS {name}" for name in names]
    selected += [f"{alias}.{column}" for column in LINEAGE_COLUMNS]
    return (
        f"SELECT {', '.join(selected)} FROM {accepted_relation} AS {alias} "
        f"ORDER BY {alias}._row_number"
    )

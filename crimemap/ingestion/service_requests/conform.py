"""SQL that reads a 311 landing (every column a string) through its layout.

``conformed_columns_sql`` adds the ``cm_`` columns the quality rules judge and the conformed file
is cut from: the request id, type, status, time-zone-aware created/closed times and a WGS84 point.
Date-times and location alternatives are read by the police layout's readers
(``crimemap.ingestion.police.conform``), so a format or a location kind means the same in both
sources. The point comes from ``crimemap.ingestion.points.conformed_point_sql``, as for every point
source. Everything is ``TRY_``-parsed: a bad value becomes NULL for a rule to report, never an
error.
"""

from __future__ import annotations

from collections.abc import Callable

from crimemap.core.sql import sql_literal
from crimemap.ingestion.landing import LINEAGE_COLUMNS
from crimemap.ingestion.points import (
    collapsed_text_sql,
    conformed_point_sql,
    conformed_rows_sql,
    normalized_label_sql,
    text_sql,
)
from crimemap.ingestion.police.conform import timestamp_sql
from crimemap.ingestion.service_requests.layout import ServiceRequestLayout

CONFORMED_COLUMNS: tuple[str, ...] = (
    "request_id",
    "request_type",
    "request_subtype",
    "status",
    "is_closed",
    "created_at",
    "closed_at",
    "address",
    "longitude",
    "latitude",
    *LINEAGE_COLUMNS,
)


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


def request_rows_sql(accepted_relation: str) -> str:
    """Conformed 311 rows (``CONFORMED_COLUMNS``) of accepted ``conformed_columns_sql`` rows."""
    return conformed_rows_sql(accepted_relation, CONFORMED_COLUMNS[: -len(LINEAGE_COLUMNS)])

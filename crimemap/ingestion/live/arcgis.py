"""ArcGIS REST feature layers (``.../FeatureServer/<n>``), the other common police portal.

The layer's metadata is read first: it gives the field list (for the drift check), which
fields are dates, the object-id field to order pages by, and ``maxRecordCount`` (a server
silently caps each page there, so asking for more would look like the last page).

ArcGIS reports most errors as HTTP 200 with ``{"error": {"code", "message", "details"}}``;
those are retried or raised like the HTTP status their code names.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from crimemap.ingestion.live.http import (
    DEFAULT_POLICY,
    LiveSourceError,
    Log,
    RetryPolicy,
    Sleep,
    get_json,
)
from crimemap.ingestion.live.schema import as_coordinate, as_text, check_fields

logger = logging.getLogger(__name__)

DATE_FIELD_TYPE = "esriFieldTypeDate"
OID_FIELD_TYPE = "esriFieldTypeOID"
DEFAULT_OID_FIELD = "OBJECTID"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Row = dict[str, str | None]


@dataclass(frozen=True)
class ArcGISLayer:
    url: str  # the layer: ".../FeatureServer/0"
    date_field: str
    expected_fields: tuple[str, ...] = ()
    where: str = "1=1"
    out_sr: int = 4326
    page_size: int = 2000


def arcgis_timestamp(value: datetime) -> str:
    """``TIMESTAMP`` literal body. ArcGIS date fields are UTC: aware times are converted,
    naive ones are taken as UTC already."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def arcgis_where(layer: ArcGISLayer, start: datetime | None, end: datetime | None) -> str:
    """The layer's own filter AND the half-open window ``start <= date_field < end``."""
    base = layer.where.strip() or "1=1"
    clauses = [] if base == "1=1" else [f"({base})"]
    if start is not None:
        clauses.append(f"{layer.date_field} >= TIMESTAMP '{arcgis_timestamp(start)}'")
    if end is not None:
        clauses.append(f"{layer.date_field} < TIMESTAMP '{arcgis_timestamp(end)}'")
    return " AND ".join(clauses) or "1=1"


def arcgis_body_error(body: Any) -> tuple[int, str] | None:
    """(code, message) of a 200-with-error body, details appended; ``None`` for data."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    error = body["error"]
    try:
        code = int(error.get("code", 500))
    except (TypeError, ValueError):
        code = 500
    message = str(error.get("message") or "unknown error")
    details = [str(d) for d in error.get("details") or [] if d]
    if details:
        message = f"{message} ({'; '.join(details)})"
    return code, message


def epoch_ms_to_iso(value: Any) -> str | None:
    """Epoch milliseconds (how ArcGIS sends ``esriFieldTypeDate``) as ISO-8601 UTC seconds."""
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        return as_text(value)  # already text on some servers; land it as sent
    instant = _EPOCH + timedelta(milliseconds=value)
    return instant.isoformat(timespec="seconds")


def object_id_field(metadata: dict[str, Any]) -> str:
    if metadata.get("objectIdField"):
        return str(metadata["objectIdField"])
    for field in metadata.get("fields") or []:
        if field.get("type") == OID_FIELD_TYPE:
            return str(field["name"])
    return DEFAULT_OID_FIELD


def effective_page_size(requested: int, metadata: dict[str, Any]) -> int:
    max_records = metadata.get("maxRecordCount")
    if isinstance(max_records, int) and max_records > 0:
        return min(requested, max_records)
    return requested


def feature_row(feature: dict[str, Any], date_fields: frozenset[str]) -> Row:
    """Attributes as text (dates as ISO UTC), plus ``geometry_x``/``geometry_y`` for points."""
    attributes = feature.get("attributes") or {}
    row: Row = {
        name: epoch_ms_to_iso(value) if name in date_fields else as_text(value)
        for name, value in attributes.items()
    }
    geometry = feature.get("geometry")
    if isinstance(geometry, dict) and "x" in geometry:
        row["geometry_x"] = as_coordinate(geometry.get("x"))
        row["geometry_y"] = as_coordinate(geometry.get("y"))
    return row


def fetch_arcgis(
    layer: ArcGISLayer,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Sleep = time.sleep,
    log: Log | None = None,
) -> Iterator[list[Row]]:
    """Yield the layer's features in pages of text rows, ordered by object id."""
    emit = log or logger.info
    url = layer.url.rstrip("/")
    name = f"ArcGIS layer {url}"
    metadata, _ = get_json(
        url, {"f": "json"}, None, policy, sleep, log, body_error=arcgis_body_error
    )
    if not isinstance(metadata, dict) or not isinstance(metadata.get("fields"), list):
        raise LiveSourceError(url, "layer metadata has no field list (is this a layer URL?)")
    fields = metadata["fields"]
    check_fields(name, layer.expected_fields, (str(f.get("name")) for f in fields))
    if (metadata.get("advancedQueryCapabilities") or {}).get("supportsPagination") is False:
        raise LiveSourceError(url, "layer does not support resultOffset paging")
    date_fields = frozenset(str(f["name"]) for f in fields if f.get("type") == DATE_FIELD_TYPE)
    page_size = effective_page_size(layer.page_size, metadata)
    base_params = {
        "where": arcgis_where(layer, start, end),
        "outFields": "*",
        "outSR": str(layer.out_sr),
        "orderByFields": object_id_field(metadata),
        "returnGeometry": "true",
        "f": "json",
    }
    offset = 0
    while True:
        params = {
            **base_params,
            "resultOffset": str(offset),
            "resultRecordCount": str(page_size),
        }
        body, _ = get_json(
            f"{url}/query", params, None, policy, sleep, log, body_error=arcgis_body_error
        )
        features = body.get("features") if isinstance(body, dict) else None
        if not isinstance(features, list):
            raise LiveSourceError(f"{url}/query", "response has no feature list")
        offset += len(features)
        emit(f"{name}: {offset} features so far")
        if features:
            yield [feature_row(feature, date_fields) for feature in features]
        exceeded = body.get("exceededTransferLimit")
        more = exceeded is True if exceeded is not None else len(features) >= page_size
        if not more or not features:
            return

"""Field-set checks and value rendering shared by the live sources.

Live rows land the way files do (see ``crimemap.ingestion.landing``): every value a string, nothing
parsed, so quality rules see what the publisher sent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from crimemap.ingestion.live.http import SchemaDriftError


def as_text(value: Any) -> str | None:
    """A JSON value as landed text: null stays ``None``, booleans as JSON spells them, nested
    objects and arrays (Socrata location/point columns) as compact JSON."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def as_coordinate(value: Any) -> str | None:
    """A coordinate as text; ArcGIS marks an empty point with ``"NaN"``, which lands as null."""
    if value is None or value == "NaN" or (isinstance(value, float) and math.isnan(value)):
        return None
    return as_text(value)


def is_system_field(name: str) -> bool:
    """Socrata system and computed-region fields (``:id``, ``:@computed_region_...``)."""
    return name.startswith(":")


def field_drift(
    expected: Iterable[str], actual: Iterable[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(expected fields not served, served fields not expected), sorted; system fields ignored."""
    want = {name for name in expected if not is_system_field(name)}
    have = {name for name in actual if not is_system_field(name)}
    return tuple(sorted(want - have)), tuple(sorted(have - want))


def check_fields(dataset: str, expected: tuple[str, ...], served: Iterable[str]) -> None:
    """Raise ``SchemaDriftError`` if an expected field is no longer served.

    Only a complete field list (Socrata's ``X-SODA2-Fields``, ArcGIS layer metadata) can show
    a field missing. New fields alone are not drift: publishers add columns, and landing keeps
    whatever is served.
    """
    if not expected:
        return
    missing, unexpected = field_drift(expected, served)
    if missing:
        raise SchemaDriftError(dataset, missing, unexpected)


def check_row_keys(dataset: str, expected: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> None:
    """Raise ``SchemaDriftError`` if rows carry keys outside ``expected``.

    Used when no complete field list is available: rows omit null fields, so a missing key
    proves nothing, but an unknown key is a field the pipeline has never seen.
    """
    if not expected:
        return
    keys = {key for row in rows for key in row}
    _, unexpected = field_drift(expected, keys)
    if unexpected:
        raise SchemaDriftError(dataset, (), unexpected)

"""311 service-request layouts: how one publisher's columns map onto the canonical request.

Like the police layouts (``crimemap.ingestion.police.layout``), a layout is data: the built-in ones
ship as YAML next to this module (``layouts/<name>.yml``) and a jurisdiction with another publisher
declares the same mapping inline. Both go through ``parse_service_request_layout``, and the
date-time, location and ``live`` keys are parsed by the police parsers, so they read exactly as
they do in a police layout.

Mapping keys:

- ``columns``: the published header, used to detect schema drift (optional);
- ``record_id``: the request's id (required, the dedupe key);
- ``created``: ``{column, formats}`` (required); ``closed``: the same (optional);
- ``status`` (required) and ``closed_values``: the status texts that mean closed, compared
  case- and space-insensitively (default ``["closed"]``);
- ``request_type`` (required), ``request_subtype``, ``address``: columns;
- ``location``: alternatives tried in order, the kinds of a police layout;
- ``live``: the Socrata API (``base_url``, ``dataset_id``, ``date_field``, ``fields``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from crimemap.ingestion.points import normalize_label
from crimemap.ingestion.police.layout import (
    DateTimeField,
    LayoutError,
    LiveSpec,
    LocationField,
    check_column_names,
    optional_column,
    parse_datetime_field,
    parse_live,
    parse_locations,
    require_key,
    required_column,
)

LAYOUTS_DIR = Path(__file__).with_name("layouts")
DEFAULT_CLOSED_VALUES: tuple[str, ...] = ("closed",)
LIVE_KINDS = ("socrata",)


@dataclass(frozen=True)
class ServiceRequestLayout:
    name: str
    record_id: str
    created: DateTimeField
    status: str
    request_type: str
    location: tuple[LocationField, ...]
    closed: DateTimeField | None = None
    closed_values: tuple[str, ...] = DEFAULT_CLOSED_VALUES
    request_subtype: str | None = None
    address: str | None = None
    columns: tuple[str, ...] = ()
    live: LiveSpec | None = None
    description: str = ""

    @property
    def read_columns(self) -> tuple[str, ...]:
        """Every published column the mapping reads (ordered, no repeats)."""
        names: list[str] = [self.record_id, *self.created.columns]
        if self.closed:
            names += self.closed.columns
        names += [self.status, self.request_type]
        names += [c for c in (self.request_subtype, self.address) if c]
        for loc in self.location:
            names += loc.columns
        return tuple(dict.fromkeys(names))


def _closed_values(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_CLOSED_VALUES
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        raise LayoutError(f"{where}: expected a status text or a list of them, got {value!r}")
    normalized = tuple(dict.fromkeys(normalize_label(v) for v in items))
    if "" in normalized:
        raise LayoutError(f"{where}: a closed status cannot be blank")
    return normalized


def _live(value: Any, where: str) -> LiveSpec | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise LayoutError(f"{where}: expected a mapping, got {value!r}")
    kind = value.get("kind")
    if kind not in LIVE_KINDS:
        raise LayoutError(f"{where}.kind: must be one of {', '.join(LIVE_KINDS)}, not {kind!r}")
    for key in ("dataset_id", "date_field"):
        require_key(value, key, where)
    fields = value.get("fields") or {}
    if not isinstance(fields, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
    ):
        raise LayoutError(f"{where}.fields: expected a mapping of API field -> export column")
    return parse_live(value, where)


def parse_service_request_layout(
    mapping: Mapping[str, Any], *, name: str, where: str
) -> ServiceRequestLayout:
    """Build a layout from its YAML mapping; ``where`` names the file (and key) for errors."""
    if not isinstance(mapping, Mapping):
        raise LayoutError(f"{where}: a layout must be a mapping, got {type(mapping).__name__}")
    closed = mapping.get("closed")
    columns = mapping.get("columns") or ()
    if not isinstance(columns, list | tuple) or not all(isinstance(c, str) for c in columns):
        raise LayoutError(f"{where}.columns: expected a list of column names")
    layout = ServiceRequestLayout(
        name=name,
        description=str(mapping.get("description", "")).strip(),
        columns=tuple(columns),
        record_id=required_column(mapping, "record_id", where),
        created=parse_datetime_field(require_key(mapping, "created", where), f"{where}.created"),
        closed=parse_datetime_field(closed, f"{where}.closed") if closed else None,
        status=required_column(mapping, "status", where),
        closed_values=_closed_values(mapping.get("closed_values"), f"{where}.closed_values"),
        request_type=required_column(mapping, "request_type", where),
        request_subtype=optional_column(mapping, "request_subtype", where),
        address=optional_column(mapping, "address", where),
        location=parse_locations(mapping.get("location"), where),
        live=_live(mapping.get("live"), f"{where}.live"),
    )
    check_column_names(layout.columns, layout.read_columns, where)
    return layout


def builtin_layout_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in LAYOUTS_DIR.glob("*.yml")))


@cache
def builtin_service_request_layout(name: str) -> ServiceRequestLayout:
    """One of the 311 layouts crimemap ships (``builtin_layout_names()``)."""
    path = LAYOUTS_DIR / f"{name}.yml"
    if not path.is_file():
        raise LayoutError(
            f"no built-in service request layout {name!r}; known: "
            f"{', '.join(builtin_layout_names())}. Declare a custom one with a mapping instead."
        )
    with path.open(encoding="utf-8") as f:
        return parse_service_request_layout(yaml.safe_load(f), name=name, where=path.name)


def service_request_layout(
    spec: str | Mapping[str, Any], *, name: str, where: str
) -> ServiceRequestLayout:
    """A built-in layout by name, or a jurisdiction's own mapping."""
    if isinstance(spec, str):
        return builtin_service_request_layout(spec)
    return parse_service_request_layout(spec, name=name, where=where)

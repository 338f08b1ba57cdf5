"""Police source layouts: how one publisher's columns map onto the canonical incident model.

A layout is data, not code. The six layouts of the five publishers crimemap knows by name ship
as YAML files next to this module (``layouts/<name>.yml``); a city with no built-in layout
declares the same mapping inline in its jurisdiction YAML. Both go through ``parse_layout``, so a
custom city is ingested by exactly the code path the built-in publishers use.

Mapping keys (see README "Onboarding a new city" for a complete example):

- ``columns``: the published header, used to detect schema drift (optional);
- ``record_id`` / ``report_number``: the per-row id and the incident id (both optional: without a
  ``report_number`` every row is its own incident; without a ``record_id`` a row is identified by
  its content);
- ``occurred`` / ``reported``: ``{column, formats}`` with strptime formats tried in order; a format
  with ``%z`` carries its own offset, the others are wall-clock times in the jurisdiction's zone;
  optional ``time_column`` + ``time_formats`` when the time sits in its own column (``hhmm`` is
  an unpadded 24-hour clock such as LAPD's ``TIME OCC`` = "5" for 00:05);
- ``offense_codes``: one column, or several (LAPD ``Crm Cd`` .. ``Crm Cd 4``) for one offense
  each; ``offense_code_width`` zero-pads shorter codes ("486" -> "0486");
- ``offense_description``, ``block_address``: columns;
- ``location``: alternatives tried in order, each one of ``lonlat`` (``lon``, ``lat``),
  ``projected`` (``x``, ``y``, ``crs``), ``point_text`` ("(lat, lon)" string, ``column``, optional
  ``order: lonlat``), ``wkt``, ``wkb_hex`` or ``geojson`` (``column``, optional ``crs``);
- ``flags``: source columns that set a social-service flag, e.g. Chicago's ``Domestic``;
- ``live``: the portal API (``socrata`` or ``arcgis``) and its field names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

LAYOUTS_DIR = Path(__file__).with_name("layouts")
CONFORMED_PREFIX = "cm_"
LOCATION_KINDS = ("lonlat", "projected", "point_text", "wkt", "wkb_hex", "geojson")
FLAG_NAMES = (
    "domestic_violence",
    "juvenile_involved",
    "mental_health_related",
    "substance_related",
)
GRAINS = ("offense", "report", "victim")
HHMM = "hhmm"


class LayoutError(ValueError):
    """A layout mapping that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class DateTimeField:
    column: str
    formats: tuple[str, ...]
    time_column: str | None = None
    time_formats: tuple[str, ...] = ()
    # occurred only: "reported" takes the reported date-time where the occurred cell is blank
    # (the offense is flagged occurred_imputed); a cell that is written but unreadable is not
    # replaced: it is quarantined as date_unparseable.
    fallback: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,) if self.time_column is None else (self.column, self.time_column)


@dataclass(frozen=True)
class LocationField:
    kind: str
    columns: tuple[str, ...]  # lonlat: (lon, lat); projected: (x, y); the others: (column,)
    crs: str = "EPSG:4326"
    order: str = "latlon"  # point_text only


@dataclass(frozen=True)
class FlagColumn:
    column: str
    true_values: tuple[str, ...] = ("true", "y", "yes", "1")


@dataclass(frozen=True)
class LiveSpec:
    kind: str  # socrata | arcgis
    options: Mapping[str, Any]
    fields: Mapping[str, str]  # API field name -> published export column


@dataclass(frozen=True)
class PoliceLayout:
    name: str
    agency: str
    crosswalk: str
    occurred: DateTimeField
    offense_codes: tuple[str, ...]
    columns: tuple[str, ...] = ()
    grain: str = "offense"
    record_id: str | None = None
    report_number: str | None = None
    reported: DateTimeField | None = None
    offense_code_width: int | None = None
    offense_description: str | None = None
    block_address: str | None = None
    location: tuple[LocationField, ...] = ()
    flags: Mapping[str, FlagColumn] = field(default_factory=dict)
    live: LiveSpec | None = None
    description: str = ""

    @property
    def read_columns(self) -> tuple[str, ...]:
        """Every published column the mapping reads (ordered, no repeats)."""
        names: list[str] = [c for c in (self.record_id, self.report_number) if c]
        names += self.occurred.columns
        if self.reported:
            names += self.reported.columns
        names += self.offense_codes
        names += [c for c in (self.offense_description, self.block_address) if c]
        for loc in self.location:
            names += loc.columns
        names += [f.column for f in self.flags.values()]
        return tuple(dict.fromkeys(names))


def require_key(mapping: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in mapping or mapping[key] in (None, "", []):
        raise LayoutError(f"{where}: missing required key {key!r}")
    return mapping[key]


def _strings(value: Any, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list | tuple) else [value]
    if not items or not all(isinstance(v, str) and v for v in items):
        raise LayoutError(f"{where}: expected a column name or a list of them, got {value!r}")
    return tuple(items)


def optional_column(mapping: Mapping[str, Any], key: str, where: str) -> str | None:
    value = mapping.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise LayoutError(f"{where}.{key}: expected a column name, got {value!r}")
    return value


def parse_datetime_field(value: Any, where: str) -> DateTimeField:
    if not isinstance(value, Mapping):
        raise LayoutError(f"{where}: expected {{column, formats}}, got {value!r}")
    time_column = optional_column(value, "time_column", where)
    time_formats = _strings(value.get("time_formats", [HHMM]), f"{where}.time_formats")
    fallback = value.get("fallback")
    if fallback not in (None, "reported"):
        raise LayoutError(f"{where}.fallback: only 'reported' is supported, got {fallback!r}")
    return DateTimeField(
        column=_strings(require_key(value, "column", where), f"{where}.column")[0],
        formats=_strings(require_key(value, "formats", where), f"{where}.formats"),
        time_column=time_column,
        time_formats=time_formats if time_column else (),
        fallback=fallback,
    )


def parse_location(value: Any, where: str) -> LocationField:
    if not isinstance(value, Mapping):
        raise LayoutError(f"{where}: expected a mapping with a 'kind', got {value!r}")
    kind = require_key(value, "kind", where)
    if kind not in LOCATION_KINDS:
        raise LayoutError(f"{where}.kind: {kind!r} is not one of {', '.join(LOCATION_KINDS)}")
    columns: tuple[Any, ...]  # raw YAML values, checked by _strings below
    if kind == "lonlat":
        columns = (require_key(value, "lon", where), require_key(value, "lat", where))
    elif kind == "projected":
        columns = (require_key(value, "x", where), require_key(value, "y", where))
        require_key(value, "crs", where)
    else:
        columns = (require_key(value, "column", where),)
    order = value.get("order", "latlon")
    if order not in ("latlon", "lonlat"):
        raise LayoutError(f"{where}.order: must be 'latlon' or 'lonlat', not {order!r}")
    return LocationField(
        kind=kind,
        columns=_strings(list(columns), where),
        crs=str(value.get("crs", "EPSG:4326")),
        order=order,
    )


def required_column(mapping: Mapping[str, Any], key: str, where: str) -> str:
    require_key(mapping, key, where)
    name = optional_column(mapping, key, where)
    assert name is not None
    return name


def parse_locations(value: Any, where: str) -> tuple[LocationField, ...]:
    """``location``: one alternative or a list of them, tried in order; at least one."""
    items = [value] if isinstance(value, Mapping) else (value or [])
    if not items:
        raise LayoutError(f"{where}: missing required key 'location' (at least one alternative)")
    if not isinstance(items, list):
        raise LayoutError(f"{where}.location: expected a list of alternatives, got {value!r}")
    return tuple(parse_location(loc, f"{where}.location[{i}]") for i, loc in enumerate(items))


def check_column_names(columns: tuple[str, ...], read_columns: tuple[str, ...], where: str) -> None:
    """Mapped columns must be in the declared header, and none may look like a derived column:
    DuckDB names are case-insensitive, so "CM_Block" would shadow the conformed cm_block."""
    clashing = [c for c in (*columns, *read_columns) if c.lower().startswith(CONFORMED_PREFIX)]
    if clashing:
        raise LayoutError(
            f"{where}: column names starting with {CONFORMED_PREFIX!r} are reserved: {clashing}"
        )
    if columns:
        unknown = [c for c in read_columns if c not in columns]
        if unknown:
            raise LayoutError(f"{where}: mapped columns missing from 'columns': {unknown}")


def _flags(value: Any, where: str) -> dict[str, FlagColumn]:
    flags: dict[str, FlagColumn] = {}
    for name, spec in (value or {}).items():
        if name not in FLAG_NAMES:
            raise LayoutError(f"{where}: unknown flag {name!r} (one of {', '.join(FLAG_NAMES)})")
        spec = spec if isinstance(spec, Mapping) else {"column": spec}
        true_values = spec.get("true_values", FlagColumn.true_values)
        if isinstance(true_values, str):
            true_values = [true_values]
        flags[name] = FlagColumn(
            column=_strings(require_key(spec, "column", f"{where}.{name}"), where)[0],
            true_values=tuple(str(v).strip().lower() for v in true_values),
        )
    return flags


def parse_live(value: Any, where: str) -> LiveSpec | None:
    if value is None:
        return None
    kind = require_key(value, "kind", where)
    if kind not in ("socrata", "arcgis"):
        raise LayoutError(f"{where}.kind: must be 'socrata' or 'arcgis', not {kind!r}")
    fields = value.get("fields") or {}
    options = {k: v for k, v in value.items() if k not in ("kind", "fields")}
    return LiveSpec(kind=kind, options=options, fields=dict(fields))


def parse_layout(
    mapping: Mapping[str, Any], *, name: str, where: str, crosswalk: str | None = None
) -> PoliceLayout:
    """Build a layout from its YAML mapping; ``where`` names the file for error messages."""
    if not isinstance(mapping, Mapping):
        raise LayoutError(f"{where}: a layout must be a mapping, got {type(mapping).__name__}")
    grain = mapping.get("grain", "offense")
    if grain not in GRAINS:
        raise LayoutError(f"{where}.grain: {grain!r} is not one of {', '.join(GRAINS)}")
    width = mapping.get("offense_code_width")
    if width is not None and (not isinstance(width, int) or width < 1):
        raise LayoutError(f"{where}.offense_code_width: expected a positive integer")
    occurred = parse_datetime_field(require_key(mapping, "occurred", where), f"{where}.occurred")
    reported = (
        parse_datetime_field(mapping["reported"], f"{where}.reported")
        if mapping.get("reported")
        else None
    )
    if reported is not None and reported.fallback is not None:
        raise LayoutError(f"{where}.reported.fallback: only the occurred date has a fallback")
    if occurred.fallback == "reported" and reported is None:
        raise LayoutError(f"{where}.occurred.fallback: 'reported' needs a reported column")
    layout = PoliceLayout(
        name=name,
        agency=str(mapping.get("agency", name)),
        crosswalk=str(mapping.get("crosswalk") or crosswalk or name),
        description=str(mapping.get("description", "")).strip(),
        columns=tuple(mapping.get("columns") or ()),
        grain=grain,
        record_id=optional_column(mapping, "record_id", where),
        report_number=optional_column(mapping, "report_number", where),
        occurred=occurred,
        reported=reported,
        offense_codes=_strings(
            require_key(mapping, "offense_codes", where), f"{where}.offense_codes"
        ),
        offense_code_width=width,
        offense_description=optional_column(mapping, "offense_description", where),
        block_address=optional_column(mapping, "block_address", where),
        location=parse_locations(mapping.get("location"), where),
        flags=_flags(mapping.get("flags"), f"{where}.flags"),
        live=parse_live(mapping.get("live"), f"{where}.live"),
    )
    check_column_names(layout.columns, layout.read_columns, where)
    return layout


def builtin_layout_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in LAYOUTS_DIR.glob("*.yml")))


@cache
def builtin_layout(name: str) -> PoliceLayout:
    """One of the publisher layouts crimemap ships (``builtin_layout_names()``)."""
    path = LAYOUTS_DIR / f"{name}.yml"
    if not path.is_file():
        raise LayoutError(
            f"no built-in police layout {name!r}; known: {', '.join(builtin_layout_names())}. "
            "Declare a custom one with a 'layout:' mapping instead."
        )
    with path.open(encoding="utf-8") as f:
        return parse_layout(yaml.safe_load(f), name=name, where=f"{path.name}")

"""Social-service facilities: which published fields hold what, and the SQL that reads them.

A jurisdiction names its fields in YAML (``parse_facility_mapping``); a CSV gives the point as
longitude/latitude columns, a GeoJSON file lands its geometry as GeoJSON text in ``geometry``
(``crimemap.ingestion.landing.land_geojson``), and a mapping may name both (tried in that order).

Facility types are the jurisdiction's own labels ("Mental Health Center", "DETOX"); ``type_map``
sends each onto one canonical type. Labels are matched case-insensitively with runs of whitespace
collapsed, and a canonical name used as a label maps to itself, so a publisher already writing
``shelter`` needs no entry. Real lists write one type many ways ("Mental Health Clinic (Mon-Fri
9-5)"), so a key may also be a pattern: ``"*mental health*"`` matches any label containing the
text, ``"/detox|withdrawal/"`` any label the regular expression finds (both case-insensitive).
Exact labels win, then patterns in the order written, then ``default_type`` if declared. A label
nothing maps leaves the type NULL, which the quality rules quarantine as ``type_unmapped``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crimemap.core.sql import sql_literal
from crimemap.ingestion.landing import LINEAGE_COLUMNS
from crimemap.ingestion.points import (
    collapsed_text_sql,
    column_sql,
    conformed_point_sql,
    conformed_rows_sql,
    normalize_label,
    normalized_label_sql,
    text_sql,
)
from crimemap.ingestion.police.layout import CONFORMED_PREFIX, LayoutError, LocationField

FACILITY_TYPES: tuple[str, ...] = (
    "mental_health",
    "substance_use",
    "shelter",
    "clinic",
    "youth_services",
)
CONFORMED_COLUMNS: tuple[str, ...] = (
    "facility_id",
    "facility_name",
    "facility_type",
    "facility_type_raw",
    "address",
    "longitude",
    "latitude",
    *LINEAGE_COLUMNS,
)
DEFAULT_FIELDS: dict[str, str] = {
    "id_field": "facility_id",
    "name_field": "name",
    "type_field": "facility_type",
    "longitude_field": "longitude",
    "latitude_field": "latitude",
}
LON_LAT_FIELDS = ("longitude_field", "latitude_field")
COLUMN_KEYS: tuple[str, ...] = (
    "id_field",
    "name_field",
    "type_field",
    "address_field",
    "longitude_field",
    "latitude_field",
    "geometry_field",
)
REQUIRED_KEYS: tuple[str, ...] = ("id_field", "name_field", "type_field")
MAPPING_KEYS: tuple[str, ...] = (*COLUMN_KEYS, "type_map", "default_type")


@dataclass(frozen=True)
class FacilityMapping:
    id_field: str
    name_field: str
    type_field: str
    type_map: Mapping[str, str] = field(default_factory=dict)  # published label -> canonical type
    address_field: str | None = None
    longitude_field: str | None = None
    latitude_field: str | None = None
    geometry_field: str | None = None  # GeoJSON geometry text (land_geojson's ``geometry``)
    default_type: str | None = None  # the type of a label nothing in type_map matches

    def __post_init__(self) -> None:
        # A mapping built in code gets the checks a parsed one gets.
        check_location(self.longitude_field, self.latitude_field, self.geometry_field, "mapping")
        canonical_types(self.type_map, "mapping.type_map")

    @property
    def locations(self) -> tuple[LocationField, ...]:
        """Point alternatives, tried in order: longitude/latitude, then the GeoJSON geometry."""
        found = []
        if self.longitude_field and self.latitude_field:
            found.append(LocationField("lonlat", (self.longitude_field, self.latitude_field)))
        if self.geometry_field:
            found.append(LocationField("geojson", (self.geometry_field,)))
        return tuple(found)

    @property
    def read_columns(self) -> tuple[str, ...]:
        """Every published column the mapping reads (ordered, no repeats)."""
        names = [self.id_field, self.name_field, self.type_field]
        names += [c for c in (self.address_field,) if c]
        for loc in self.locations:
            names += loc.columns
        return tuple(dict.fromkeys(names))

    @property
    def type_lookup(self) -> dict[str, str]:
        """Normalized label -> canonical type: the canonical names, then the map's exact labels
        (which win)."""
        exact = canonical_types(self.type_map, "type_map")
        labels = {key: target for key, target in exact.items() if not is_pattern(key)}
        return {**{t: t for t in FACILITY_TYPES}, **labels}

    @property
    def type_patterns(self) -> tuple[tuple[str, str], ...]:
        """(pattern key, canonical type) in the order written: ``*text*`` or ``/regex/``."""
        return tuple(
            (normalize_label(str(label)), target)
            for label, target in self.type_map.items()
            if is_pattern(normalize_label(str(label)))
        )


def check_location(lon: str | None, lat: str | None, geometry: str | None, where: str) -> None:
    if bool(lon) != bool(lat):
        raise LayoutError(f"{where}: longitude_field and latitude_field go together")
    if not lon and not geometry:
        raise LayoutError(
            f"{where}: a location is required: longitude_field and latitude_field, "
            "or geometry_field (GeoJSON)"
        )


def is_pattern(key: str) -> bool:
    return (len(key) > 2 and key.startswith("*") and key.endswith("*")) or (
        len(key) > 2 and key.startswith("/") and key.endswith("/")
    )


def label_matches(pattern: str, label: str) -> bool:
    """Whether a normalized ``label`` matches a ``*text*`` or ``/regex/`` pattern key."""
    if pattern.startswith("*"):
        return pattern[1:-1] in label
    return re.search(pattern[1:-1], label, flags=re.IGNORECASE) is not None


def facility_type_of(mapping: FacilityMapping, label: str | None) -> str | None:
    """The canonical type of a published label (the Python twin of ``facility_type_sql``)."""
    if label is None or not normalize_label(label):
        return None
    key = normalize_label(label)
    if key in mapping.type_lookup:
        return mapping.type_lookup[key]
    for pattern, target in mapping.type_patterns:
        if label_matches(pattern, key):
            return target
    return mapping.default_type


def canonical_types(type_map: Mapping[Any, Any], where: str) -> dict[str, str]:
    """``type_map`` keyed by normalized label; every target must be a canonical type."""
    if not isinstance(type_map, Mapping):
        raise LayoutError(f"{where}: expected a mapping of label -> type, got {type_map!r}")
    lookup: dict[str, str] = {}
    for label, target in type_map.items():
        # YAML reads an unquoted label such as 12 as a number; it is still a label.
        if isinstance(label, bool) or not isinstance(label, str | int | float):
            raise LayoutError(f"{where}: label {label!r} is not text")
        key = normalize_label(str(label))
        if not key:
            raise LayoutError(f"{where}: a label cannot be blank")
        if key.startswith("/") and key.endswith("/") and len(key) > 2:
            try:
                re.compile(key[1:-1])
            except re.error as exc:
                message = f"{where}[{str(label)!r}]: not a regular expression: {exc}"
                raise LayoutError(message) from exc

        if target not in FACILITY_TYPES:
            raise LayoutError(
                f"{where}[{str(label)!r}]: {target!r} is not one of {', '.join(FACILITY_TYPES)}"
            )
        if lookup.get(key, target) != target:
            raise LayoutError(
                f"{where}[{str(label)!r}]: maps to {target!r}, but the same label "
                f"(ignoring case and spaces) maps to {lookup[key]!r}"
            )
        lookup[key] = target
    return lookup


def _column(mapping: Mapping[str, Any], key: str, where: str) -> str | None:
    value = mapping.get(key)
    if value is None:
        if key in REQUIRED_KEYS:
            raise LayoutError(f"{where}: missing required key {key!r}")
        return None
    if not isinstance(value, str) or not value.strip():
        raise LayoutError(f"{where}.{key}: expected a column name, got {value!r}")
    if value.lower().startswith(CONFORMED_PREFIX):
        # DuckDB names are case-insensitive: it would shadow a conformed cm_ column.
        raise LayoutError(f"{where}.{key}: names starting with {CONFORMED_PREFIX!r} are reserved")
    return value


def parse_facility_mapping(mapping: Mapping[str, Any], where: str) -> FacilityMapping:
    """Build a mapping from YAML; ``where`` names the file and key for error messages."""
    if not isinstance(mapping, Mapping):
        raise LayoutError(f"{where}: expected a mapping, got {type(mapping).__name__}")
    unknown = [k for k in mapping if k not in MAPPING_KEYS]
    if unknown:
        raise LayoutError(f"{where}: unknown keys {unknown} (known: {', '.join(MAPPING_KEYS)})")
    # Required fields left out are the sample city's column names; an export that names its
    # geometry column has no lon/lat columns to default. Optional fields are never guessed.
    defaults = {
        k: v
        for k, v in DEFAULT_FIELDS.items()
        if k not in mapping and not ("geometry_field" in mapping and k in LON_LAT_FIELDS)
    }
    mapping = {**defaults, **mapping}
    columns = {key: _column(mapping, key, where) for key in COLUMN_KEYS}
    check_location(
        columns["longitude_field"], columns["latitude_field"], columns["geometry_field"], where
    )
    type_map = mapping.get("type_map") or {}
    canonical_types(type_map, f"{where}.type_map")
    default_type = mapping.get("default_type")
    if default_type is not None and default_type not in FACILITY_TYPES:
        raise LayoutError(
            f"{where}.default_type: {default_type!r} is not one of {', '.join(FACILITY_TYPES)}"
        )
    return FacilityMapping(
        id_field=str(columns["id_field"]),
        name_field=str(columns["name_field"]),
        type_field=str(columns["type_field"]),
        type_map={str(label): target for label, target in type_map.items()},
        address_field=columns["address_field"],
        longitude_field=columns["longitude_field"],
        latitude_field=columns["latitude_field"],
        geometry_field=columns["geometry_field"],
        default_type=default_type,
    )


# --- SQL ---------------------------------------------------------------------------------------


def facility_type_sql(mapping: FacilityMapping, value_sql: str) -> str:
    """The canonical type of a published label, NULL when the map does not know it."""
    label = normalized_label_sql(value_sql)
    exact = [
        f"WHEN {label} = {sql_literal(key)} THEN {sql_literal(target)}"
        for key, target in mapping.type_lookup.items()
    ]
    patterns = [
        (
            f"WHEN contains({label}, {sql_literal(pattern[1:-1])}) THEN {sql_literal(target)}"
            if pattern.startswith("*")
            else f"WHEN regexp_matches({label}, {sql_literal(pattern[1:-1])}, 'i') "
            f"THEN {sql_literal(target)}"
        )
        for pattern, target in mapping.type_patterns
    ]
    default = (
        f"WHEN nullif({label}, '') IS NOT NULL THEN {sql_literal(mapping.default_type)}"
        if mapping.default_type
        else ""
    )
    return f"CAST(CASE {' '.join([*exact, *patterns, default])} END AS VARCHAR)"


def facility_columns_sql(
    mapping: FacilityMapping, raw_relation: str, *, alias: str = "__src"
) -> str:
    """``SELECT`` of every raw column plus the ``cm_`` columns the facility rules judge."""
    address = (
        collapsed_text_sql(mapping.address_field, alias)
        if mapping.address_field
        else "NULL::VARCHAR"
    )
    columns = [
        f"{text_sql(mapping.id_field, alias)} AS cm_facility_id",
        f"{text_sql(mapping.name_field, alias)} AS cm_facility_name",
        f"{facility_type_sql(mapping, column_sql(mapping.type_field, alias))} AS cm_facility_type",
        f"CAST({column_sql(mapping.type_field, alias)} AS VARCHAR) AS cm_facility_type_raw",
        f"{address} AS cm_address",
    ]
    return conformed_point_sql(raw_relation, mapping.locations, columns, alias=alias)


def facility_rows_sql(accepted_relation: str) -> str:
    """Conformed facilities (``CONFORMED_COLUMNS``) of accepted ``facility_columns_sql`` rows."""
    return conformed_rows_sql(accepted_relation, CONFORMED_COLUMNS[: -len(LINEAGE_COLUMNS)])

"""The community map: one self-contained HTML page per release, for caseworkers and residents.

The page is built from the release's published layers only, so it shows nothing the privacy
rules withheld: a suppressed count is carried as suppressed, never derived. It works offline
from ``file://`` and makes no network request: the rendering library (MapLibre GL JS, vendored in
``map_assets/`` with its licence), the page's own script and style, and the data are all inside
the one file, and the jurisdiction's own boundaries are the base map (no tile server).

MapLibre draws with WebGL and cuts GeoJSON into tiles in a web worker, so a layer of hundreds of
thousands of polygons pans smoothly; the month control only restyles features already on the
GPU (feature state), it never re-sends geometry.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crimemap.core.duckdb_spatial import scratch
from crimemap.core.files import write_atomic
from crimemap.warehouse.publish import layer_scan_sql, read_manifest

MAP_DIR = "map"
MAP_FILE = "index.html"
ASSETS = Path(__file__).with_name("map_assets")
PALETTES_FILE = "palettes.json"
# The page inlines these, in this order; the template names each by a marker.
INLINED: tuple[tuple[str, str], ...] = (
    ("/*CRIMEMAP:LIBRARY_STYLE*/", "maplibre-gl.css"),
    ("/*CRIMEMAP:STYLE*/", "map.css"),
    ("/*CRIMEMAP:LIBRARY*/", "maplibre-gl.js"),
    ("/*CRIMEMAP:SCRIPT*/", "map.js"),
)
DATA_MARKER = "/*CRIMEMAP:DATA*/"
TITLE_MARKER = "CRIMEMAP:TITLE"
# Five decimals of a degree is about a metre: finer than any area or grid-cell edge needs.
COORDINATE_DECIMALS = 5


@dataclass(frozen=True)
class CommunityMap:
    path: Path
    bytes: int
    areas: int
    cells: int
    months: int


Layers = Mapping[str, str]  # layer name -> the SQL relation reading it (``layer_scan_sql``)


def nest(
    rows: Iterable[Mapping[str, Any]],
    keys: Sequence[Callable[[Mapping[str, Any]], str]],
    value: Callable[[Mapping[str, Any]], Any],
) -> dict[str, Any]:
    """Rows as nested objects, one level per key, ``value`` of the row at the bottom."""
    nested: dict[str, Any] = {}
    for row in rows:
        level = nested
        for key in keys[:-1]:
            level = level.setdefault(key(row), {})
        level[keys[-1](row)] = value(row)
    return nested


def _get(column: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda row: row[column]


def _rows(con: Any, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _number(value: Any, digits: int = 3) -> float | int | None:
    """A value for the page: rounded, and None for what JSON cannot hold (NaN, infinity)."""
    if value is None:
        return None
    if isinstance(value, bool | int):
        return int(value)
    number = float(value)
    return round(number, digits) if math.isfinite(number) else None


def _features(con: Any, sql: str, properties: tuple[str, ...]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of ``sql``'s rows (a ``geometry`` column and ``properties``)."""
    rows = _rows(
        con,
        f"SELECT {', '.join(properties)}, "
        f"ST_AsGeoJSON(ST_ReducePrecision(geometry, {10**-COORDINATE_DECIMALS})) AS geojson "
        f"FROM ({sql}) WHERE geometry IS NOT NULL",
    )
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {p: row[p] for p in properties},
                "geometry": json.loads(row["geojson"]),
            }
            for row in rows
        ],
    }


def _month(row: Mapping[str, Any]) -> str:
    return f"{row['month']:%Y-%m}"


def rates_by_category(con: Any, layers: Layers) -> dict[str, Any]:
    """``{category: {month: {area_id: [count, smoothed rate, suppressed]}}}``."""
    rows = _rows(
        con,
        "SELECT category, month, area_id, incident_count, eb_rate_per_1000, count_suppressed "
        f"FROM {layers['area_month_rates']} ORDER BY category, month, area_id",
    )
    return nest(
        rows,
        (_get("category"), _month, _get("area_id")),
        lambda r: [
            _number(r["incident_count"]),
            _number(r["eb_rate_per_1000"], 2),
            bool(r["count_suppressed"]),
        ],
    )


def hotspots_by_month(con: Any, layers: Layers) -> dict[str, Any]:
    """``{month: {cell_id: [confidence bin, count, suppressed, z]}}``, cells with a bin only."""
    rows = _rows(
        con,
        "SELECT month, cell_id, confidence_bin, incident_count, count_suppressed, gi_star_z "
        f"FROM {layers['hotspots']} WHERE confidence_bin <> 0 ORDER BY month, cell_id",
    )
    return nest(
        rows,
        (_month, _get("cell_id")),
        lambda r: [
            int(r["confidence_bin"]),
            _number(r["incident_count"]),
            bool(r["count_suppressed"]),
            _number(r["gi_star_z"], 2),
        ],
    )


PRIORITY_COMPONENTS: tuple[str, ...] = (
    "person_crime",
    "mental_health",
    "deprivation",
    "access_gap",
    "indicator",
)


def priority_by_area(con: Any, layers: Layers) -> dict[str, Any]:
    """``{area_id: {...}}``: rank, index, percentile, drivers and each component's share."""
    contributions = ", ".join(f"{c}_contribution" for c in PRIORITY_COMPONENTS)
    rows = _rows(
        con,
        "SELECT area_id, ranked, exclusion_reason, need_rank, need_index, need_percentile, "
        f"need_drivers, {contributions} FROM {layers['priority_areas']}",
    )
    return {
        r["area_id"]: {
            "ranked": bool(r["ranked"]),
            "excluded": r["exclusion_reason"],
            "rank": _number(r["need_rank"]),
            "index": _number(r["need_index"]),
            "percentile": _number(r["need_percentile"]),
            "drivers": r["need_drivers"],
            "parts": {c: _number(r[f"{c}_contribution"]) for c in PRIORITY_COMPONENTS},
        }
        for r in rows
    }


def access_by_type(con: Any, layers: Layers) -> dict[str, Any]:
    """``{facility_type: {area_id: [2SFCA score, nearest facility m, facilities per 10k]}}``."""
    rows = _rows(
        con,
        "SELECT facility_type, area_id, access_2sfca, nearest_facility_m, facilities_per_10k "
        f"FROM {layers['service_access']} ORDER BY facility_type, area_id",
    )
    return nest(
        rows,
        (_get("facility_type"), _get("area_id")),
        lambda r: [
            _number(r["access_2sfca"], 5),
            _number(r["nearest_facility_m"], 0),
            _number(r["facilities_per_10k"], 2),
        ],
    )


def map_data(release_dir: Path) -> dict[str, Any]:
    """Everything the page shows, read from the release's published layers."""
    release_dir = Path(release_dir)
    manifest = read_manifest(release_dir)
    layers = {layer["name"]: layer_scan_sql(release_dir, layer) for layer in manifest["layers"]}
    with scratch() as con:
        areas = _features(
            con,
            f"SELECT area_id AS id, area_name AS name, population, geometry FROM {layers['areas']}",
            ("id", "name", "population"),
        )
        cells = _features(
            con,
            f"SELECT cell_id AS id, geometry FROM {layers['grid_cells']}",
            ("id",),
        )
        facilities = _features(
            con,
            "SELECT facility_name AS name, facility_type AS type, geometry "
            f"FROM {layers['facilities']}",
            ("name", "type"),
        )
        emerging = dict(
            con.execute(
                "SELECT cell_id, pattern FROM "
                f"{layers['emerging_hotspots']} WHERE pattern IS NOT NULL"
            ).fetchall()
        )
        bounds = con.execute(
            "SELECT min(ST_XMin(geometry)), min(ST_YMin(geometry)), max(ST_XMax(geometry)), "
            f"max(ST_YMax(geometry)) FROM {layers['areas']}"
        ).fetchone()
        rates = rates_by_category(con, layers)
        hotspots = hotspots_by_month(con, layers)
        priority = priority_by_area(con, layers)
        access = access_by_type(con, layers)
    months = sorted({m for by_month in rates.values() for m in by_month} | set(hotspots))
    privacy = manifest.get("privacy") or {}
    return {
        "title": str(manifest.get("jurisdiction") or "crimemap"),
        "release": manifest["release_id"],
        "created_at": manifest["created_at"],
        "min_cell_count": privacy.get("min_cell_count"),
        "terms": manifest.get("terms") or {},
        "bounds": [_number(v, COORDINATE_DECIMALS) for v in bounds] if bounds else None,
        "months": months,
        "categories": sorted(rates),
        "facility_types": sorted({f["properties"]["type"] for f in facilities["features"]}),
        "access_types": sorted(access),
        "areas": areas,
        "cells": cells,
        "facilities": facilities,
        "rates": rates,
        "hotspots": hotspots,
        "emerging": emerging,
        "priority": priority,
        "access": access,
        "palettes": load_palettes(),
    }


def load_palettes() -> dict[str, Any]:
    """The colour scales every picture of the data uses (map, previews, QGIS styles)."""
    palettes: dict[str, Any] = json.loads((ASSETS / PALETTES_FILE).read_text(encoding="utf-8"))
    palettes.pop("about", None)
    return palettes


def script_json(data: Mapping[str, Any]) -> str:
    """JSON safe inside a ``<script>`` element: no ``</script>`` or ``<!--`` can close it early
    (an area called ``</script><script>...`` stays text)."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def render_page(data: Mapping[str, Any], assets: Path = ASSETS) -> str:
    """The page: the template with the library, the page's script and style, and the data
    inlined."""
    page = (assets / "index.html").read_text(encoding="utf-8")
    for marker, name in INLINED:
        text = (assets / name).read_text(encoding="utf-8")
        if marker not in page:
            raise ValueError(f"map template lacks {marker}")
        page = page.replace(marker, text.replace("</script", "<\\/script"), 1)
    title = str(data["title"]).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return page.replace(TITLE_MARKER, title).replace(DATA_MARKER, script_json(data), 1)


def build_community_map(release_dir: Path, to: Path | None = None) -> CommunityMap:
    """Write the page of a release from its published layers: to ``to``, by default the
    release's own ``map/index.html``."""
    release_dir = Path(release_dir)
    data = map_data(release_dir)
    page = render_page(data)
    path = Path(to) if to is not None else release_dir / MAP_DIR / MAP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    encoded = page.encode("utf-8")
    write_atomic(path, lambda tmp: tmp.write_bytes(encoded))
    return CommunityMap(
        path=path,
        bytes=path.stat().st_size,
        areas=len(data["areas"]["features"]),
        cells=len(data["cells"]["features"]),
        months=len(data["months"]),
    )

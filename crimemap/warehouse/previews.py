"""Small PNG map previews and top-10 tables of marts and published layers, for the Dagster UI.

A preview draws every geometry of a mart (through its area, grid cell or facility) or of a
published layer, coloured by one measure in quantile classes (by rank) of the community map's
viridis scale (readable with the common colour-vision deficiencies); geometries with no value
are grey. The measure and the top-10 query of each table are declared here, in one place.
"""

from __future__ import annotations

import base64
import bisect
import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
from PIL import Image, ImageDraw

from crimemap.core.sql import quote_ident
from crimemap.warehouse.community_map import load_palettes


@dataclass(frozen=True)
class MapPreview:
    """What a preview colours: an SQL aggregate over the rows of one geometry (None draws the
    geometries alone), named by ``label``; ``latest_month`` keeps the last month's rows."""

    measure: str | None
    label: str
    latest_month: bool = False


# area_month_rates carries every category and their 'all' total: the map shows the total.
ALL_OFFENSES = "max(incident_count) FILTER (WHERE category = 'all')"

# Marts keyed by an area, a grid cell or a facility are drawn through that dimension.
GEOMETRY_OF_KEY = {"area_id": "dim_area", "cell_id": "dim_grid_cell", "facility_id": "dim_facility"}

MART_PREVIEWS: dict[str, tuple[str, MapPreview]] = {
    "dim_area": ("area_id", MapPreview("max(poverty_rate)", "poverty rate")),
    "dim_facility": ("facility_id", MapPreview(None, "facilities")),
    "dim_grid_cell": ("cell_id", MapPreview(None, "analysis grid")),
    "fct_incidents": ("area_id", MapPreview("count(*)", "offenses, all months")),
    "area_indicators": (
        "area_id",
        MapPreview("count(*) FILTER (WHERE unreliable)", "unreliable indicators"),
    ),
    "area_month_rates": (
        "area_id",
        MapPreview(ALL_OFFENSES, "offenses, latest month", latest_month=True),
    ),
    "offense_spikes": (
        "area_id",
        MapPreview("count(*) FILTER (WHERE is_spike)", "spikes, latest month", latest_month=True),
    ),
    "priority_areas": ("area_id", MapPreview("max(need_index)", "need index")),
    "service_access": ("area_id", MapPreview("max(nearest_facility_m)", "farthest service, m")),
    "service_requests_area_month": (
        "area_id",
        MapPreview("sum(requests)", "311 requests, latest month", latest_month=True),
    ),
    "survey_area_responses": ("area_id", MapPreview("max(area_respondents)", "respondents")),
    "hotspots": ("cell_id", MapPreview("max(gi_star_z)", "Gi* z, latest month", latest_month=True)),
    "emerging_hotspots": ("cell_id", MapPreview("max(final_z)", "final Gi* z")),
    "hotspot_forecast": ("cell_id", MapPreview("max(predicted_count)", "forecast offenses")),
}

LAYER_PREVIEWS: dict[str, MapPreview] = {
    "areas": MapPreview("max(poverty_rate)", "poverty rate"),
    "facilities": MapPreview(None, "facilities"),
    "grid_cells": MapPreview(None, "analysis grid"),
    "incidents": MapPreview("count(*)", "offenses per published point"),
    "area_month_rates": MapPreview(ALL_OFFENSES, "offenses, latest month", latest_month=True),
    "offense_spikes": MapPreview(
        "count(*) FILTER (WHERE is_spike)", "spikes, latest month", latest_month=True
    ),
    "priority_areas": MapPreview("max(need_index)", "need index"),
    "service_access": MapPreview("max(nearest_facility_m)", "farthest service, m"),
    "service_requests_area_month": MapPreview(
        "sum(requests)", "311 requests, latest month", latest_month=True
    ),
    "survey_area_responses": MapPreview("max(area_respondents)", "respondents"),
    "hotspots": MapPreview("max(gi_star_z)", "Gi* z, latest month", latest_month=True),
    "emerging_hotspots": MapPreview("max(mk_z)", "trend z"),
    "hotspot_forecast": MapPreview("max(predicted_count)", "forecast offenses"),
}

# The key marts' top-10 tables: what someone opening the asset wants to see first.
_LATEST = "month = (SELECT max(month) FROM {table})"
TOP_TEN: dict[str, str] = {
    "priority_areas": "SELECT need_rank, area_id, area_name, round(need_index, 2) AS need_index, "
    "need_drivers FROM priority_areas WHERE ranked ORDER BY need_rank LIMIT 10",
    "area_month_rates": "SELECT month, area_id, category, incident_count, "
    "round(rate_per_1000, 2) AS rate_per_1000 FROM area_month_rates "
    f"WHERE {_LATEST.format(table='area_month_rates')} "
    "ORDER BY incident_count DESC, area_id, category LIMIT 10",
    "hotspots": "SELECT month, cell_id, incident_count, round(gi_star_z, 2) AS gi_star_z, "
    f"confidence_bin FROM hotspots WHERE {_LATEST.format(table='hotspots')} "
    "ORDER BY gi_star_z DESC, cell_id LIMIT 10",
    "offense_spikes": "SELECT month, area_id, category, observed, round(expected, 2) AS expected, "
    "round(ratio, 2) AS ratio FROM offense_spikes WHERE is_spike "
    "ORDER BY month DESC, ratio DESC, area_id, category LIMIT 10",
    "service_access": "SELECT area_id, facility_type, round(nearest_facility_m) AS nearest_m, "
    "facilities_in_catchment FROM service_access "
    "ORDER BY nearest_facility_m DESC NULLS LAST, area_id, facility_type LIMIT 10",
    "emerging_hotspots": "SELECT cell_id, pattern, trend, hot_periods, round(final_z, 2) AS "
    "final_z FROM emerging_hotspots ORDER BY final_z DESC NULLS LAST, cell_id LIMIT 10",
    "fct_incidents": "SELECT category, count(*) AS offenses, count(DISTINCT area_id) AS areas "
    "FROM fct_incidents GROUP BY category ORDER BY offenses DESC, category LIMIT 10",
    "quality_scorecard": "SELECT source, month, raw_rows, accepted_rows, quarantined_rows "
    "FROM quality_scorecard ORDER BY quarantined_rows DESC, source, month LIMIT 10",
}


# --------------------------------------------------------------------------- queries


def mart_preview_sql(table: str, key: str, preview: MapPreview) -> str:
    """Each geometry of the key's dimension with the mart's measure (NULL where it has none)."""
    where = f"WHERE {_LATEST.format(table=quote_ident(table))}" if preview.latest_month else ""
    measure = preview.measure or "NULL"
    return (
        f"WITH measured AS (SELECT {key}, {measure} AS value FROM {quote_ident(table)} {where} "
        f"GROUP BY {key}) SELECT ST_AsGeoJSON(shape.geom), measured.value "
        f"FROM {GEOMETRY_OF_KEY[key]} AS shape LEFT JOIN measured USING ({key}) "
        "WHERE shape.geom IS NOT NULL"
    )


def layer_preview_sql(scan: str, preview: MapPreview) -> str:
    """Each distinct geometry of a published layer (``scan`` reads it) with its measure."""
    where = f"WHERE month = (SELECT max(month) FROM {scan})" if preview.latest_month else ""
    measure = preview.measure or "NULL"
    return (
        f"SELECT ST_AsGeoJSON(any_value(geometry)), {measure} FROM {scan} {where} "
        "GROUP BY ST_AsWKB(geometry) HAVING any_value(geometry) IS NOT NULL"
    )


def top_ten_markdown(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """The table's top-10 as a markdown table, or None for a table without one."""
    sql = TOP_TEN.get(table)
    if sql is None:
        return None
    cursor = con.execute(sql)
    columns = [d[0] for d in cursor.description]
    return markdown_table(columns, cursor.fetchall())


def markdown_table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def preview_png(
    con: duckdb.DuckDBPyConnection, sql: str, label: str, base_sql: str | None = None
) -> bytes:
    """Run a preview query (GeoJSON, value) and draw what it returns, over the outlines that
    ``base_sql`` (GeoJSON) returns."""
    rows = con.execute(sql).fetchall()
    base = [json.loads(shape) for (shape,) in con.execute(base_sql).fetchall()] if base_sql else []
    return render_png([(json.loads(shape), value) for shape, value in rows], label, base)


# Points are drawn over the areas' outlines, so a facility map shows where it is.
MART_BASE_SQL = "SELECT ST_AsGeoJSON(geom) FROM dim_area WHERE geom IS NOT NULL"


def layer_base_sql(areas_scan: str) -> str:
    return f"SELECT ST_AsGeoJSON(geometry) FROM {areas_scan} WHERE geometry IS NOT NULL"


def image_markdown(png: bytes, label: str) -> str:
    """Markdown with the PNG inlined, as Dagster's UI shows it in materialization metadata."""
    return f"![{label}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


# --------------------------------------------------------------------------- drawing


def rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


# The community map's scales: viridis from low (light) to high (dark); no value is light grey.
_PALETTES = load_palettes()
PALETTE = [rgb(colour) for colour in _PALETTES["sequential"]]
NO_VALUE = rgb(_PALETTES["no_data"])
BASE_FILL, BASE_LINE = (246, 246, 246), (190, 190, 190)
WIDTH, MAP_HEIGHT, LEGEND_HEIGHT, MARGIN = 360, 280, 28, 8


def quantile_class(value: float, ordered: Sequence[float], classes: int = len(PALETTE)) -> int:
    """The quantile class (0 .. classes-1) of ``value`` among the ``ordered`` values, by its
    rank: the lowest value is class 0, the highest the top class, ties share a class."""
    if len(ordered) < 2:
        return classes - 1
    rank = bisect.bisect_left(ordered, value)
    return min(classes - 1, (classes * rank) // (len(ordered) - 1))


def colour_of(value: float | None, ordered: Sequence[float]) -> tuple[int, int, int]:
    if value is None or math.isnan(value):
        return NO_VALUE
    return PALETTE[quantile_class(value, ordered)]


Point = list[float]
Polygon = list[list[Point]]  # its exterior ring, then its holes


def rings_and_points(geometry: dict[str, Any]) -> tuple[list[Polygon], list[Point]]:
    """A GeoJSON geometry's polygons and points."""
    kind = geometry.get("type")
    coords: Any = geometry.get("coordinates")
    if kind == "Polygon":
        return [coords], []
    if kind == "MultiPolygon":
        return list(coords), []
    if kind == "Point":
        return [], [coords]
    if kind == "MultiPoint":
        return [], list(coords)
    if kind == "GeometryCollection":
        polygons: list[Polygon] = []
        points: list[Point] = []
        for part in geometry.get("geometries", []):
            more_polygons, more_points = rings_and_points(part)
            polygons += more_polygons
            points += more_points
        return polygons, points
    return [], []  # lines are not drawn in a preview


def render_png(
    features: Sequence[tuple[dict[str, Any], float | None]],
    label: str,
    base: Sequence[dict[str, Any]] = (),
) -> bytes:
    """A WIDTH-pixel-wide PNG of (GeoJSON geometry in lon/lat, value) features with a legend,
    drawn over the ``base`` geometries' outlines."""
    shapes = [(rings_and_points(geometry), value) for geometry, value in features]
    outlines = [rings_and_points(geometry)[0] for geometry in base]
    corners = [
        *(p for (polygons, _), _ in shapes for polygon in polygons for p in polygon[0]),
        *(p for (_, points), _ in shapes for p in points),
        *(p for polygons in outlines for polygon in polygons for p in polygon[0]),
    ]
    image = Image.new("RGB", (WIDTH, MAP_HEIGHT + LEGEND_HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    values = sorted(float(v) for _, v in shapes if v is not None and not math.isnan(float(v)))
    if corners:
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        project = projection(min(xs), min(ys), max(xs), max(ys))
        for polygons in outlines:
            for exterior, *_ in polygons:
                draw.polygon([project(p) for p in exterior], fill=BASE_FILL, outline=BASE_LINE)
        for (polygons, points), value in shapes:
            colour = colour_of(None if value is None else float(value), values)
            for exterior, *holes in polygons:
                draw.polygon([project(p) for p in exterior], fill=colour, outline=(255, 255, 255))
                for hole in holes:
                    draw.polygon([project(p) for p in hole], fill="white")
            for point in points:
                x, y = project(point)
                fill = PALETTE[1] if value is None else colour
                draw.ellipse((x - 2.5, y - 2.5, x + 2.5, y + 2.5), fill=fill, outline=(0, 0, 0))
    draw_legend(draw, values, label)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def projection(
    min_x: float, min_y: float, max_x: float, max_y: float
) -> Callable[[Sequence[float]], tuple[float, float]]:
    """Longitude/latitude to pixels: equirectangular at the mid latitude, fitted and centred."""
    squash = math.cos(math.radians((min_y + max_y) / 2))
    span_x, span_y = max((max_x - min_x) * squash, 1e-9), max(max_y - min_y, 1e-9)
    scale = min((WIDTH - 2 * MARGIN) / span_x, (MAP_HEIGHT - 2 * MARGIN) / span_y)
    offset_x = (WIDTH - span_x * scale) / 2
    offset_y = (MAP_HEIGHT - span_y * scale) / 2

    def to_pixel(point: Sequence[float]) -> tuple[float, float]:
        return (
            offset_x + (point[0] - min_x) * squash * scale,
            MAP_HEIGHT - offset_y - (point[1] - min_y) * scale,
        )

    return to_pixel


def draw_legend(draw: ImageDraw.ImageDraw, values: Sequence[float], label: str) -> None:
    top = MAP_HEIGHT + 6
    if not values:
        draw.text((MARGIN, top), label, fill=(0, 0, 0))
        return
    for i, colour in enumerate(PALETTE):
        draw.rectangle((MARGIN + i * 14, top, MARGIN + i * 14 + 12, top + 12), fill=colour)
    text = f"{label}: {min(values):,.4g} .. {max(values):,.4g}"
    draw.text((MARGIN + len(PALETTE) * 14 + 6, top), text, fill=(0, 0, 0))

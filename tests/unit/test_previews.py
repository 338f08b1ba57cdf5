"""Map previews and top-10 tables for the Dagster UI: the right colours in the right places."""

from __future__ import annotations

import base64
import io
import re

import pytest
from PIL import Image

from crimemap.core.duckdb_spatial import connect
from crimemap.warehouse import previews
from crimemap.warehouse.community_map import load_palettes
from crimemap.warehouse.previews import (
    NO_VALUE,
    PALETTE,
    MapPreview,
    colour_of,
    image_markdown,
    markdown_table,
    mart_preview_sql,
    preview_png,
    quantile_class,
    render_png,
)


def square(x: float, y: float, size: float = 0.01) -> dict:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def pixel_at(png: bytes, lon: float, lat: float, bounds: tuple[float, float, float, float]):
    """The colour where (lon, lat) falls, by the preview's own projection."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    project = previews.projection(*bounds)
    x, y = project([lon, lat])
    return image.getpixel((round(x), round(y)))


def test_values_fall_into_classes_by_rank() -> None:
    ordered = list(range(1, 11))
    assert [quantile_class(v, ordered, 5) for v in ordered] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert [quantile_class(v, ordered, 7) for v in ordered] == [0, 0, 1, 2, 3, 3, 4, 5, 6, 6]
    assert [colour_of(v, ordered) for v in (1, 10)] == [PALETTE[0], PALETTE[-1]]
    assert colour_of(None, ordered) == NO_VALUE
    assert colour_of(float("nan"), ordered) == NO_VALUE


def test_the_lowest_and_highest_of_few_values_take_the_end_colours_and_ties_share() -> None:
    top = len(PALETTE) - 1
    assert [quantile_class(v, [2, 50]) for v in (2, 50)] == [0, top]
    assert [quantile_class(v, [1, 1, 1, 9]) for v in (1, 9)] == [0, top]
    assert quantile_class(7, [7]) == top


def test_the_previews_use_the_community_maps_scales() -> None:
    palettes = load_palettes()
    assert [previews.rgb(c) for c in palettes["sequential"]] == PALETTE
    assert previews.rgb(palettes["no_data"]) == NO_VALUE


def test_each_area_is_drawn_in_its_class_colour_and_no_value_is_grey() -> None:
    features = [
        (square(0.0, 0.0), 1.0),
        (square(0.01, 0.0), 100.0),
        (square(0.02, 0.0), None),
    ]
    png = render_png(features, "offenses")
    bounds = (0.0, 0.0, 0.03, 0.01)
    assert png.startswith(b"\x89PNG")
    assert pixel_at(png, 0.005, 0.005, bounds) == PALETTE[0]
    assert pixel_at(png, 0.015, 0.005, bounds) == PALETTE[-1]
    assert pixel_at(png, 0.025, 0.005, bounds) == NO_VALUE


def test_a_hole_is_left_white_and_points_sit_on_their_base() -> None:
    outer = [[0, 0], [0.03, 0], [0.03, 0.03], [0, 0.03], [0, 0]]
    hole = [[0.01, 0.01], [0.02, 0.01], [0.02, 0.02], [0.01, 0.02], [0.01, 0.01]]
    png = render_png([({"type": "Polygon", "coordinates": [outer, hole]}, 5.0)], "x")
    bounds = (0.0, 0.0, 0.03, 0.03)
    assert pixel_at(png, 0.015, 0.015, bounds) == (255, 255, 255)
    assert pixel_at(png, 0.005, 0.005, bounds) == PALETTE[-1]

    point = {"type": "Point", "coordinates": [0.015, 0.015]}
    png = render_png([(point, None)], "facilities", base=[square(0.0, 0.0, 0.03)])
    assert pixel_at(png, 0.015, 0.015, bounds) == PALETTE[1]  # the point
    assert pixel_at(png, 0.005, 0.005, bounds) == previews.BASE_FILL  # the area under it


def test_an_empty_preview_is_still_an_image() -> None:
    image = Image.open(io.BytesIO(render_png([], "nothing yet")))
    assert image.size == (previews.WIDTH, previews.MAP_HEIGHT + previews.LEGEND_HEIGHT)


def test_a_mart_preview_colours_each_area_by_its_latest_month() -> None:
    with connect() as con:
        con.execute(
            "CREATE TABLE dim_area AS SELECT * FROM (VALUES "
            "('a', ST_GeomFromText('POLYGON((0 0, 0.01 0, 0.01 0.01, 0 0.01, 0 0))')), "
            "('b', ST_GeomFromText('POLYGON((0.01 0, 0.02 0, 0.02 0.01, 0.01 0.01, 0.01 0))')), "
            "('c', ST_GeomFromText('POLYGON((0.02 0, 0.03 0, 0.03 0.01, 0.02 0.01, 0.02 0))'))"
            ") AS t(area_id, geom)"
        )
        # In the latest month b has the most; an older month (not drawn) says otherwise.
        con.execute(
            "CREATE TABLE rates AS SELECT * FROM (VALUES "
            "('a', DATE '2025-01-01', 90), ('b', DATE '2025-01-01', 1), "
            "('a', DATE '2025-02-01', 2), ('b', DATE '2025-02-01', 50)"
            ") AS t(area_id, month, n)"
        )
        preview = MapPreview("sum(n)", "offenses", latest_month=True)
        rows = con.execute(mart_preview_sql("rates", "area_id", preview)).fetchall()
        assert sorted(value for _, value in rows if value is not None) == [2, 50]
        assert len(rows) == 3  # c has no rows: drawn with no value
        png = preview_png(con, mart_preview_sql("rates", "area_id", preview), "offenses")
    bounds = (0.0, 0.0, 0.03, 0.01)
    assert pixel_at(png, 0.005, 0.005, bounds) == PALETTE[0]
    assert pixel_at(png, 0.015, 0.005, bounds) == PALETTE[-1]
    assert pixel_at(png, 0.025, 0.005, bounds) == NO_VALUE


def test_image_markdown_inlines_the_png() -> None:
    png = render_png([(square(0, 0), 1.0)], "x")
    match = re.fullmatch(
        r"!\[x\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", image_markdown(png, "x")
    )
    assert match and base64.b64decode(match.group(1)) == png


def test_markdown_table_escapes_pipes_and_shows_nulls_as_blank() -> None:
    table = markdown_table(["area", "drivers"], [("A|B", None), ("C", "x\ny")])
    assert table.splitlines() == [
        "| area | drivers |",
        "| --- | --- |",
        "| A\\|B |  |",
        "| C | x y |",
    ]


@pytest.mark.parametrize("name", sorted(previews.MART_PREVIEWS))
def test_every_mart_preview_is_keyed_by_a_known_dimension(name: str) -> None:
    key, _ = previews.MART_PREVIEWS[name]
    assert key in previews.GEOMETRY_OF_KEY


def test_every_spatial_layer_of_the_contract_has_a_preview() -> None:
    from crimemap.warehouse.layers import PUBLISHED_SCHEMA_PATH
    from crimemap.warehouse.schema_contract import load_contract

    _, contract = load_contract(PUBLISHED_SCHEMA_PATH)
    spatial = {name for name, layer in contract.items() if layer.spatial}
    assert spatial == set(previews.LAYER_PREVIEWS)

"""Writing the sample city's files: whole or not at all, and the GeoJSON and Census JSON texts."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from crimemap.core.files import write_atomic
from crimemap.samplecity.grid import Grid, lonlat_transformer, quad_corners

# --------------------------------------------------------------------------------------------
# Writers


def write_text(path: Path, text: str) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8", newline="\n"))


def write_parquet(path: Path, table: pl.DataFrame) -> None:
    write_atomic(path, lambda tmp: table.write_parquet(tmp, compression="zstd"))


def areas_geojson_text(grid: Grid) -> str:
    corner_r, corner_c = quad_corners(grid.rows, grid.cols)
    features = []
    for k in range(grid.n_areas):  # one feature per area
        ring = [
            [int(grid.vert_e7[r, c, 0]) / 1e7, int(grid.vert_e7[r, c, 1]) / 1e7]
            for r, c in zip(corner_r[k], corner_c[k], strict=True)
        ]
        ring.append(ring[0])  # closed, counter-clockwise (RFC 7946)
        feature = {
            "type": "Feature",
            "properties": {"GEOID": str(grid.geoids[k]), "NAME": f"Census Tract {k + 1}"},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
        features.append(json.dumps(feature, separators=(",", ":")))
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(features) + "\n]}\n"


def census_json(rows: list[list[str]]) -> str:
    # The Census API's own layout: one JSON array per line.
    return "[" + ",\n".join(json.dumps(row) for row in rows) + "]\n"


def utm_to_lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = lonlat_transformer().transform(x, y)
    return round(float(lon), 7), round(float(lat), 7)

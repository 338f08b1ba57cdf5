"""The sample city's geometry: a jittered quad grid of tracts designed in UTM metres and
published in EPSG:4326 with integer-exact coordinates, and the street grid its addresses use."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from pyproj import Transformer

from crimemap.samplecity.settings import (
    CITY_CENTRE_LONLAT,
    COUNTY_FIPS,
    EW_STREETS,
    SAMPLE_CITY_CRS,
    STATE_FIPS,
    SampleCityConfig,
)

# --------------------------------------------------------------------------------------------
# Geometry


@dataclass(frozen=True)
class Grid:
    cols: int
    rows: int
    size: float
    origin: tuple[float, float]  # UTM of the un-jittered south-west corner
    vert_xy: np.ndarray  # (rows+1, cols+1, 2) UTM metres
    vert_e7: np.ndarray  # (rows+1, cols+1, 2) int64 lon/lat in 1e-7 degrees
    geoids: np.ndarray  # (n_areas,) str, area k = row * cols + col, row 0 is the south
    centroid_xy: np.ndarray  # (n_areas, 2) UTM
    area_m2: np.ndarray  # (n_areas,)
    normals: np.ndarray  # (n_areas, 4, 2) inward unit normals in the local metric frame
    offsets: np.ndarray  # (n_areas, 4)
    ref_lonlat: tuple[float, float]
    metres_per_degree: tuple[float, float]

    @property
    def n_areas(self) -> int:
        return self.cols * self.rows

    @property
    def size_xy(self) -> tuple[float, float]:
        return self.cols * self.size, self.rows * self.size


def lonlat_transformer() -> Transformer:
    return Transformer.from_crs(SAMPLE_CITY_CRS, "EPSG:4326", always_xy=True)


def to_utm() -> Transformer:
    return Transformer.from_crs("EPSG:4326", SAMPLE_CITY_CRS, always_xy=True)


def quad_corners(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertex (row, col) indices of each area's ring, counter-clockwise from the south-west."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    corner_r = np.stack([r, r, r + 1, r + 1], axis=1)
    corner_c = np.stack([c, c + 1, c + 1, c], axis=1)
    return corner_r, corner_c


def _polygon_area(xy: np.ndarray) -> np.ndarray:
    """Shoelace area of rings (n, k, 2), positive when counter-clockwise."""
    x, y = xy[..., 0], xy[..., 1]
    return 0.5 * (x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y).sum(axis=1)


def local_xy(
    lon: np.ndarray, lat: np.ndarray, grid_ref: tuple[float, float], mpd: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    # An affine map of lon/lat keeps the published (lon/lat-straight) edges straight, so
    # point-in-polygon here is exact while distances come out in (approximate) metres.
    return (lon - grid_ref[0]) * mpd[0], (lat - grid_ref[1]) * mpd[1]


def build_grid(config: SampleCityConfig, rng: np.random.Generator) -> Grid:
    rows, cols, size = config.grid_rows, config.grid_cols, config.area_size_m
    cx, cy = to_utm().transform(*CITY_CENTRE_LONLAT)
    origin = (round(cx - cols * size / 2), round(cy - rows * size / 2))
    gy, gx = np.mgrid[0 : rows + 1, 0 : cols + 1].astype(np.float64)
    # Jitter below 0.2 of the cell size keeps every quadrilateral convex; each vertex is drawn
    # once and shared by all areas that touch it, so the areas tile the city exactly.
    jitter = rng.uniform(-0.18, 0.18, size=(rows + 1, cols + 1, 2)) * size
    vert_xy = np.stack([origin[0] + gx * size, origin[1] + gy * size], axis=-1) + jitter
    lon, lat = lonlat_transformer().transform(vert_xy[..., 0], vert_xy[..., 1])
    vert_e7 = np.stack([np.round(lon * 1e7), np.round(lat * 1e7)], axis=-1).astype(np.int64)

    corner_r, corner_c = quad_corners(rows, cols)
    quads_xy = vert_xy[corner_r, corner_c]
    ref_lonlat = CITY_CENTRE_LONLAT
    mpd = (111_320.0 * np.cos(np.radians(ref_lonlat[1])), 110_574.0)
    qlon, qlat = vert_e7[corner_r, corner_c, 0] / 1e7, vert_e7[corner_r, corner_c, 1] / 1e7
    qx, qy = local_xy(qlon, qlat, ref_lonlat, mpd)
    dx, dy = np.roll(qx, -1, axis=1) - qx, np.roll(qy, -1, axis=1) - qy
    length = np.hypot(dx, dy)
    normals = np.stack([-dy / length, dx / length], axis=-1)  # left of a CCW edge is inside
    offsets = normals[..., 0] * qx + normals[..., 1] * qy
    tracts = np.arange(1, rows * cols + 1)
    geoids = np.array([f"{STATE_FIPS}{COUNTY_FIPS}{t * 100:06d}" for t in tracts])
    return Grid(
        cols=cols,
        rows=rows,
        size=size,
        origin=(float(origin[0]), float(origin[1])),
        vert_xy=vert_xy,
        vert_e7=vert_e7,
        geoids=geoids,
        centroid_xy=quads_xy.mean(axis=1),
        area_m2=_polygon_area(quads_xy),
        normals=normals,
        offsets=offsets,
        ref_lonlat=ref_lonlat,
        metres_per_degree=(float(mpd[0]), mpd[1]),
    )


def edge_clearance(grid: Grid, area: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Signed distance (m) from each point to the nearest edge of the given area; > 0 inside."""
    n, off = grid.normals[area], grid.offsets[area]
    return (n[..., 0] * px[:, None] + n[..., 1] * py[:, None] - off).min(axis=1)


def locate(
    grid: Grid, px: np.ndarray, py: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Area index (-1 outside) and clearance of points; candidates come from the plain grid."""
    r0 = np.floor((y - grid.origin[1]) / grid.size).astype(np.int64)
    c0 = np.floor((x - grid.origin[0]) / grid.size).astype(np.int64)
    best = np.full(px.shape, -np.inf)
    area = np.full(px.shape, -1, dtype=np.int64)
    for dr in (-1, 0, 1):  # jitter < half a cell: the true cell is a neighbour of the plain one
        for dc in (-1, 0, 1):
            r, c = r0 + dr, c0 + dc
            valid = (r >= 0) & (r < grid.rows) & (c >= 0) & (c < grid.cols)
            k = np.clip(r, 0, grid.rows - 1) * grid.cols + np.clip(c, 0, grid.cols - 1)
            d = np.where(valid, edge_clearance(grid, k, px, py), -np.inf)
            better = d > best
            best = np.where(better, d, best)
            area = np.where(better, k, area)
    return np.where(best > 0, area, -1), best


def locate_utm(grid: Grid, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Area index (-1 outside) of UTM points, judged against the published polygons."""
    lon, lat = lonlat_transformer().transform(x, y)
    px, py = local_xy(np.asarray(lon), np.asarray(lat), grid.ref_lonlat, grid.metres_per_degree)
    return locate(grid, px, py, x, y)[0]


def round_e9(units: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    """Round 1e-9-degree integers to `decimals` places (half away from zero), still in 1e-9."""
    step = 10 ** (9 - decimals.astype(np.int64))
    return np.sign(units) * ((np.abs(units) + step // 2) // step * step)


def format_e9(units: np.ndarray, decimals: np.ndarray) -> pl.Series:
    """Fixed-decimal strings of 1e-9-degree integers, built column-wise (no per-row Python)."""
    mag = np.abs(units)
    frame = pl.DataFrame(
        {"neg": units < 0, "whole": mag // 10**9, "frac": mag % 10**9, "k": decimals}
    )
    return frame.select(
        pl.concat_str(
            pl.when(pl.col("neg")).then(pl.lit("-")).otherwise(pl.lit("")),
            pl.col("whole").cast(pl.String),
            pl.lit("."),
            pl.col("frac").cast(pl.String).str.zfill(9).str.slice(0, pl.col("k")),
        )
    ).to_series()


def _ordinal(n: int) -> str:
    suffix = "TH" if 10 <= n % 100 <= 20 else {1: "ST", 2: "ND", 3: "RD"}.get(n % 10, "TH")
    return f"{n}{suffix}"


def street_indices(grid: Grid, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Avenue (north-south, numbered from 1) and street (east-west, named) indices every 200 m."""
    ave = np.clip(np.floor((x - grid.origin[0]) / 200.0), 0, None).astype(np.int64) + 1
    street = np.clip(np.floor((y - grid.origin[1]) / 200.0), 0, None).astype(np.int64)
    return ave, street


def street_table(n: int) -> list[str]:
    names = EW_STREETS
    return [("N " if i >= len(names) else "") + names[i % len(names)] + " ST" for i in range(n)]


def avenue_table(n: int) -> list[str]:
    return [_ordinal(i) + " AVE" for i in range(n)]


def block_parts(grid: Grid, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> pl.DataFrame:
    """Where on the street grid each point lies, for any publisher's address style.

    ``block_kind`` 0: on the east-west street, in the hundred block numbered by the avenue;
    1: on the avenue, in the block numbered by the street; 2: at the intersection of both.
    """
    ave, street = street_indices(grid, x, y)
    kind = np.asarray(rng.choice(3, size=x.shape[0], p=[0.45, 0.45, 0.10]))
    return pl.DataFrame(
        {
            "block_kind": pl.Series(kind, dtype=pl.Int8),
            "ave": ave,
            "street": street,
            "ave_name": pl.Series(avenue_table(int(ave.max(initial=1)) + 1)).gather(ave),
            "street_name": pl.Series(street_table(int(street.max(initial=0)) + 1)).gather(street),
        }
    )


def seattle_addresses(parts: pl.DataFrame) -> pl.Series:
    """SPD-style hundred-block addresses ("12XX BLOCK OF PINE ST") or intersections."""
    block_of = pl.lit("XX BLOCK OF ")
    return parts.select(
        pl.when(pl.col("block_kind") == 0)
        .then(pl.concat_str(pl.col("ave").cast(pl.String), block_of, pl.col("street_name")))
        .when(pl.col("block_kind") == 1)
        .then(pl.concat_str((pl.col("street") + 1).cast(pl.String), block_of, pl.col("ave_name")))
        .otherwise(pl.concat_str(pl.col("ave_name"), pl.lit(" / "), pl.col("street_name")))
    ).to_series()

"""Sampling points in the sample city: from an intensity over the areas, around centres, and
onto shared area edges, each kept clear of every other edge."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from crimemap.samplecity.grid import (
    Grid,
    edge_clearance,
    local_xy,
    locate,
    lonlat_transformer,
    quad_corners,
    round_e9,
)
from crimemap.samplecity.settings import CLEARANCE_M

# --------------------------------------------------------------------------------------------
# Point sampling


@dataclass(frozen=True)
class SampledPoints:
    x: np.ndarray  # UTM metres
    y: np.ndarray
    lon_e9: np.ndarray  # int64, 1e-9 degrees, already rounded to the published decimals
    lat_e9: np.ndarray
    area: np.ndarray  # area index
    raw_lon_e9: np.ndarray  # int64, 1e-9 degrees before rounding (publishers round their own way)
    raw_lat_e9: np.ndarray


# draw(rng, idx) -> (x, y, intended area or None) for the points idx still to place
PointDraw = Callable[
    [np.random.Generator, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray | None]
]


def sample_points(
    grid: Grid, rng: np.random.Generator, n: int, draw: PointDraw, decimals: np.ndarray
) -> SampledPoints:
    """Rejection-sample points inside the city and clear of every edge (vectorized rounds)."""
    x, y = np.zeros(n), np.zeros(n)
    lon_e9, lat_e9 = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    raw_lon, raw_lat = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    area = np.full(n, -1, dtype=np.int64)
    to_lonlat = lonlat_transformer()
    pending = np.arange(n)
    for _ in range(200):
        if pending.size == 0:
            break
        px_utm, py_utm, intended = draw(rng, pending)
        lon, lat = to_lonlat.transform(px_utm, py_utm)
        k = decimals[pending]
        raw_lo = np.round(np.asarray(lon) * 1e9).astype(np.int64)
        raw_la = np.round(np.asarray(lat) * 1e9).astype(np.int64)
        lo, la = round_e9(raw_lo, k), round_e9(raw_la, k)
        px, py = local_xy(lo / 1e9, la / 1e9, grid.ref_lonlat, grid.metres_per_degree)
        if intended is None:
            found, clear = locate(grid, px, py, px_utm, py_utm)
        else:
            found, clear = intended, edge_clearance(grid, intended, px, py)
        ok = clear >= CLEARANCE_M
        done = pending[ok]
        x[done], y[done], lon_e9[done], lat_e9[done] = px_utm[ok], py_utm[ok], lo[ok], la[ok]
        raw_lon[done], raw_lat[done], area[done] = raw_lo[ok], raw_la[ok], found[ok]
        pending = pending[~ok]
    if pending.size:
        raise RuntimeError("could not place sample points inside the city")
    return SampledPoints(
        x=x, y=y, lon_e9=lon_e9, lat_e9=lat_e9, area=area, raw_lon_e9=raw_lon, raw_lat_e9=raw_lat
    )


def background_draw(grid: Grid, weights: np.ndarray) -> PointDraw:
    p = weights / weights.sum()
    corner_r, corner_c = quad_corners(grid.rows, grid.cols)
    quads = grid.vert_xy[corner_r, corner_c]  # (areas, 4, 2)

    def draw(
        rng: np.random.Generator, idx: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        area = rng.choice(grid.n_areas, size=idx.size, p=p)
        u, v = rng.random(idx.size), rng.random(idx.size)
        q = quads[area]
        # Bilinear map of the unit square onto a convex quad: always inside that quad.
        w = np.stack([(1 - u) * (1 - v), u * (1 - v), u * v, (1 - u) * v], axis=1)
        xy = (w[..., None] * q).sum(axis=1)
        return xy[:, 0], xy[:, 1], area

    return draw


def gaussian_draw(cx: np.ndarray, cy: np.ndarray, sigma: np.ndarray) -> PointDraw:
    def draw(rng: np.random.Generator, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, None]:
        dx, dy = rng.normal(size=(2, idx.size))
        return cx[idx] + sigma[idx] * dx, cy[idx] + sigma[idx] * dy, None

    return draw


def _interior_edges(grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shared edges: vertex (row, col) pairs and the two areas on either side."""
    rows, cols = grid.rows, grid.cols
    hr, hc = np.mgrid[1:rows, 0:cols].reshape(2, -1)  # horizontal, between rows hr-1 and hr
    vr, vc = np.mgrid[0:rows, 1:cols].reshape(2, -1)  # vertical, between cols vc-1 and vc
    a = np.concatenate([np.stack([hr, hc], 1), np.stack([vr, vc], 1)])
    b = np.concatenate([np.stack([hr, hc + 1], 1), np.stack([vr + 1, vc], 1)])
    sides = np.concatenate(
        [
            np.stack([(hr - 1) * cols + hc, hr * cols + hc], 1),
            np.stack([vr * cols + vc - 1, vr * cols + vc], 1),
        ]
    )
    return a, b, sides


def edge_points(grid: Grid, weights: np.ndarray, n: int, rng: np.random.Generator) -> SampledPoints:
    """Points on shared edges, as a street-centreline geocoder puts them.

    The point is A + m/100 (B - A) with A, B the published 7-decimal vertices, so written with 9
    decimals it lies exactly (in decimal) on the published edge.
    """
    a, b, sides = _interior_edges(grid)
    p = weights[sides].sum(axis=1)
    edge = rng.choice(len(a), size=n, p=p / p.sum())
    m = rng.integers(5, 96, size=n)
    side = rng.integers(0, 2, size=n)
    va = grid.vert_e7[a[edge, 0], a[edge, 1]]
    vb = grid.vert_e7[b[edge, 0], b[edge, 1]]
    pe9 = va * 100 + m[:, None] * (vb - va)
    xa = grid.vert_xy[a[edge, 0], a[edge, 1]]
    xb = grid.vert_xy[b[edge, 0], b[edge, 1]]
    xy = xa + (m[:, None] / 100.0) * (xb - xa)
    return SampledPoints(
        x=xy[:, 0],
        y=xy[:, 1],
        lon_e9=pe9[:, 0],
        lat_e9=pe9[:, 1],
        area=sides[edge, side],
        raw_lon_e9=pe9[:, 0],
        raw_lat_e9=pe9[:, 1],
    )

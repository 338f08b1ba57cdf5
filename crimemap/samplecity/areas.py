"""The sample city's areas: deprivation, ACS base values, hotspots, police beats and the
social-service facilities placed among them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from crimemap.ingestion.facilities import FACILITY_TYPES
from crimemap.ingestion.layouts import (
    FACILITY_COLUMNS,
)
from crimemap.samplecity.grid import Grid, avenue_table, format_e9, street_indices, street_table
from crimemap.samplecity.points import gaussian_draw, sample_points
from crimemap.samplecity.settings import (
    DEPRIVATION_CRIME_BETA,
    FACILITY_NAME_PREFIXES,
    FACILITY_TYPE_LABELS,
    FACILITY_TYPE_WEIGHTS,
    HOTSPOT_TOTAL_SHARE,
    MCPP_NAMES,
    PRECINCT_SECTORS,
)

# --------------------------------------------------------------------------------------------
# Areas: deprivation, indicators, hotspots, facilities


@dataclass(frozen=True)
class CityAreas:
    deprivation: np.ndarray  # standardized z, higher = more deprived
    crime_weight: np.ndarray  # background incident weight per area
    population: np.ndarray
    small: np.ndarray  # bool, population < 300


@dataclass(frozen=True)
class Hotspot:
    hotspot_id: str
    x: float
    y: float
    radius_m: float
    share: float


def _normalized_centroids(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    w, h = grid.size_xy
    return (
        (grid.centroid_xy[:, 0] - grid.origin[0]) / w,
        (grid.centroid_xy[:, 1] - grid.origin[1]) / h,
    )


def deprivation_scores(grid: Grid, rng: np.random.Generator) -> np.ndarray:
    # A broad deprived zone south of the centre plus a peripheral pocket in the north-east that
    # the centre-clustered facilities leave far from services.
    u, v = _normalized_centroids(grid)
    core = np.exp(-((u - 0.55) ** 2 + (v - 0.35) ** 2) / (2 * 0.22**2))
    pocket = 0.9 * np.exp(-((u - 0.9) ** 2 + (v - 0.85) ** 2) / (2 * 0.12**2))
    z = core + pocket + rng.normal(0.0, 0.25, size=u.shape)
    return (z - z.mean()) / z.std()


def choose_hotspots(
    grid: Grid, z: np.ndarray, rng: np.random.Generator
) -> tuple[list[Hotspot], np.ndarray]:
    n_hot = int(rng.integers(4, 7))
    r, c = np.divmod(np.arange(grid.n_areas), grid.cols)
    interior = (r > 0) & (r < grid.rows - 1) & (c > 0) & (c < grid.cols - 1)
    # Gumbel-max ordering = weighted sampling without replacement, favouring deprived areas.
    keys = np.where(interior, 1.2 * z + rng.gumbel(size=z.shape), -np.inf)
    min_spacing = 2.0 * grid.size
    chosen: list[int] = []
    for k in np.argsort(-keys, kind="stable"):
        if not interior[k] or len(chosen) == n_hot:
            break
        if all(
            np.hypot(*(grid.centroid_xy[k] - grid.centroid_xy[j])) >= min_spacing for j in chosen
        ):
            chosen.append(int(k))
    radius = rng.uniform(150.0, 400.0, size=len(chosen))
    offset = rng.uniform(-0.15, 0.15, size=(len(chosen), 2)) * grid.size
    weights = rng.uniform(0.6, 1.4, size=len(chosen))
    shares = HOTSPOT_TOTAL_SHARE * weights / weights.sum()
    hotspots = [
        Hotspot(
            hotspot_id=f"H{i + 1}",
            x=float(grid.centroid_xy[k, 0] + offset[i, 0]),
            y=float(grid.centroid_xy[k, 1] + offset[i, 1]),
            radius_m=float(np.round(radius[i], 1)),
            share=float(np.round(shares[i], 6)),
        )
        for i, k in enumerate(chosen)
    ]
    return hotspots, np.array(chosen, dtype=np.int64)


def build_areas(
    grid: Grid, hot_areas: np.ndarray, z: np.ndarray, rng: np.random.Generator
) -> CityAreas:
    population = np.round(rng.uniform(1500, 9000, size=grid.n_areas)).astype(np.int64)
    # A few areas (parks, industrial land) have almost no residents: rates there explode, which is
    # what the small-population guard must catch.
    candidates = np.setdiff1d(np.arange(grid.n_areas), hot_areas)
    n_small = max(2, round(0.025 * grid.n_areas))
    small_idx = rng.choice(candidates, size=n_small, replace=False)
    population[small_idx] = rng.integers(40, 300, size=n_small)
    small = np.zeros(grid.n_areas, dtype=bool)
    small[small_idx] = True
    crime_weight = grid.area_m2 * np.exp(DEPRIVATION_CRIME_BETA * z)
    return CityAreas(deprivation=z, crime_weight=crime_weight, population=population, small=small)


@dataclass(frozen=True)
class AcsBase:
    """The area stream's ACS estimates (int64 per area); the rest of the table set is drawn by
    ``crimemap.samplecity.records`` from its own stream."""

    population: np.ndarray  # B01003_001E
    poverty_universe: np.ndarray  # B17001_001E
    below_poverty: np.ndarray  # B17001_002E
    labour_force: np.ndarray  # B23025_003E
    unemployed: np.ndarray  # B23025_005E
    median_income: np.ndarray  # B19013_001E


def acs_base(grid: Grid, areas: CityAreas, rng: np.random.Generator) -> AcsBase:
    n = grid.n_areas
    z = areas.deprivation
    pop = areas.population
    poverty_rate = np.clip(0.13 * np.exp(0.55 * z + rng.normal(0, 0.12, n)), 0.02, 0.6)
    unemployment_rate = np.clip(0.05 * np.exp(0.35 * z + rng.normal(0, 0.1, n)), 0.01, 0.3)
    income = np.round(85_000 * np.exp(-0.35 * z + rng.normal(0, 0.1, n)) / 10) * 10
    pov_universe = np.round(pop * rng.uniform(0.94, 0.99, n))
    poverty = np.round(pov_universe * poverty_rate)
    labour_force = np.round(pop * rng.uniform(0.5, 0.62, n))
    unemployed = np.round(labour_force * unemployment_rate)
    return AcsBase(
        population=pop.astype(np.int64),
        poverty_universe=pov_universe.astype(np.int64),
        below_poverty=poverty.astype(np.int64),
        labour_force=labour_force.astype(np.int64),
        unemployed=unemployed.astype(np.int64),
        median_income=income.astype(np.int64),
    )


def area_police_codes(grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precinct, sector, beat and MCPP per area, laid out like SPD's geography."""
    u, v = _normalized_centroids(grid)
    precinct = np.where(
        v > 0.62, "N", np.where(v < 0.3, np.where(u < 0.4, "SW", "S"), np.where(u < 0.5, "W", "E"))
    ).astype(object)
    sector = np.empty(grid.n_areas, dtype=object)
    beat = np.empty(grid.n_areas, dtype=object)
    r, c = np.divmod(np.arange(grid.n_areas), grid.cols)
    for name, sectors in PRECINCT_SECTORS.items():
        members = np.flatnonzero(precinct == name)
        members = members[np.lexsort((r[members], c[members]))]
        for i, chunk in enumerate(np.array_split(members, len(sectors))):
            sector[chunk] = sectors[i]
            beat[chunk] = [f"{sectors[i]}{1 + j % 3}" for j in range(len(chunk))]
    per_row = -(-grid.cols // 3)
    mcpp = np.array(MCPP_NAMES, dtype=object)[((r // 2) * per_row + c // 3) % len(MCPP_NAMES)]
    return precinct, sector, beat, mcpp


# --------------------------------------------------------------------------------------------
# Facilities


def build_facilities(grid: Grid, n: int, rng: np.random.Generator) -> pl.DataFrame:
    # Clustered around the centre, so peripheral deprived areas end up far from services.
    w, h = grid.size_xy
    cx = np.full(n, grid.origin[0] + w / 2)
    cy = np.full(n, grid.origin[1] + h / 2)
    decimals = np.full(n, 6)
    sigma = np.full(n, 0.15 * min(w, h))
    pts = sample_points(grid, rng, n, gaussian_draw(cx, cy, sigma), decimals)
    n_fixed = min(n, len(FACILITY_TYPES))
    types = np.concatenate(
        [
            np.array(FACILITY_TYPES[:n_fixed]),
            rng.choice(np.array(FACILITY_TYPES), size=n - n_fixed, p=FACILITY_TYPE_WEIGHTS),
        ]
    )
    types = types[rng.permutation(n)]
    prefixes = np.array(FACILITY_NAME_PREFIXES)[rng.permutation(len(FACILITY_NAME_PREFIXES))]
    ave, street = street_indices(grid, pts.x, pts.y)
    on_avenue = rng.random(n) < 0.5
    house = rng.integers(0, 100, size=n)
    streets = street_table(int(street.max()) + 1)
    avenues = avenue_table(int(ave.max()) + 1)
    names, addresses = [], []
    for i in range(n):  # a few dozen facilities
        cycle = i // len(prefixes)
        suffix = f" {cycle + 1}" if cycle else ""
        names.append(f"{prefixes[i % len(prefixes)]} {FACILITY_TYPE_LABELS[types[i]]}{suffix}")
        if on_avenue[i]:
            addresses.append(f"{(street[i] + 1) * 100 + house[i]} {avenues[ave[i]]}")
        else:
            addresses.append(f"{ave[i] * 100 + house[i]} {streets[street[i]]}")
    return pl.DataFrame(
        {
            "facility_id": [f"F{i + 1:03d}" for i in range(n)],
            "name": names,
            "facility_type": types.tolist(),
            "address": addresses,
            "latitude": format_e9(pts.lat_e9, decimals),
            "longitude": format_e9(pts.lon_e9, decimals),
        }
    ).select(FACILITY_COLUMNS)

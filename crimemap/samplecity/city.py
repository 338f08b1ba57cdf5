"""The seeded sample city: a fictional jurisdiction whose every analytic has a known answer.

``generate_sample_city`` writes the files listed in ``docs/data-contracts.md`` ("Sample city source
files"): police incidents in the Seattle SPD "Crime Data" export layout with planted defects, tract
boundaries (GeoJSON), ACS indicators (Census API JSON), social-service facilities (CSV), a
resident survey and 311 service requests (CSV), and the truth the pipeline's results are tested
against (``truth.json``, ``truth_incidents.parquet``, ``truth_service_requests.parquet``). The
non-police sources are rendered by ``crimemap.samplecity.records``, which also writes the extra
boundary formats (shapefile, WKT CSV, neighbourhoods) on demand.

Same seed and config give byte-identical files: all randomness comes from one
``numpy.random.SeedSequence``, spawned per component so that, for example, changing the number of
incidents leaves the areas, indicators and facilities unchanged. Nothing depends on today's date.

``build_sample_city`` draws the whole city without writing anything: areas, hotspots, and a
layout-free table of police reports and their NIBRS offenses (``SampleCity``). The Seattle export
(``seattle_spd_export``) and the other publishers' layouts (``crimemap.samplecity.publishers``) are
renderings of that one table, so every layout describes the same incidents.

Geometry is designed in UTM 10N metres and published in EPSG:4326. Coordinates are carried as
integers (1e-7 degrees for area vertices, 1e-9 degrees for points) so that shared vertices stay
identical after rounding and on-edge points are decimal-exact points of the published edges.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pyproj import Transformer

from crimemap.ingestion.census import SOCIAL_SERVICES_TABLE_SET, api_columns
from crimemap.ingestion.facilities import FACILITY_TYPES
from crimemap.ingestion.layouts import (
    FACILITY_COLUMNS,
    SEATTLE_SPD_COLUMNS,
    SEATTLE_SPD_DATETIME_FORMAT,
)

SAMPLE_CITY_CRS = "EPSG:32610"  # UTM zone 10N, metres
SAMPLE_CITY_TIMEZONE = "America/Los_Angeles"
POLICE_CSV_NAME = "seattle_spd_crime_data.csv"
AREAS_GEOJSON_NAME = "areas.geojson"
ACS_JSON_NAME = "acs_5yr_tract.json"
FACILITIES_CSV_NAME = "facilities.csv"
SURVEY_CSV_NAME = "resident_survey_2025.csv"
SERVICE_REQUESTS_CSV_NAME = "sf311_cases.csv"
TRUTH_JSON_NAME = "truth.json"
TRUTH_INCIDENTS_NAME = "truth_incidents.parquet"
TRUTH_SERVICE_REQUESTS_NAME = "truth_service_requests.parquet"

# The Census API header of the whole social-services table set.
ACS_COLUMNS: tuple[str, ...] = (
    "NAME",
    "GEO_ID",
    *api_columns(SOCIAL_SERVICES_TABLE_SET),
    "state",
    "county",
    "tract",
)

# Planted defects, in the order their counts are reported. Codes are the contract's reason codes.
DEFECT_REASONS: tuple[str, ...] = (
    "coordinates_zero",
    "coordinates_missing",
    "out_of_jurisdiction",
    "duplicate_record",
    "date_unparseable",
    "date_future",
    "offense_code_unknown",
)
_DEFECT_WEIGHTS = (0.15, 0.20, 0.15, 0.15, 0.10, 0.10, 0.15)

STATE_FIPS = "53"  # Washington
COUNTY_FIPS = "999"  # no such county: the sample city can never be mistaken for real data
COUNTY_NAME = "Sample County"
STATE_NAME = "Washington"

_CITY_CENTRE_LONLAT = (-122.33, 47.60)
_MULTI_OFFENSE_SIZES = (1, 2, 3)
_MULTI_OFFENSE_PROBS = (0.90, 0.065, 0.035)  # ~10% of reports carry 2-3 offenses
_EDGE_SHARE = 0.05  # of clean reports geocoded onto a shared area edge
_HOTSPOT_TOTAL_SHARE = 0.30
_SEASONAL_AMPLITUDE = 0.20  # summer peak (July), winter trough
_DEPRIVATION_CRIME_BETA = 0.9  # background intensity multiplier exp(beta * z)
_CLEARANCE_M = 1.0  # non-edge points keep this distance from every area edge
_EDGE_POINT_DECIMALS = 9


@dataclass(frozen=True)
class Offense:
    code: str
    group: str  # NIBRS Group A or B
    crime_against: str  # PERSON / PROPERTY / SOCIETY
    parent_group: str
    name: str
    weight: float  # relative frequency, roughly Seattle's mix
    sensitive: bool = False


# Real NIBRS codes as Seattle publishes them: code | group | crime against | parent group |
# offense | relative frequency (%, roughly SPD's mix) | sensitive (sexual offences, trafficking).
_NIBRS_TABLE = """
09A|A|PERSON|HOMICIDE OFFENSES|Murder & Nonnegligent Manslaughter|0.05
100|A|PERSON|KIDNAPPING/ABDUCTION|Kidnapping/Abduction|0.25
11A|A|PERSON|SEX OFFENSES|Rape|0.45|sensitive
11B|A|PERSON|SEX OFFENSES|Sodomy|0.08|sensitive
11C|A|PERSON|SEX OFFENSES|Sexual Assault With An Object|0.05|sensitive
11D|A|PERSON|SEX OFFENSES|Fondling|0.4|sensitive
36A|A|PERSON|SEX OFFENSES, CONSENSUAL|Incest|0.01|sensitive
36B|A|PERSON|SEX OFFENSES, CONSENSUAL|Statutory Rape|0.05|sensitive
64A|A|PERSON|HUMAN TRAFFICKING|Human Trafficking, Commercial Sex Acts|0.02|sensitive
64B|A|PERSON|HUMAN TRAFFICKING|Human Trafficking, Involuntary Servitude|0.01|sensitive
13A|A|PERSON|ASSAULT OFFENSES|Aggravated Assault|3.2
13B|A|PERSON|ASSAULT OFFENSES|Simple Assault|8.5
13C|A|PERSON|ASSAULT OFFENSES|Intimidation|3
120|A|PROPERTY|ROBBERY|Robbery|2.2
200|A|PROPERTY|ARSON|Arson|0.3
210|A|PROPERTY|EXTORTION/BLACKMAIL|Extortion/Blackmail|0.2
220|A|PROPERTY|BURGLARY/BREAKING&ENTERING|Burglary/Breaking & Entering|9.5
23A|A|PROPERTY|LARCENY-THEFT|Pocket-picking|0.3
23B|A|PROPERTY|LARCENY-THEFT|Purse-snatching|0.1
23C|A|PROPERTY|LARCENY-THEFT|Shoplifting|5.5
23D|A|PROPERTY|LARCENY-THEFT|Theft From Building|2.5
23E|A|PROPERTY|LARCENY-THEFT|Theft From Coin-Operated Machine or Device|0.1
23F|A|PROPERTY|LARCENY-THEFT|Theft From Motor Vehicle|8.5
23G|A|PROPERTY|LARCENY-THEFT|Theft of Motor Vehicle Parts or Accessories|2.5
23H|A|PROPERTY|LARCENY-THEFT|All Other Larceny|11
240|A|PROPERTY|MOTOR VEHICLE THEFT|Motor Vehicle Theft|8
250|A|PROPERTY|COUNTERFEITING/FORGERY|Counterfeiting/Forgery|0.5
26A|A|PROPERTY|FRAUD OFFENSES|False Pretenses/Swindle/Confidence Game|2.8
26B|A|PROPERTY|FRAUD OFFENSES|Credit Card/Automated Teller Machine Fraud|1.4
26C|A|PROPERTY|FRAUD OFFENSES|Impersonation|0.6
26D|A|PROPERTY|FRAUD OFFENSES|Welfare Fraud|0.02
26E|A|PROPERTY|FRAUD OFFENSES|Wire Fraud|0.4
26F|A|PROPERTY|FRAUD OFFENSES|Identity Theft|2
26G|A|PROPERTY|FRAUD OFFENSES|Hacking/Computer Invasion|0.05
270|A|PROPERTY|EMBEZZLEMENT|Embezzlement|0.2
280|A|PROPERTY|STOLEN PROPERTY OFFENSES|Stolen Property Offenses|0.5
290|A|PROPERTY|DESTRUCTION/DAMAGE/VANDALISM OF PROPERTY|Destruction/Damage/Vandalism of Property|12
35A|A|SOCIETY|DRUG/NARCOTIC OFFENSES|Drug/Narcotic Violations|1.6
35B|A|SOCIETY|DRUG/NARCOTIC OFFENSES|Drug Equipment Violations|0.3
370|A|SOCIETY|PORNOGRAPHY/OBSCENE MATERIAL|Pornography/Obscene Material|0.1
40A|A|SOCIETY|PROSTITUTION OFFENSES|Prostitution|0.15
40B|A|SOCIETY|PROSTITUTION OFFENSES|Assisting or Promoting Prostitution|0.03
520|A|SOCIETY|WEAPON LAW VIOLATIONS|Weapon Law Violations|0.8
720|A|SOCIETY|ANIMAL CRUELTY|Animal Cruelty|0.05
90C|B|SOCIETY|DISORDERLY CONDUCT|Disorderly Conduct|0.3
90D|B|SOCIETY|DRIVING UNDER THE INFLUENCE|Driving Under the Influence|1.1
90E|B|SOCIETY|DRUNKENNESS|Drunkenness|0.05
90F|B|SOCIETY|FAMILY OFFENSES, NONVIOLENT|Family Offenses, Nonviolent|0.3
90G|B|SOCIETY|LIQUOR LAW VIOLATIONS|Liquor Law Violations|0.1
90J|B|SOCIETY|TRESPASS OF REAL PROPERTY|Trespass of Real Property|3
90Z|B|SOCIETY|ALL OTHER OFFENSES|All Other Offenses|4.5
"""


def _parse_offenses(table: str) -> tuple[Offense, ...]:
    offenses = []
    for line in table.strip().splitlines():
        code, group, against, parent, name, weight, *flag = line.split("|")
        offenses.append(Offense(code, group, against, parent, name, float(weight), bool(flag)))
    return tuple(offenses)


NIBRS_OFFENSES: tuple[Offense, ...] = _parse_offenses(_NIBRS_TABLE)
NIBRS_CODES: frozenset[str] = frozenset(o.code for o in NIBRS_OFFENSES)
SENSITIVE_CODES: frozenset[str] = frozenset(o.code for o in NIBRS_OFFENSES if o.sensitive)

_UNKNOWN_OFFENSE_CODES = ("99X", "ZZZ", "23Z", "13X", "9ZZ")
_UNPARSEABLE_DATES = (
    "13/45/2025 99:00:00 XM",
    "N/A",
    "00/00/0000 00:00:00 AM",
    "02/30/2025 10:15:00 AM",
    "2025-13-45T99:00",
    "UNKNOWN",
)
_ZERO_COORDINATES = ("0", "0.0")

# Relative frequency of offense start by local hour: quiet before dawn, busy afternoon/evening.
_HOUR_WEIGHTS = (
    4.0, 3.0, 3.0, 2.0, 1.5, 1.5, 2.0, 3.0, 4.0, 4.5, 4.5, 4.5,
    5.5, 4.5, 4.5, 5.0, 5.5, 5.5, 5.5, 5.0, 5.0, 4.5, 4.5, 4.0,
)  # fmt: skip
_UNKNOWN_TIME_SHARE = 0.04  # SPD records unknown start times as midnight
MULTILINE_SHARE = 0.001  # of clean rows: a free-text field with an embedded line break

_PRECINCT_SECTORS: dict[str, tuple[str, ...]] = {
    "N": ("B", "J", "L", "N", "U"),
    "E": ("C", "E", "G"),
    "S": ("O", "R", "S"),
    "W": ("D", "K", "M", "Q"),
    "SW": ("F", "W"),
}
_MCPP_NAMES = (
    "BALLARD NORTH", "BALLARD SOUTH", "FREMONT", "WALLINGFORD", "GREENWOOD", "NORTHGATE",
    "UNIVERSITY", "ROOSEVELT/RAVENNA", "SANDPOINT", "LAKECITY", "QUEEN ANNE", "MAGNOLIA",
    "SLU/CASCADE", "EASTLAKE - WEST", "CAPITOL HILL", "MONTLAKE/PORTAGE BAY", "MADISON PARK",
    "BELLTOWN", "DOWNTOWN COMMERCIAL", "FIRST HILL", "CENTRAL AREA/SQUIRE PARK", "MILLER PARK",
    "PIONEER SQUARE", "CHINATOWN/INTERNATIONAL DISTRICT", "JUDKINS PARK/NORTH BEACON HILL",
    "SODO", "MOUNT BAKER", "COLUMBIA CITY", "NORTH BEACON HILL", "MID BEACON HILL",
    "GEORGETOWN", "RAINIER VIEW", "HIGHLAND PARK", "ALKI", "MORGAN", "HIGH POINT",
)  # fmt: skip
_EW_STREETS = (
    "PINE", "PIKE", "UNION", "UNIVERSITY", "SENECA", "SPRING", "MADISON", "MARION", "COLUMBIA",
    "CHERRY", "JAMES", "JEFFERSON", "TERRACE", "YESLER", "WASHINGTON", "MAIN", "JACKSON", "KING",
    "WELLER", "LANE", "DEARBORN", "CHARLES", "BAYVIEW", "HOLGATE", "PLUM", "ATLANTIC",
    "MASSACHUSETTS", "HANFORD", "SPOKANE", "ALASKA",
)  # fmt: skip
_FACILITY_NAME_PREFIXES = (
    "Harborview", "Cascade", "Pioneer", "Lakeside", "Evergreen", "Summit", "Riverside", "Beacon",
    "Northgate", "Rainier", "Elliott", "Olympic", "Westlake", "Madrona", "Cedar", "Alder",
    "Juniper", "Meridian", "Sound", "Salmon Bay", "Duwamish", "Interbay", "Lincoln", "Emerald",
    "Union Bay", "Green Lake", "Pike Place", "Seward", "Jefferson", "Columbia", "Yesler",
    "Magnolia", "Fremont", "Delridge", "Orca", "Mercer", "Capitol", "Denny", "Bayview", "Alki",
)  # fmt: skip
_FACILITY_TYPE_LABELS = {
    "mental_health": "Mental Health Center",
    "substance_use": "Recovery Services",
    "shelter": "Shelter",
    "clinic": "Community Clinic",
    "youth_services": "Youth Center",
}
_FACILITY_TYPE_WEIGHTS = (0.25, 0.2, 0.2, 0.2, 0.15)


@dataclass(frozen=True)
class SampleCityConfig:
    seed: int = 20240601
    n_incidents: int = 120_000  # police CSV records (offense rows), defects included
    first_month: date = date(2024, 7, 1)
    n_months: int = 24  # 2024-07 .. 2026-06 (fixed, never relative to today)
    grid_cols: int = 12  # 12 x 10 = 120 areas
    grid_rows: int = 10
    area_size_m: float = 1200.0
    defect_rate: float = 0.02  # share of records carrying one planted defect
    n_facilities: int = 30

    def __post_init__(self) -> None:
        if self.n_incidents < 1:
            raise ValueError("n_incidents must be at least 1")
        if self.first_month.day != 1:
            raise ValueError("first_month must be the first day of a month")
        if self.n_months < 1:
            raise ValueError("n_months must be at least 1")
        if self.grid_cols < 3 or self.grid_rows < 3:
            raise ValueError("the area grid needs at least 3 x 3 areas")
        if self.area_size_m < 200:
            raise ValueError("area_size_m must be at least 200 metres")
        if not 0 <= self.defect_rate <= 0.5:
            raise ValueError("defect_rate must be between 0 and 0.5")
        if self.n_facilities < 1:
            raise ValueError("n_facilities must be at least 1")


@dataclass(frozen=True)
class SampleCityFiles:
    police_csv: Path
    areas_geojson: Path
    acs_json: Path
    facilities_csv: Path
    truth_json: Path
    truth_incidents: Path
    survey_csv: Path
    service_requests_csv: Path
    truth_service_requests: Path

    @classmethod
    def in_directory(cls, directory: Path) -> SampleCityFiles:
        """The sample city's files, by their contract names, in `directory`."""
        directory = Path(directory)
        return cls(
            police_csv=directory / POLICE_CSV_NAME,
            areas_geojson=directory / AREAS_GEOJSON_NAME,
            acs_json=directory / ACS_JSON_NAME,
            facilities_csv=directory / FACILITIES_CSV_NAME,
            truth_json=directory / TRUTH_JSON_NAME,
            truth_incidents=directory / TRUTH_INCIDENTS_NAME,
            survey_csv=directory / SURVEY_CSV_NAME,
            service_requests_csv=directory / SERVICE_REQUESTS_CSV_NAME,
            truth_service_requests=directory / TRUTH_SERVICE_REQUESTS_NAME,
        )


# --------------------------------------------------------------------------------------------
# Geometry


@dataclass(frozen=True)
class _Grid:
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


def _to_lonlat() -> Transformer:
    return Transformer.from_crs(SAMPLE_CITY_CRS, "EPSG:4326", always_xy=True)


def _to_utm() -> Transformer:
    return Transformer.from_crs("EPSG:4326", SAMPLE_CITY_CRS, always_xy=True)


def _quad_corners(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertex (row, col) indices of each area's ring, counter-clockwise from the south-west."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    corner_r = np.stack([r, r, r + 1, r + 1], axis=1)
    corner_c = np.stack([c, c + 1, c + 1, c], axis=1)
    return corner_r, corner_c


def _polygon_area(xy: np.ndarray) -> np.ndarray:
    """Shoelace area of rings (n, k, 2), positive when counter-clockwise."""
    x, y = xy[..., 0], xy[..., 1]
    return 0.5 * (x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y).sum(axis=1)


def _local_xy(
    lon: np.ndarray, lat: np.ndarray, grid_ref: tuple[float, float], mpd: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    # An affine map of lon/lat keeps the published (lon/lat-straight) edges straight, so
    # point-in-polygon here is exact while distances come out in (approximate) metres.
    return (lon - grid_ref[0]) * mpd[0], (lat - grid_ref[1]) * mpd[1]


def _build_grid(config: SampleCityConfig, rng: np.random.Generator) -> _Grid:
    rows, cols, size = config.grid_rows, config.grid_cols, config.area_size_m
    cx, cy = _to_utm().transform(*_CITY_CENTRE_LONLAT)
    origin = (round(cx - cols * size / 2), round(cy - rows * size / 2))
    gy, gx = np.mgrid[0 : rows + 1, 0 : cols + 1].astype(np.float64)
    # Jitter below 0.2 of the cell size keeps every quadrilateral convex; each vertex is drawn
    # once and shared by all areas that touch it, so the areas tile the city exactly.
    jitter = rng.uniform(-0.18, 0.18, size=(rows + 1, cols + 1, 2)) * size
    vert_xy = np.stack([origin[0] + gx * size, origin[1] + gy * size], axis=-1) + jitter
    lon, lat = _to_lonlat().transform(vert_xy[..., 0], vert_xy[..., 1])
    vert_e7 = np.stack([np.round(lon * 1e7), np.round(lat * 1e7)], axis=-1).astype(np.int64)

    corner_r, corner_c = _quad_corners(rows, cols)
    quads_xy = vert_xy[corner_r, corner_c]
    ref_lonlat = _CITY_CENTRE_LONLAT
    mpd = (111_320.0 * np.cos(np.radians(ref_lonlat[1])), 110_574.0)
    qlon, qlat = vert_e7[corner_r, corner_c, 0] / 1e7, vert_e7[corner_r, corner_c, 1] / 1e7
    qx, qy = _local_xy(qlon, qlat, ref_lonlat, mpd)
    dx, dy = np.roll(qx, -1, axis=1) - qx, np.roll(qy, -1, axis=1) - qy
    length = np.hypot(dx, dy)
    normals = np.stack([-dy / length, dx / length], axis=-1)  # left of a CCW edge is inside
    offsets = normals[..., 0] * qx + normals[..., 1] * qy
    tracts = np.arange(1, rows * cols + 1)
    geoids = np.array([f"{STATE_FIPS}{COUNTY_FIPS}{t * 100:06d}" for t in tracts])
    return _Grid(
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


def _clearance(grid: _Grid, area: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Signed distance (m) from each point to the nearest edge of the given area; > 0 inside."""
    n, off = grid.normals[area], grid.offsets[area]
    return (n[..., 0] * px[:, None] + n[..., 1] * py[:, None] - off).min(axis=1)


def _locate(
    grid: _Grid, px: np.ndarray, py: np.ndarray, x: np.ndarray, y: np.ndarray
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
            d = np.where(valid, _clearance(grid, k, px, py), -np.inf)
            better = d > best
            best = np.where(better, d, best)
            area = np.where(better, k, area)
    return np.where(best > 0, area, -1), best


def _locate_utm(grid: _Grid, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Area index (-1 outside) of UTM points, judged against the published polygons."""
    lon, lat = _to_lonlat().transform(x, y)
    px, py = _local_xy(np.asarray(lon), np.asarray(lat), grid.ref_lonlat, grid.metres_per_degree)
    return _locate(grid, px, py, x, y)[0]


def _round_e9(units: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    """Round 1e-9-degree integers to `decimals` places (half away from zero), still in 1e-9."""
    step = 10 ** (9 - decimals.astype(np.int64))
    return np.sign(units) * ((np.abs(units) + step // 2) // step * step)


def _format_e9(units: np.ndarray, decimals: np.ndarray) -> pl.Series:
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


# --------------------------------------------------------------------------------------------
# Areas: deprivation, indicators, hotspots, facilities


@dataclass(frozen=True)
class _Areas:
    deprivation: np.ndarray  # standardized z, higher = more deprived
    crime_weight: np.ndarray  # background incident weight per area
    population: np.ndarray
    small: np.ndarray  # bool, population < 300


@dataclass(frozen=True)
class _Hotspot:
    hotspot_id: str
    x: float
    y: float
    radius_m: float
    share: float


def _normalized_centroids(grid: _Grid) -> tuple[np.ndarray, np.ndarray]:
    w, h = grid.size_xy
    return (
        (grid.centroid_xy[:, 0] - grid.origin[0]) / w,
        (grid.centroid_xy[:, 1] - grid.origin[1]) / h,
    )


def _deprivation(grid: _Grid, rng: np.random.Generator) -> np.ndarray:
    # A broad deprived zone south of the centre plus a peripheral pocket in the north-east that
    # the centre-clustered facilities leave far from services.
    u, v = _normalized_centroids(grid)
    core = np.exp(-((u - 0.55) ** 2 + (v - 0.35) ** 2) / (2 * 0.22**2))
    pocket = 0.9 * np.exp(-((u - 0.9) ** 2 + (v - 0.85) ** 2) / (2 * 0.12**2))
    z = core + pocket + rng.normal(0.0, 0.25, size=u.shape)
    return (z - z.mean()) / z.std()


def _choose_hotspots(
    grid: _Grid, z: np.ndarray, rng: np.random.Generator
) -> tuple[list[_Hotspot], np.ndarray]:
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
    shares = _HOTSPOT_TOTAL_SHARE * weights / weights.sum()
    hotspots = [
        _Hotspot(
            hotspot_id=f"H{i + 1}",
            x=float(grid.centroid_xy[k, 0] + offset[i, 0]),
            y=float(grid.centroid_xy[k, 1] + offset[i, 1]),
            radius_m=float(np.round(radius[i], 1)),
            share=float(np.round(shares[i], 6)),
        )
        for i, k in enumerate(chosen)
    ]
    return hotspots, np.array(chosen, dtype=np.int64)


def _build_areas(
    grid: _Grid, hot_areas: np.ndarray, z: np.ndarray, rng: np.random.Generator
) -> _Areas:
    population = np.round(rng.uniform(1500, 9000, size=grid.n_areas)).astype(np.int64)
    # A few areas (parks, industrial land) have almost no residents: rates there explode, which is
    # what the small-population guard must catch.
    candidates = np.setdiff1d(np.arange(grid.n_areas), hot_areas)
    n_small = max(2, round(0.025 * grid.n_areas))
    small_idx = rng.choice(candidates, size=n_small, replace=False)
    population[small_idx] = rng.integers(40, 300, size=n_small)
    small = np.zeros(grid.n_areas, dtype=bool)
    small[small_idx] = True
    crime_weight = grid.area_m2 * np.exp(_DEPRIVATION_CRIME_BETA * z)
    return _Areas(deprivation=z, crime_weight=crime_weight, population=population, small=small)


@dataclass(frozen=True)
class _AcsBase:
    """The area stream's ACS estimates (int64 per area); the rest of the table set is drawn by
    ``crimemap.samplecity.records`` from its own stream."""

    population: np.ndarray  # B01003_001E
    poverty_universe: np.ndarray  # B17001_001E
    below_poverty: np.ndarray  # B17001_002E
    labour_force: np.ndarray  # B23025_003E
    unemployed: np.ndarray  # B23025_005E
    median_income: np.ndarray  # B19013_001E


def _acs_base(grid: _Grid, areas: _Areas, rng: np.random.Generator) -> _AcsBase:
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
    return _AcsBase(
        population=pop.astype(np.int64),
        poverty_universe=pov_universe.astype(np.int64),
        below_poverty=poverty.astype(np.int64),
        labour_force=labour_force.astype(np.int64),
        unemployed=unemployed.astype(np.int64),
        median_income=income.astype(np.int64),
    )


def _area_police_codes(grid: _Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precinct, sector, beat and MCPP per area, laid out like SPD's geography."""
    u, v = _normalized_centroids(grid)
    precinct = np.where(
        v > 0.62, "N", np.where(v < 0.3, np.where(u < 0.4, "SW", "S"), np.where(u < 0.5, "W", "E"))
    ).astype(object)
    sector = np.empty(grid.n_areas, dtype=object)
    beat = np.empty(grid.n_areas, dtype=object)
    r, c = np.divmod(np.arange(grid.n_areas), grid.cols)
    for name, sectors in _PRECINCT_SECTORS.items():
        members = np.flatnonzero(precinct == name)
        members = members[np.lexsort((r[members], c[members]))]
        for i, chunk in enumerate(np.array_split(members, len(sectors))):
            sector[chunk] = sectors[i]
            beat[chunk] = [f"{sectors[i]}{1 + j % 3}" for j in range(len(chunk))]
    per_row = -(-grid.cols // 3)
    mcpp = np.array(_MCPP_NAMES, dtype=object)[((r // 2) * per_row + c // 3) % len(_MCPP_NAMES)]
    return precinct, sector, beat, mcpp


def _ordinal(n: int) -> str:
    suffix = "TH" if 10 <= n % 100 <= 20 else {1: "ST", 2: "ND", 3: "RD"}.get(n % 10, "TH")
    return f"{n}{suffix}"


def _street_indices(grid: _Grid, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Avenue (north-south, numbered from 1) and street (east-west, named) indices every 200 m."""
    ave = np.clip(np.floor((x - grid.origin[0]) / 200.0), 0, None).astype(np.int64) + 1
    street = np.clip(np.floor((y - grid.origin[1]) / 200.0), 0, None).astype(np.int64)
    return ave, street


def _street_table(n: int) -> list[str]:
    names = _EW_STREETS
    return [("N " if i >= len(names) else "") + names[i % len(names)] + " ST" for i in range(n)]


def _avenue_table(n: int) -> list[str]:
    return [_ordinal(i) + " AVE" for i in range(n)]


def _block_parts(
    grid: _Grid, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> pl.DataFrame:
    """Where on the street grid each point lies, for any publisher's address style.

    ``block_kind`` 0: on the east-west street, in the hundred block numbered by the avenue;
    1: on the avenue, in the block numbered by the street; 2: at the intersection of both.
    """
    ave, street = _street_indices(grid, x, y)
    kind = rng.choice(3, size=x.shape[0], p=[0.45, 0.45, 0.10])
    return pl.DataFrame(
        {
            "block_kind": pl.Series(kind, dtype=pl.Int8),
            "ave": ave,
            "street": street,
            "ave_name": pl.Series(_avenue_table(int(ave.max(initial=1)) + 1)).gather(ave),
            "street_name": pl.Series(_street_table(int(street.max(initial=0)) + 1)).gather(street),
        }
    )


def _seattle_addresses(parts: pl.DataFrame) -> pl.Series:
    """SPD-style hundred-block addresses ("12XX BLOCK OF PINE ST") or intersections."""
    block_of = pl.lit("XX BLOCK OF ")
    return parts.select(
        pl.when(pl.col("block_kind") == 0)
        .then(pl.concat_str(pl.col("ave").cast(pl.String), block_of, pl.col("street_name")))
        .when(pl.col("block_kind") == 1)
        .then(pl.concat_str((pl.col("street") + 1).cast(pl.String), block_of, pl.col("ave_name")))
        .otherwise(pl.concat_str(pl.col("ave_name"), pl.lit(" / "), pl.col("street_name")))
    ).to_series()


# --------------------------------------------------------------------------------------------
# Point sampling


@dataclass(frozen=True)
class _Points:
    x: np.ndarray  # UTM metres
    y: np.ndarray
    lon_e9: np.ndarray  # int64, 1e-9 degrees, already rounded to the published decimals
    lat_e9: np.ndarray
    area: np.ndarray  # area index
    raw_lon_e9: np.ndarray  # int64, 1e-9 degrees before rounding (publishers round their own way)
    raw_lat_e9: np.ndarray


# draw(rng, idx) -> (x, y, intended area or None) for the points idx still to place
_Draw = Callable[
    [np.random.Generator, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray | None]
]


def _sample_points(
    grid: _Grid, rng: np.random.Generator, n: int, draw: _Draw, decimals: np.ndarray
) -> _Points:
    """Rejection-sample points inside the city and clear of every edge (vectorized rounds)."""
    x, y = np.zeros(n), np.zeros(n)
    lon_e9, lat_e9 = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    raw_lon, raw_lat = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    area = np.full(n, -1, dtype=np.int64)
    to_lonlat = _to_lonlat()
    pending = np.arange(n)
    for _ in range(200):
        if pending.size == 0:
            break
        px_utm, py_utm, intended = draw(rng, pending)
        lon, lat = to_lonlat.transform(px_utm, py_utm)
        k = decimals[pending]
        raw_lo = np.round(np.asarray(lon) * 1e9).astype(np.int64)
        raw_la = np.round(np.asarray(lat) * 1e9).astype(np.int64)
        lo, la = _round_e9(raw_lo, k), _round_e9(raw_la, k)
        px, py = _local_xy(lo / 1e9, la / 1e9, grid.ref_lonlat, grid.metres_per_degree)
        if intended is None:
            found, clear = _locate(grid, px, py, px_utm, py_utm)
        else:
            found, clear = intended, _clearance(grid, intended, px, py)
        ok = clear >= _CLEARANCE_M
        done = pending[ok]
        x[done], y[done], lon_e9[done], lat_e9[done] = px_utm[ok], py_utm[ok], lo[ok], la[ok]
        raw_lon[done], raw_lat[done], area[done] = raw_lo[ok], raw_la[ok], found[ok]
        pending = pending[~ok]
    if pending.size:
        raise RuntimeError("could not place sample points inside the city")
    return _Points(
        x=x, y=y, lon_e9=lon_e9, lat_e9=lat_e9, area=area, raw_lon_e9=raw_lon, raw_lat_e9=raw_lat
    )


def _background_draw(grid: _Grid, weights: np.ndarray) -> _Draw:
    p = weights / weights.sum()
    corner_r, corner_c = _quad_corners(grid.rows, grid.cols)
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


def _gaussian_draw(cx: np.ndarray, cy: np.ndarray, sigma: np.ndarray) -> _Draw:
    def draw(rng: np.random.Generator, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, None]:
        dx, dy = rng.normal(size=(2, idx.size))
        return cx[idx] + sigma[idx] * dx, cy[idx] + sigma[idx] * dy, None

    return draw


def _interior_edges(grid: _Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _edge_points(grid: _Grid, weights: np.ndarray, n: int, rng: np.random.Generator) -> _Points:
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
    return _Points(
        x=xy[:, 0],
        y=xy[:, 1],
        lon_e9=pe9[:, 0],
        lat_e9=pe9[:, 1],
        area=sides[edge, side],
        raw_lon_e9=pe9[:, 0],
        raw_lat_e9=pe9[:, 1],
    )


# --------------------------------------------------------------------------------------------
# Facilities


def _build_facilities(grid: _Grid, n: int, rng: np.random.Generator) -> pl.DataFrame:
    # Clustered around the centre, so peripheral deprived areas end up far from services.
    w, h = grid.size_xy
    cx = np.full(n, grid.origin[0] + w / 2)
    cy = np.full(n, grid.origin[1] + h / 2)
    decimals = np.full(n, 6)
    sigma = np.full(n, 0.15 * min(w, h))
    pts = _sample_points(grid, rng, n, _gaussian_draw(cx, cy, sigma), decimals)
    n_fixed = min(n, len(FACILITY_TYPES))
    types = np.concatenate(
        [
            np.array(FACILITY_TYPES[:n_fixed]),
            rng.choice(np.array(FACILITY_TYPES), size=n - n_fixed, p=_FACILITY_TYPE_WEIGHTS),
        ]
    )
    types = types[rng.permutation(n)]
    prefixes = np.array(_FACILITY_NAME_PREFIXES)[rng.permutation(len(_FACILITY_NAME_PREFIXES))]
    ave, street = _street_indices(grid, pts.x, pts.y)
    on_avenue = rng.random(n) < 0.5
    house = rng.integers(0, 100, size=n)
    streets = _street_table(int(street.max()) + 1)
    avenues = _avenue_table(int(ave.max()) + 1)
    names, addresses = [], []
    for i in range(n):  # a few dozen facilities
        cycle = i // len(prefixes)
        suffix = f" {cycle + 1}" if cycle else ""
        names.append(f"{prefixes[i % len(prefixes)]} {_FACILITY_TYPE_LABELS[types[i]]}{suffix}")
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
            "latitude": _format_e9(pts.lat_e9, decimals),
            "longitude": _format_e9(pts.lon_e9, decimals),
        }
    ).select(FACILITY_COLUMNS)


# --------------------------------------------------------------------------------------------
# Planted dynamics: the answers the analytics marts must find

_RISING_SHARE = 0.07  # of reports, moved into a cluster whose intensity grows over time
_RISING_GROWTH = 2.0  # the cluster's last month is this many times as intense as its first
_RISING_RADIUS_M = 300.0
_SPIKE_CODE = "220"  # burglary
_SPIKE_MIN_REPORTS = 12
_SPIKE_MULTIPLE = 4.0  # extra reports = this many times the area's usual monthly burglaries
_INITIATIVE_NAME = "Safe Streets pilot"
_INITIATIVE_RELOCATED_SHARE = 0.4  # of the treated areas' reports from the start month on
_UNDERSERVED_POPULATION = 2500


@dataclass(frozen=True)
class _Plan:
    """Where the dynamics are planted (area indices; None when the grid is too small)."""

    rising_area: int | None
    rising_xy: tuple[float, float] | None
    spike_area: int | None
    spike_month: int  # month index
    initiative_areas: tuple[int, ...]
    initiative_month: int
    underserved_area: int | None


def _neighbourhood(grid: _Grid, k: int) -> set[int]:
    r, c = divmod(k, grid.cols)
    return {
        rr * grid.cols + cc
        for rr in range(max(r - 1, 0), min(r + 2, grid.rows))
        for cc in range(max(c - 1, 0), min(c + 2, grid.cols))
    }


def _facility_xy(facilities: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    lat = facilities.get_column("latitude").cast(pl.Float64).to_numpy()
    lon = facilities.get_column("longitude").cast(pl.Float64).to_numpy()
    x, y = _to_utm().transform(lon, lat)
    return np.asarray(x), np.asarray(y)


def _nearest_facility_m(grid: _Grid, facilities: pl.DataFrame) -> np.ndarray:
    fx, fy = _facility_xy(facilities)
    dx = grid.centroid_xy[:, 0, None] - fx[None, :]
    dy = grid.centroid_xy[:, 1, None] - fy[None, :]
    return np.hypot(dx, dy).min(axis=1)


def _underserved_area(areas: _Areas, nearest_m: np.ndarray) -> int | None:
    """Of the clearly deprived populated areas, the one farthest from every facility."""
    candidates = np.flatnonzero((areas.deprivation > 1.0) & ~areas.small)
    return int(candidates[np.argmax(nearest_m[candidates])]) if candidates.size else None


def _plan_dynamics(
    grid: _Grid,
    config: SampleCityConfig,
    areas: _Areas,
    hot_areas: np.ndarray,
    facilities: pl.DataFrame,
    rng: np.random.Generator,
) -> _Plan:
    r, c = np.divmod(np.arange(grid.n_areas), grid.cols)
    interior = (r > 0) & (r < grid.rows - 1) & (c > 0) & (c < grid.cols - 1)
    taken: set[int] = set()
    for k in hot_areas:
        taken |= _neighbourhood(grid, int(k))
    deprivation = areas.deprivation
    underserved = _underserved_area(areas, _nearest_facility_m(grid, facilities))
    if underserved is not None:
        taken |= _neighbourhood(grid, underserved)

    def free(k: int) -> bool:
        return bool(interior[k]) and k not in taken

    # The rising cluster sits in a deprived area, as emerging problems tend to.
    rising_candidates = [k for k in range(grid.n_areas) if free(k) and deprivation[k] > 0]
    rising = int(rng.choice(rising_candidates)) if rising_candidates else None
    if rising is not None:
        taken |= _neighbourhood(grid, rising)
    blocks = [
        (k, k + 1, k + grid.cols, k + grid.cols + 1)
        for k in range(grid.n_areas)
        if c[k] < grid.cols - 1
        and r[k] < grid.rows - 1
        and all(free(j) for j in (k, k + 1, k + grid.cols, k + grid.cols + 1))
    ]
    block = blocks[int(rng.integers(len(blocks)))] if blocks else ()
    for k in block:
        taken |= _neighbourhood(grid, k)
    spike_candidates = [k for k in range(grid.n_areas) if free(k)]
    spike = int(rng.choice(spike_candidates)) if spike_candidates else None
    rising_xy = None
    if rising is not None:
        offset = rng.uniform(-0.1, 0.1, size=2) * grid.size
        rising_xy = (
            float(grid.centroid_xy[rising, 0] + offset[0]),
            float(grid.centroid_xy[rising, 1] + offset[1]),
        )
    return _Plan(
        rising_area=rising,
        rising_xy=rising_xy,
        spike_area=spike,
        spike_month=max(config.n_months - 5, 0),
        initiative_areas=tuple(int(k) for k in block),
        initiative_month=config.n_months // 2,
        underserved_area=underserved,
    )


def _relocate(
    grid: _Grid,
    state: dict[str, np.ndarray],
    idx: np.ndarray,
    draw: _Draw,
    rng: np.random.Generator,
) -> None:
    """Move the reports `idx` to points drawn by `draw` (no longer on an edge or a hotspot)."""
    pts = _sample_points(grid, rng, idx.size, draw, state["decimals"][idx])
    for f in ("x", "y", "lon_e9", "lat_e9", "area", "raw_lon_e9", "raw_lat_e9"):
        state[f][idx] = getattr(pts, f)
    state["on_edge"][idx] = False
    state["hot"][idx] = -1


def _plant_dynamics(
    grid: _Grid,
    areas: _Areas,
    plan: _Plan,
    config: SampleCityConfig,
    state: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Move reports to plant a rising cluster, a burglary spike and an initiative's effect.

    ``state`` holds the per-report arrays (points, hot, on_edge, decimals, start/report/end) and
    is changed in place. Reports are moved, never added, so the export keeps its size. Returns
    the planted label per report ("" for none) and the forced primary offense (-1 for none).
    """
    n = state["x"].size
    label = np.full(n, "", dtype=object)
    forced = np.full(n, -1, dtype=np.int64)
    treated = np.isin(state["area"], np.array(plan.initiative_areas, dtype=np.int64))
    movable = (state["hot"] < 0) & ~state["on_edge"] & ~treated

    if plan.rising_xy is not None:
        n_rise = min(round(_RISING_SHARE * n), int(movable.sum()))
        idx = np.sort(rng.choice(np.flatnonzero(movable), size=n_rise, replace=False))
        x0, y0 = plan.rising_xy
        sigma = np.full(n_rise, _RISING_RADIUS_M / 2)
        draw = _gaussian_draw(np.full(n_rise, x0), np.full(n_rise, y0), sigma)
        _relocate(grid, state, idx, draw, rng)
        _, days, _ = _month_starts(config.first_month, config.n_months)
        ramp = 1 + (_RISING_GROWTH - 1) * np.arange(config.n_months) / max(config.n_months - 1, 1)
        month = rng.choice(config.n_months, size=n_rise, p=days * ramp / (days * ramp).sum())
        state["start"][idx], state["report"][idx], state["end"][idx] = _times_in_months(
            config, month, rng
        )
        label[idx] = "rising_hotspot"
        movable[idx] = False

    if plan.spike_area is not None:
        n_spike = _spike_reports(areas, plan.spike_area, config, n)
        idx = np.sort(rng.choice(np.flatnonzero(movable), size=n_spike, replace=False))
        weights = np.zeros(grid.n_areas)
        weights[plan.spike_area] = 1.0
        draw = _background_draw(grid, weights)
        _relocate(grid, state, idx, draw, rng)
        month = np.full(n_spike, plan.spike_month)
        state["start"][idx], state["report"][idx], state["end"][idx] = _times_in_months(
            config, month, rng
        )
        label[idx] = "spike"
        forced[idx] = _offense_index(_SPIKE_CODE)

    if plan.initiative_areas:
        starts, _, _ = _month_starts(config.first_month, config.n_months)
        treated = np.isin(state["area"], np.array(plan.initiative_areas, dtype=np.int64))
        after = state["start"] >= starts[plan.initiative_month]
        candidates = np.flatnonzero(treated & after & (label == ""))
        idx = candidates[rng.random(candidates.size) < _INITIATIVE_RELOCATED_SHARE]
        weights = areas.crime_weight.copy()
        weights[list(plan.initiative_areas)] = 0.0
        draw = _background_draw(grid, weights)
        _relocate(grid, state, idx, draw, rng)
        label[idx] = "initiative_displaced"
    return label, forced


def _force_primary_offense(
    offense: np.ndarray, forced: np.ndarray, first_of_report: np.ndarray
) -> np.ndarray:
    """Give planted reports their offense; their further offenses stay different from it."""
    rows = np.arange(offense.size)
    is_first = np.zeros(offense.size, dtype=bool)
    is_first[first_of_report] = True
    hit = forced >= 0
    out = np.where(hit & is_first, forced, offense)
    clash = hit & ~is_first & (out == forced)
    out[rows[clash]] = (out[clash] + 1) % len(NIBRS_OFFENSES)
    return out


def _offense_index(code: str) -> int:
    return next(i for i, o in enumerate(NIBRS_OFFENSES) if o.code == code)


def _spike_reports(areas: _Areas, area: int, config: SampleCityConfig, n_reports: int) -> int:
    """Enough extra burglaries to stand out: a multiple of the area's usual monthly count."""
    w = np.array([o.weight for o in NIBRS_OFFENSES])
    burglary_share = w[_offense_index(_SPIKE_CODE)] / w.sum()
    area_share = (1 - _HOTSPOT_TOTAL_SHARE) * areas.crime_weight[area] / areas.crime_weight.sum()
    usual = n_reports * burglary_share * area_share / config.n_months
    return max(_SPIKE_MIN_REPORTS, int(np.ceil(_SPIKE_MULTIPLE * usual)))


# --------------------------------------------------------------------------------------------
# Police incidents


@dataclass(frozen=True)
class SeattleExport:
    frame: pl.DataFrame  # SEATTLE_SPD_COLUMNS, all strings
    truth: pl.DataFrame  # row_number, defect, area_id, hotspot_id, on_edge
    n_reports: int
    n_multi_offense_reports: int


def _report_sizes(n_rows: int, rng: np.random.Generator) -> np.ndarray:
    sizes = rng.choice(np.array(_MULTI_OFFENSE_SIZES), size=n_rows, p=_MULTI_OFFENSE_PROBS)
    total = np.cumsum(sizes)
    n_reports = int(np.searchsorted(total, n_rows)) + 1
    sizes = sizes[:n_reports].copy()
    sizes[-1] -= total[n_reports - 1] - n_rows
    return sizes


def _month_starts(first: date, n_months: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start (datetime64[s]), length in days and calendar month (1-12) of each month."""
    start_m = np.datetime64(first, "M") + np.arange(n_months + 1)
    days = np.diff(start_m.astype("datetime64[D]")).astype(np.int64)
    month_of_year = start_m[:-1].astype(np.int64) % 12 + 1
    return start_m[:-1].astype("datetime64[s]"), days, month_of_year


def _skip_dst_gap(t: np.ndarray) -> np.ndarray:
    """Move local wall-clock times that do not exist (spring-forward hour) one hour on."""
    local = pl.Series(t.astype("datetime64[us]")).dt.replace_time_zone(
        SAMPLE_CITY_TIMEZONE, ambiguous="earliest", non_existent="null"
    )
    return t + np.where(local.is_null().to_numpy(), 3600, 0).astype("timedelta64[s]")


def _format_local(t: np.ndarray) -> pl.Series:
    return pl.Series(t.astype("datetime64[us]")).dt.strftime(SEATTLE_SPD_DATETIME_FORMAT)


def _offense_times(
    config: SampleCityConfig, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offense start, report and (NaT where unknown) end, as naive local datetime64[s]."""
    starts, days, moy = _month_starts(config.first_month, config.n_months)
    season = 1 + _SEASONAL_AMPLITUDE * np.cos(2 * np.pi * (moy - 7) / 12)  # peak in July
    p_month = days * season
    month = rng.choice(len(starts), size=n, p=p_month / p_month.sum())
    return _times_in_months(config, month, rng)


def _times_in_months(
    config: SampleCityConfig, month: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, report and end times of offenses in the given month indices."""
    n = month.size
    starts, days, _ = _month_starts(config.first_month, config.n_months)
    day = np.floor(rng.random(n) * days[month]).astype(np.int64)
    hw = np.array(_HOUR_WEIGHTS)
    hour = rng.choice(24, size=n, p=hw / hw.sum())
    minute = rng.integers(0, 60, size=n)
    unknown_time = rng.random(n) < _UNKNOWN_TIME_SHARE
    hour, minute = np.where(unknown_time, 0, hour), np.where(unknown_time, 0, minute)
    offset_s = day * 86_400 + hour * 3_600 + minute * 60
    start = _skip_dst_gap(starts[month] + offset_s.astype("timedelta64[s]"))
    # Reporting lag: mostly hours, a tail of days to weeks (discovered burglaries, frauds).
    lag_h = np.where(
        rng.random(n) < 0.08,
        rng.uniform(48, 720, size=n),
        np.clip(rng.lognormal(np.log(3.0), 1.3, size=n), 0.25, 48),
    )
    lag_s = (np.round(lag_h * 60) * 60).astype(np.int64)
    report = _skip_dst_gap(start + lag_s.astype("timedelta64[s]"))
    has_end = rng.random(n) < 0.2
    end_s = (np.floor(rng.random(n) * lag_s / 60) * 60).astype(np.int64)
    end = np.minimum(_skip_dst_gap(start + end_s.astype("timedelta64[s]")), report)
    end = np.where(has_end, end, np.datetime64("NaT"))
    return start, report, end


def _offense_codes(
    report_of_row: np.ndarray, first_of_report: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Offense index per row; a report's further offenses differ from its first one."""
    w = np.array([o.weight for o in NIBRS_OFFENSES])
    code = rng.choice(len(NIBRS_OFFENSES), size=report_of_row.size, p=w / w.sum())
    primary = code[first_of_report[report_of_row]]
    is_secondary = np.arange(report_of_row.size) != first_of_report[report_of_row]
    clash = is_secondary & (code == primary)
    return np.where(clash, (code + 1) % len(NIBRS_OFFENSES), code)


def _locate_reports(
    grid: _Grid,
    areas: _Areas,
    hotspots: list[_Hotspot],
    n: int,
    rng: np.random.Generator,
) -> tuple[_Points, np.ndarray, np.ndarray, np.ndarray]:
    """Location of each report: (points, hotspot index or -1, on_edge, published decimals)."""
    shares = [h.share for h in hotspots]
    background = 1.0 - sum(shares)
    kinds = rng.multinomial(n, [*shares, _EDGE_SHARE, background - _EDGE_SHARE])
    label = np.repeat(np.arange(len(hotspots) + 2), kinds)[rng.permutation(n)]
    hot = np.where(label < len(hotspots), label, -1)
    on_edge = label == len(hotspots)
    plain = label == len(hotspots) + 1
    decimals = rng.choice(np.array([6, 7, 8, 9]), size=n, p=[0.4, 0.2, 0.2, 0.2])
    decimals[on_edge] = _EDGE_POINT_DECIMALS

    fields = ("x", "y", "lon_e9", "lat_e9", "area", "raw_lon_e9", "raw_lat_e9")
    out = {f: np.zeros(n, dtype=np.float64 if f in ("x", "y") else np.int64) for f in fields}

    def put(mask: np.ndarray, pts: _Points) -> None:
        for f in fields:
            out[f][mask] = getattr(pts, f)

    hx = np.array([h.x for h in hotspots])
    hy = np.array([h.y for h in hotspots])
    hs = np.array([h.radius_m / 2 for h in hotspots])  # radius = 2 sigma (~86% of the cluster)
    is_hot = hot >= 0
    h_idx = hot[is_hot]
    put(
        is_hot,
        _sample_points(
            grid, rng, h_idx.size, _gaussian_draw(hx[h_idx], hy[h_idx], hs[h_idx]), decimals[is_hot]
        ),
    )
    put(
        plain,
        _sample_points(
            grid, rng, int(plain.sum()), _background_draw(grid, areas.crime_weight), decimals[plain]
        ),
    )
    put(on_edge, _edge_points(grid, areas.crime_weight, int(on_edge.sum()), rng))
    return _Points(**out), hot, on_edge, decimals


def _allocate(total: int, weights: tuple[float, ...]) -> np.ndarray:
    """Split an integer total by weights (largest remainder), deterministically."""
    w = np.array(weights) / sum(weights)
    raw = total * w
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def _out_of_jurisdiction_e9(
    grid: _Grid, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points 2-20 km outside the city's bounding box (hence outside the city).

    Returns unrounded lon/lat in 1e-9 degrees and the decimals SPD would publish them with.
    """
    xmin, ymin = grid.vert_xy[..., 0].min(), grid.vert_xy[..., 1].min()
    xmax, ymax = grid.vert_xy[..., 0].max(), grid.vert_xy[..., 1].max()
    w, h = xmax - xmin, ymax - ymin
    side = rng.choice(4, size=n, p=np.array([w, w, h, h]) / (2 * (w + h)))
    along = rng.uniform(0, 1, size=n)
    out = rng.uniform(2_000, 19_500, size=n)
    x = np.select([side == 0, side == 1, side == 2], [xmin + along * w] * 2 + [xmin - out])
    x = np.where(side == 3, xmax + out, x)
    y = np.select([side == 0, side == 1], [ymin - out, ymax + out], ymin + along * h)
    lon, lat = _to_lonlat().transform(x, y)
    decimals = rng.choice(np.array([6, 7, 8, 9]), size=n)
    lon_e9 = np.round(np.asarray(lon) * 1e9).astype(np.int64)
    lat_e9 = np.round(np.asarray(lat) * 1e9).astype(np.int64)
    return lon_e9, lat_e9, decimals


def _out_of_jurisdiction(
    grid: _Grid, n: int, rng: np.random.Generator
) -> tuple[pl.Series, pl.Series]:
    lon_e9, lat_e9, decimals = _out_of_jurisdiction_e9(grid, n, rng)
    return (
        _format_e9(_round_e9(lon_e9, decimals), decimals),
        _format_e9(_round_e9(lat_e9, decimals), decimals),
    )


def _embed_newlines(values: pl.Series, rows: np.ndarray) -> pl.Series:
    """Break the given rows' text before its last word: a quoted multi-line CSV field."""
    if rows.size == 0:
        return values
    broken = values.gather(rows).str.replace(r" (\S+)$", "\n$1")
    return values.scatter(rows, broken)


def _multiline_rows(
    defect: np.ndarray, keep_intact: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A few clean rows (sorted) that get a multi-line free-text field; `keep_intact` rows
    (originals of planted duplicates) are left alone so their copies stay exact."""
    candidates = np.setdiff1d(np.flatnonzero(defect < 0), keep_intact)
    n = min(round(MULTILINE_SHARE * candidates.size), candidates.size)
    return np.sort(rng.choice(candidates, size=n, replace=False)) if n else candidates[:0]


def _plant_defects(
    frame: pl.DataFrame,
    truth: dict[str, np.ndarray],
    grid: _Grid,
    config: SampleCityConfig,
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    """Give `defect_rate` of the rows exactly one defect each; the rest stay clean."""
    n = frame.height
    n_defects = min(round(config.defect_rate * n), max(n - 1, 0))
    counts = _allocate(n_defects, _DEFECT_WEIGHTS)
    # Row 0 stays clean so every duplicate has an earlier clean original to copy.
    positions = rng.choice(np.arange(1, n), size=n_defects, replace=False) if n_defects else []
    defect = np.full(n, -1, dtype=np.int64)
    defect[np.asarray(positions, dtype=np.int64)] = rng.permutation(
        np.repeat(np.arange(len(DEFECT_REASONS)), counts)
    )
    at = {r: np.flatnonzero(defect == i) for i, r in enumerate(DEFECT_REASONS)}

    # duplicate_record: an exact copy of an earlier clean row (same Offense ID) replaces the row.
    clean = np.flatnonzero(defect < 0)
    dup = at["duplicate_record"]
    n_before = np.searchsorted(clean, dup)
    source = np.arange(n)
    source[dup] = clean[np.floor(rng.random(dup.size) * n_before).astype(np.int64)]
    frame = frame[source]
    truth = {k: v[source] for k, v in truth.items()}

    cols = {c: frame.get_column(c).clone() for c in ("Longitude", "Latitude")}
    zero = at["coordinates_zero"]
    zero_text = np.array(_ZERO_COORDINATES)[rng.integers(0, len(_ZERO_COORDINATES), zero.size)]
    missing = at["coordinates_missing"]
    ooj = at["out_of_jurisdiction"]
    ooj_lon, ooj_lat = _out_of_jurisdiction(grid, ooj.size, rng)
    for name, ooj_values in (("Longitude", ooj_lon), ("Latitude", ooj_lat)):
        s = cols[name]
        s = s.scatter(zero, pl.Series(zero_text.tolist(), dtype=pl.String))
        s = s.scatter(missing, pl.Series([None] * missing.size, dtype=pl.String))
        cols[name] = s.scatter(ooj, ooj_values)

    start = frame.get_column("Offense Start DateTime").clone()
    bad = at["date_unparseable"]
    bad_text = np.array(_UNPARSEABLE_DATES)[rng.integers(0, len(_UNPARSEABLE_DATES), bad.size)]
    start = start.scatter(bad, pl.Series(bad_text.tolist(), dtype=pl.String))
    future = at["date_future"]
    minutes = rng.integers(0, 365 * 24 * 60, size=future.size) * 60
    future_t = _skip_dst_gap(
        np.datetime64("2099-01-01T00:00:00") + minutes.astype("timedelta64[s]")
    )
    start = start.scatter(future, _format_local(future_t))

    code = frame.get_column("Offense Code").clone()
    unknown = at["offense_code_unknown"]
    unknown_codes = np.array(_UNKNOWN_OFFENSE_CODES)[
        rng.integers(0, len(_UNKNOWN_OFFENSE_CODES), unknown.size)
    ]
    code = code.scatter(unknown, pl.Series(unknown_codes.tolist(), dtype=pl.String))
    frame = frame.with_columns(
        cols["Longitude"].alias("Longitude"),
        cols["Latitude"].alias("Latitude"),
        start.alias("Offense Start DateTime"),
        code.alias("Offense Code"),
    )

    truth["defect"] = defect
    truth["source"] = source
    no_location = np.concatenate([zero, missing, ooj])
    truth["area"][no_location] = -1
    truth["hot"][no_location] = -1
    truth["on_edge"][no_location] = False
    return frame, truth


def _report_numbers(year: np.ndarray, seq: np.ndarray) -> pl.Series:
    """SPD report numbers: year of report, dash, zero-padded sequence ("2025-004213")."""
    return (
        pl.DataFrame({"year": year, "seq": seq})
        .select(
            pl.concat_str(
                pl.col("year").cast(pl.String),
                pl.lit("-"),
                pl.col("seq").cast(pl.String).str.zfill(6),
            )
        )
        .to_series()
    )


def _build_reports(
    grid: _Grid,
    areas: _Areas,
    hotspots: list[_Hotspot],
    config: SampleCityConfig,
    plan: _Plan,
    rng: np.random.Generator,
    plant_rng: np.random.Generator,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The city's reports and offenses before any publisher's layout (see ``SampleCity``)."""
    n_rows = config.n_incidents
    sizes = _report_sizes(n_rows, rng)
    n_reports = sizes.size
    located = _locate_reports(grid, areas, hotspots, n_reports, rng)
    start, report, end = _offense_times(config, n_reports, rng)
    point_fields = [f.name for f in dataclasses.fields(_Points)]
    state = {f: getattr(located[0], f).copy() for f in point_fields}
    state.update(hot=located[1].copy(), on_edge=located[2].copy(), decimals=located[3])
    state.update(start=start, report=report, end=end)
    planted, forced = _plant_dynamics(grid, areas, plan, config, state, plant_rng)
    pts = _Points(**{f: state[f] for f in point_fields})
    hot, on_edge, decimals = state["hot"], state["on_edge"], state["decimals"]
    start, report, end = state["start"], state["report"], state["end"]
    parts = _block_parts(grid, pts.x, pts.y, rng)

    # Report order: by report time, as exports sorted on the report date-time.
    order = np.lexsort((np.arange(n_reports), start, report))
    sizes, start, report, end = sizes[order], start[order], report[order], end[order]
    year = report.astype("datetime64[Y]").astype(np.int64) + 1970
    gaps = rng.integers(1, 4, size=n_reports)
    seq = np.cumsum(gaps)
    year_start = np.searchsorted(year, year, side="left")  # years ascend with report time
    seq = seq - np.concatenate([[0], seq])[year_start]
    reports = (
        pl.DataFrame(
            {
                "report": np.arange(n_reports, dtype=np.int64),
                "report_year": year,
                "report_seq": seq,
                "occurred": start.astype("datetime64[us]"),
                "reported": report.astype("datetime64[us]"),
                "ended": end.astype("datetime64[us]"),
                "n_offenses": sizes,
                "x": pts.x[order],
                "y": pts.y[order],
                "lon_e9": pts.raw_lon_e9[order],
                "lat_e9": pts.raw_lat_e9[order],
                "spd_decimals": decimals[order],
                "area": pts.area[order],
                "hotspot": hot[order],
                "on_edge": on_edge[order],
                "planted": pl.Series(planted[order].tolist(), dtype=pl.String),
            }
        )
        .with_columns(pl.col("planted").replace("", None))
        .hstack(parts[order])
    )

    report_of_row = np.repeat(np.arange(n_reports), sizes)
    first_of_report = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    offense = _offense_codes(report_of_row, first_of_report, rng)
    offense = _force_primary_offense(offense, forced[order][report_of_row], first_of_report)
    offense_ids = 7_000_000_000 + np.cumsum(rng.integers(1, 30, size=n_rows))
    offenses = pl.DataFrame(
        {
            "report": report_of_row,
            "offense_seq": np.arange(n_rows) - first_of_report[report_of_row] + 1,
            "offense_id": offense_ids,
            "offense": offense,
            "nibrs_code": pl.Series([o.code for o in NIBRS_OFFENSES]).gather(offense),
        }
    )
    return reports, offenses


@dataclass(frozen=True)
class SampleCity:
    """Everything the sample city is, before any file is written.

    ``reports`` (one row per police report, in report-time order): ``report`` (index),
    ``report_year`` / ``report_seq`` (the agency's numbering), ``occurred`` / ``reported`` /
    ``ended`` (naive local date-times; ``ended`` mostly null), ``n_offenses``, the point as UTM
    ``x`` / ``y`` and as ``lon_e9`` / ``lat_e9`` (1e-9 degrees, unrounded; on-edge points exact on
    the published edge), ``spd_decimals`` (decimals Seattle publishes it with), ``area`` (area
    index), ``hotspot`` (hotspot index or -1), ``on_edge``, and the street-grid location
    ``block_kind`` / ``ave`` / ``street`` / ``ave_name`` / ``street_name``.

    ``offenses`` (one row per offense, grouped by report): ``report``, ``offense_seq`` (1-based),
    ``offense_id``, ``offense`` (index into ``NIBRS_OFFENSES``), ``nibrs_code``.

    ``acs`` holds the area stream's ACS estimates and ``facilities`` the facilities with their
    canonical types; ``crimemap.samplecity.records`` renders both as published.

    ``incident_rng_state`` is where the incident stream stands after drawing these tables: the
    Seattle export continues from it, so every publisher renders the very same city.
    """

    config: SampleCityConfig
    grid: _Grid
    areas: _Areas
    hotspots: tuple[_Hotspot, ...]
    plan: _Plan
    acs: _AcsBase
    facilities: pl.DataFrame
    reports: pl.DataFrame
    offenses: pl.DataFrame
    incident_rng_state: dict[str, Any]

    def incident_rng(self) -> np.random.Generator:
        """A fresh generator positioned where the incident stream stands."""
        rng = np.random.Generator(np.random.PCG64(0))
        rng.bit_generator.state = self.incident_rng_state
        return rng

    def area_ids(self) -> pl.Series:
        return pl.Series("area_id", self.grid.geoids.tolist(), dtype=pl.String)

    def hotspot_ids(self) -> pl.Series:
        return pl.Series("hotspot_id", [h.hotspot_id for h in self.hotspots], dtype=pl.String)


def build_sample_city(config: SampleCityConfig = SampleCityConfig()) -> SampleCity:
    """Draw the whole city from the config's seed (nothing is written)."""
    # A sixth stream for the planted dynamics: spawning one more child leaves the first five
    # (and so every earlier component) unchanged.
    seeds = np.random.SeedSequence(config.seed).spawn(6)
    grid_rng, area_rng, hot_rng, facility_rng, incident_rng, plant_rng = (
        np.random.default_rng(s) for s in seeds
    )
    grid = _build_grid(config, grid_rng)
    z = _deprivation(grid, area_rng)
    hotspots, hot_areas = _choose_hotspots(grid, z, hot_rng)
    areas = _build_areas(grid, hot_areas, z, area_rng)
    facilities = _build_facilities(grid, config.n_facilities, facility_rng)
    plan = _plan_dynamics(grid, config, areas, hot_areas, facilities, plant_rng)
    if plan.underserved_area is not None:
        # A mid-sized population, so the pocket's need shows in rates as well as indicators.
        population = areas.population.copy()
        population[plan.underserved_area] = _UNDERSERVED_POPULATION
        areas = dataclasses.replace(areas, population=population)
    acs = _acs_base(grid, areas, area_rng)
    reports, offenses = _build_reports(grid, areas, hotspots, config, plan, incident_rng, plant_rng)
    return SampleCity(
        config=config,
        grid=grid,
        areas=areas,
        hotspots=tuple(hotspots),
        plan=plan,
        acs=acs,
        facilities=facilities,
        reports=reports,
        offenses=offenses,
        incident_rng_state=incident_rng.bit_generator.state,
    )


def seattle_spd_export(city: SampleCity) -> SeattleExport:
    """The city's offenses in the Seattle SPD layout, with planted defects and per-row truth."""
    grid, config, reports = city.grid, city.config, city.reports
    rng = city.incident_rng()
    area = reports.get_column("area").to_numpy()
    decimals = reports.get_column("spd_decimals").to_numpy()
    lon_e9 = _round_e9(reports.get_column("lon_e9").to_numpy(), decimals)
    lat_e9 = _round_e9(reports.get_column("lat_e9").to_numpy(), decimals)
    precinct, sector, beat, mcpp = _area_police_codes(grid)
    fmt = SEATTLE_SPD_DATETIME_FORMAT
    per_report = pl.DataFrame(
        {
            "Report Number": _report_numbers(
                reports.get_column("report_year").to_numpy(),
                reports.get_column("report_seq").to_numpy(),
            ),
            "Offense Start DateTime": reports.get_column("occurred").dt.strftime(fmt),
            "Offense End DateTime": reports.get_column("ended").dt.strftime(fmt),
            "Report DateTime": reports.get_column("reported").dt.strftime(fmt),
            "Precinct": pl.Series(precinct.tolist()).gather(area),
            "Sector": pl.Series(sector.tolist()).gather(area),
            "Beat": pl.Series(beat.tolist()).gather(area),
            "MCPP": pl.Series(mcpp.tolist()).gather(area),
            "100 Block Address": _seattle_addresses(reports),
            "Longitude": _format_e9(lon_e9, decimals),
            "Latitude": _format_e9(lat_e9, decimals),
        }
    )

    offenses = city.offenses
    report_of_row = offenses.get_column("report").to_numpy()
    offense = offenses.get_column("offense").to_numpy()
    catalogue = {
        "Group A B": [o.group for o in NIBRS_OFFENSES],
        "Crime Against Category": [o.crime_against for o in NIBRS_OFFENSES],
        "Offense Parent Group": [o.parent_group for o in NIBRS_OFFENSES],
        "Offense": [o.name for o in NIBRS_OFFENSES],
        "Offense Code": [o.code for o in NIBRS_OFFENSES],
    }
    rows = per_report[report_of_row].with_columns(
        offenses.get_column("offense_id").cast(pl.String).alias("Offense ID"),
        *(
            pl.Series(name, values).gather(offense).alias(name)
            for name, values in catalogue.items()
        ),
    )
    frame = rows.select(SEATTLE_SPD_COLUMNS)
    truth = {
        "area": area[report_of_row],
        "hot": reports.get_column("hotspot").to_numpy()[report_of_row],
        "on_edge": reports.get_column("on_edge").to_numpy()[report_of_row],
    }
    frame, truth = _plant_defects(frame, truth, grid, config, rng)
    dup = truth["defect"] == DEFECT_REASONS.index("duplicate_record")
    multiline = _multiline_rows(truth["defect"], truth["source"][dup], rng)
    frame = frame.with_columns(_embed_newlines(frame.get_column("100 Block Address"), multiline))

    n_rows = frame.height
    hot_ids = pl.Series([h.hotspot_id for h in city.hotspots] or [""], dtype=pl.String)
    truth_frame = pl.DataFrame(
        {
            "row_number": pl.Series(np.arange(1, n_rows + 1), dtype=pl.Int64),
            "defect": pl.Series(list(DEFECT_REASONS), dtype=pl.String).gather(
                np.clip(truth["defect"], 0, None)
            ),
            "area_id": city.area_ids().gather(np.clip(truth["area"], 0, None)),
            "hotspot_id": hot_ids.gather(np.clip(truth["hot"], 0, None)),
            "on_edge": pl.Series(truth["on_edge"], dtype=pl.Boolean),
        }
    ).with_columns(
        pl.when(pl.Series(truth["defect"] >= 0)).then(pl.col("defect")).alias("defect"),
        pl.when(pl.Series(truth["area"] >= 0)).then(pl.col("area_id")).alias("area_id"),
        pl.when(pl.Series(truth["hot"] >= 0)).then(pl.col("hotspot_id")).alias("hotspot_id"),
    )
    sizes = reports.get_column("n_offenses")
    return SeattleExport(
        frame=frame,
        truth=truth_frame,
        n_reports=reports.height,
        n_multi_offense_reports=int((sizes > 1).sum()),
    )


# --------------------------------------------------------------------------------------------
# Writers


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same directory, then rename over `path`."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_text(path: Path, text: str) -> None:
    _write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8", newline="\n"))


def _areas_geojson(grid: _Grid) -> str:
    corner_r, corner_c = _quad_corners(grid.rows, grid.cols)
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


def _census_json(rows: list[list[str]]) -> str:
    # The Census API's own layout: one JSON array per line.
    return "[" + ",\n".join(json.dumps(row) for row in rows) + "]\n"


def _lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = _to_lonlat().transform(x, y)
    return round(float(lon), 7), round(float(lat), 7)


_TRUTH_NOTES = {
    "rows": "n_incidents is the number of CSV records, defective ones included",
    "defects": "each defective row carries exactly one defect; all other rows break no rule",
    "duplicate_record": "a later row replaced by an exact copy of an earlier clean row",
    "area_id": "area the clean point was generated in; null where the row has no usable location",
    "on_edge": "point lies on an edge shared by two areas; area_id is either of the two",
    "hotspots": "Gaussian clusters; radius_m = 2 sigma_m; share = planned share of reports",
    "multiline": "a few clean rows break 100 Block Address over two lines (a quoted field)",
    "acs": "indicators are the values of the published estimates (a tract quarantined for a "
    "defect keeps its true values here); unreliable: CV above 30% or estimate missing, margins "
    "combined as the contract says; not_computed: the Census wrote -666666666",
    "facilities": "type is the canonical type (null when the label is unmapped); area_id is "
    "null where the facility has no usable location",
    "surveys": "per area over accepted rows; shares weighted by the weight column, over "
    "respondents who answered (feel safe at night: 4-5; housing: Yes); a duplicate_record id is "
    "also the id of the accepted first copy",
    "service_requests": "counts of accepted requests per area, local month and service_name "
    "are in truth_service_requests.parquet",
    "neighbourhoods": "published code -> tract GEOIDs (write_neighbourhoods_geojson); the "
    "normalized key drops the leading zeros",
}


def _truth_document(
    config: SampleCityConfig,
    grid: _Grid,
    areas: _Areas,
    hotspots: list[_Hotspot],
    incidents: SeattleExport,
    records: dict[str, Any],
) -> dict[str, Any]:
    truth = incidents.truth
    clean = truth.filter(pl.col("defect").is_null())
    defect_counts = dict(truth.get_column("defect").drop_nulls().value_counts().iter_rows())
    hot_rows = dict(clean.get_column("hotspot_id").drop_nulls().value_counts().iter_rows())
    frame = incidents.frame
    sensitive = frame.filter(pl.col("Offense Code").is_in(sorted(SENSITIVE_CODES))).height
    hx, hy = np.array([h.x for h in hotspots]), np.array([h.y for h in hotspots])
    centre_area = _locate_utm(grid, hx, hy)
    config_doc = {
        k: (v.isoformat() if isinstance(v, date) else v)
        for k, v in dataclasses.asdict(config).items()
    }
    last_month = np.datetime64(config.first_month, "M") + config.n_months
    return {
        "generator": "crimemap.samplecity.city",
        "seed": config.seed,
        "notes": _TRUTH_NOTES,
        "config": config_doc,
        "crs": SAMPLE_CITY_CRS,
        "timezone": SAMPLE_CITY_TIMEZONE,
        "offense_period": {
            "first_day": config.first_month.isoformat(),
            "last_day": str(last_month.astype("datetime64[D]") - 1),
        },
        "files": {
            "police_csv": POLICE_CSV_NAME,
            "areas_geojson": AREAS_GEOJSON_NAME,
            "acs_json": ACS_JSON_NAME,
            "facilities_csv": FACILITIES_CSV_NAME,
            "survey_csv": SURVEY_CSV_NAME,
            "service_requests_csv": SERVICE_REQUESTS_CSV_NAME,
            "truth_incidents": TRUTH_INCIDENTS_NAME,
            "truth_service_requests": TRUTH_SERVICE_REQUESTS_NAME,
        },
        "counts": {
            "rows": frame.height,
            "clean_rows": clean.height,
            "defect_rows": truth.height - clean.height,
            "reports": incidents.n_reports,
            "multi_offense_reports": incidents.n_multi_offense_reports,
            "sensitive_rows": sensitive,
            "hotspot_rows_clean": int(clean.get_column("hotspot_id").is_not_null().sum()),
            "on_edge_rows_clean": int(clean.get_column("on_edge").sum()),
            "areas": grid.n_areas,
            "facilities": config.n_facilities,
        },
        "defects": {r: int(defect_counts.get(r, 0)) for r in DEFECT_REASONS},
        "hotspots": [
            {
                "hotspot_id": h.hotspot_id,
                "lon": _lonlat(h.x, h.y)[0],
                "lat": _lonlat(h.x, h.y)[1],
                "radius_m": h.radius_m,
                "sigma_m": h.radius_m / 2,
                "share": h.share,
                "area_id": str(grid.geoids[a]) if a >= 0 else None,
                "clean_rows": int(hot_rows.get(h.hotspot_id, 0)),
            }
            for h, a in zip(hotspots, centre_area, strict=True)
        ],
        "areas": [
            {
                "area_id": str(grid.geoids[k]),
                "deprivation": round(float(areas.deprivation[k]), 6),
                "population": int(areas.population[k]),
                "small_population": bool(areas.small[k]),
            }
            for k in range(grid.n_areas)
        ],
        **records,
    }


def planted_truth(city: SampleCity) -> dict[str, Any]:
    """Where the dynamics were planted, for the analytics tests (``None`` where not planted)."""
    plan, grid = city.plan, city.grid
    counts = dict(city.reports.get_column("planted").drop_nulls().value_counts().iter_rows())
    starts, _, _ = _month_starts(city.config.first_month, city.config.n_months)

    def month(index: int) -> str:
        return str(starts[index].astype("datetime64[D]"))

    rising = None
    if plan.rising_xy is not None and plan.rising_area is not None:
        lon, lat = _lonlat(*plan.rising_xy)
        rising = {
            "id": "R1",
            "lon": lon,
            "lat": lat,
            "x": round(plan.rising_xy[0], 3),
            "y": round(plan.rising_xy[1], 3),
            "radius_m": _RISING_RADIUS_M,
            "area_id": str(grid.geoids[plan.rising_area]),
            "reports": int(counts.get("rising_hotspot", 0)),
            "growth": _RISING_GROWTH,
        }
    spike = None
    if plan.spike_area is not None:
        spike = {
            "area_id": str(grid.geoids[plan.spike_area]),
            "category": "burglary",
            "nibrs_code": _SPIKE_CODE,
            "month": month(plan.spike_month),
            "reports": int(counts.get("spike", 0)),
        }
    initiative = None
    if plan.initiative_areas:
        initiative = {
            "name": _INITIATIVE_NAME,
            "areas": [str(grid.geoids[k]) for k in plan.initiative_areas],
            "start_month": month(plan.initiative_month),
            "relocated_share": _INITIATIVE_RELOCATED_SHARE,
            "relocated_reports": int(counts.get("initiative_displaced", 0)),
        }
    underserved = None
    if plan.underserved_area is not None:
        nearest = _nearest_facility_m(grid, city.facilities)[plan.underserved_area]
        underserved = {
            "area_id": str(grid.geoids[plan.underserved_area]),
            "population": _UNDERSERVED_POPULATION,
            "nearest_facility_m": round(float(nearest), 1),
        }
    return {
        "rising_hotspot": rising,
        "spike": spike,
        "initiative": initiative,
        "underserved_area": underserved,
    }


def generate_sample_city(
    out_dir: Path, config: SampleCityConfig = SampleCityConfig()
) -> SampleCityFiles:
    """Write the sample city's source files and truth into `out_dir` (created if needed)."""
    # The record renderers build on this module; importing them here keeps the import one-way.
    from crimemap.samplecity import records as sample_records

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    city = build_sample_city(config)
    grid, areas, hotspots = city.grid, city.areas, list(city.hotspots)
    incidents = seattle_spd_export(city)
    acs = sample_records.acs_records(city)
    facilities = sample_records.facility_directory(city)
    survey = sample_records.resident_survey(city)
    requests = sample_records.service_requests(city)

    files = SampleCityFiles.in_directory(out_dir)
    _write_atomic(files.police_csv, incidents.frame.write_csv)
    _write_text(files.areas_geojson, _areas_geojson(grid))
    _write_text(files.acs_json, _census_json(acs.rows))
    _write_atomic(files.facilities_csv, facilities.frame.write_csv)
    _write_atomic(files.survey_csv, survey.frame.write_csv)
    _write_atomic(files.service_requests_csv, requests.frame.write_csv)
    for path, table in (
        (files.truth_incidents, incidents.truth),
        (files.truth_service_requests, requests.counts),
    ):
        _write_atomic(path, lambda tmp, t=table: t.write_parquet(tmp, compression="zstd"))
    records = {
        "acs": acs.truth,
        "facilities": facilities.truth,
        "surveys": survey.truth,
        "service_requests": requests.truth,
        "neighbourhoods": sample_records.neighbourhood_membership(grid),
        "planted": planted_truth(city),
    }
    truth = _truth_document(config, grid, areas, hotspots, incidents, records)
    _write_text(files.truth_json, json.dumps(truth, indent=2) + "\n")
    return files

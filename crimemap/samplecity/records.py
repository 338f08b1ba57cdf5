"""The sample city's survey and public-record sources, rendered from the same seeded city.

``crimemap.samplecity.generate.generate_sample_city`` writes these beside the police export:

- the ACS table set of ``crimemap.ingestion.census.SOCIAL_SERVICES_TABLE_SET`` as the Census API
serves it
  (``acs_records``), estimates and margins of error, with Census sentinels and planted defects;
- the facility directory (``facility_directory``): publisher labels instead of canonical types
  (``SAMPLE_FACILITY_TYPE_MAP`` maps them back), some written in other case or spacing;
- a resident survey (``resident_survey``) whose answers follow the city's crime and deprivation;
- 311 service requests in San Francisco's ``sf311`` layout (``service_requests``).

Each comes with its truth (what the pipeline must accept, reject and compute). The boundary formats
that file-mode tests read are written only on demand: ``write_areas_shapefile``,
``write_areas_wkt_csv``, ``write_neighbourhoods_geojson`` and ``write_facilities_geojson``.

Every source draws from its own stream of the seed (``record_rng``), so the police incidents, the
areas and one another's draws never move; same seed and config give byte-identical files.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
from pyproj import Transformer

from crimemap.core.duckdb_spatial import connect
from crimemap.core.sql import sql_literal
from crimemap.ingestion.census import SOCIAL_SERVICES_TABLE_SET, AcsIndicator, table_set_variables
from crimemap.ingestion.layouts import FACILITY_COLUMNS
from crimemap.ingestion.service_requests.layout import builtin_service_request_layout
from crimemap.samplecity.areas import area_police_codes
from crimemap.samplecity.files import write_atomic, write_text
from crimemap.samplecity.grid import (
    Grid,
    avenue_table,
    format_e9,
    local_xy,
    locate,
    locate_utm,
    lonlat_transformer,
    quad_corners,
    round_e9,
    street_indices,
    street_table,
    to_utm,
)
from crimemap.samplecity.incidents import (
    SampleCity,
    month_starts,
    out_of_jurisdiction_e9,
    skip_dst_gap,
)
from crimemap.samplecity.points import sample_points
from crimemap.samplecity.settings import ACS_COLUMNS, COUNTY_NAME, STATE_NAME, SampleCityConfig
from crimemap.samplecity.settings import SAMPLE_CITY_SURVEY_COLUMNS as SURVEY_COLUMNS

# Sentinels the Census API writes in place of a number.
NOT_COMPUTED = "-666666666"  # estimate: too few sample observations
NOT_COMPUTED_MOE = "-222222222"  # margin of an estimate that was not computed
CONTROLLED_MOE = "-555555555"  # margin of a controlled estimate: no sampling error

SF311_COLUMNS: tuple[str, ...] = builtin_service_request_layout("sf311").columns
SF311_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.000"
STATE_PLANE_CRS = "EPSG:2926"  # Washington North, US survey feet

# Planted defects of each source, in the order they are reported (the contract's reason codes).
ACS_DEFECTS: tuple[str, ...] = ("value_invalid", "duplicate_record")
FACILITY_DEFECTS: tuple[str, ...] = ("out_of_jurisdiction", "type_unmapped", "coordinates_missing")
# value_invalid twice: a Likert answer of 7 and a weight of 0.
SURVEY_DEFECTS: dict[str, int] = {
    "value_invalid": 2,
    "coordinates_missing": 1,
    "area_unknown": 1,
    "duplicate_record": 1,
}
SERVICE_REQUEST_DEFECTS: tuple[str, ...] = (
    "coordinates_missing",
    "coordinates_zero",
    "out_of_jurisdiction",
    "date_unparseable",
    "date_placeholder",
    "date_future",
    "duplicate_record",
)


def record_rng(config: SampleCityConfig, source: str) -> np.random.Generator:
    """The source's own stream of the seed (apart from the city's and the publishers')."""
    key = zlib.crc32(source.encode())
    return np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(2_000, key)))


def _geoids(city: SampleCity) -> list[str]:
    return [str(g) for g in city.grid.geoids]


def _pick_distinct(
    rng: np.random.Generator, candidates: np.ndarray, k: int, exclude: np.ndarray | None = None
) -> np.ndarray:
    pool = candidates if exclude is None else np.setdiff1d(candidates, exclude)
    return rng.choice(pool, size=min(k, pool.size), replace=False)


# --------------------------------------------------------------------------------------------
# ACS: the whole social-services table set


# Sex-by-age cells (B01001) and each cell's share of its sex's age band, roughly a US tract.
_UNDER_18_MALE = ("B01001_003", "B01001_004", "B01001_005", "B01001_006")
_UNDER_18_FEMALE = ("B01001_027", "B01001_028", "B01001_029", "B01001_030")
_UNDER_18_SPLIT = np.array([5.0, 5.0, 5.0, 3.0]) / 18.0  # under 5, 5-9, 10-14, 15-17
_65_PLUS_MALE = tuple(f"B01001_{n:03d}" for n in range(20, 26))
_65_PLUS_FEMALE = tuple(f"B01001_{n:03d}" for n in range(44, 50))
_65_PLUS_SPLIT = np.array([2.3, 3.2, 4.6, 3.4, 2.4, 2.1]) / 18.0  # 65-66 ... 85+
_MOE_FLOOR = 10  # the ACS never publishes a tract margin much below this, even for a zero
_CV_THRESHOLD_PCT = 30.0
_INVALID_ESTIMATE = "N/A"
_INVALID_CELL = "B01001_027E"  # a new column, so the columns read before keep every value


@dataclass(frozen=True)
class AcsRecords:
    rows: list[list[str]]  # header first, every value a string (as the Census API serves it)
    truth: dict[str, Any]


def _age_cells(city: SampleCity, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Under-18 and 65+ cells by sex; deprived areas are younger."""
    z, pop = city.areas.deprivation, city.acs.population
    n = z.size
    share_18 = np.clip(0.20 + 0.035 * z + rng.normal(0, 0.015, n), 0.15, 0.28)
    share_65 = np.clip(0.15 - 0.025 * z + rng.normal(0, 0.02, n), 0.06, 0.26)
    under_18 = np.round(pop * share_18).astype(np.int64)
    over_65 = np.round(pop * share_65).astype(np.int64)
    male_18 = rng.binomial(under_18, 0.512)
    male_65 = rng.binomial(over_65, 0.45)
    cells: dict[str, np.ndarray] = {}
    for names, total, split in (
        (_UNDER_18_MALE, male_18, _UNDER_18_SPLIT),
        (_UNDER_18_FEMALE, under_18 - male_18, _UNDER_18_SPLIT),
        (_65_PLUS_MALE, male_65, _65_PLUS_SPLIT),
        (_65_PLUS_FEMALE, over_65 - male_65, _65_PLUS_SPLIT),
    ):
        counts = rng.multinomial(total, split / split.sum())
        cells.update({name: counts[:, i] for i, name in enumerate(names)})
    return cells


def _count_moe(estimate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Sampling error grows like the root of the count, so small estimates have large CVs.
    design = rng.uniform(1.5, 2.5, estimate.shape)
    return np.maximum(_MOE_FLOOR, np.round(1.645 * np.sqrt(estimate) * design)).astype(np.int64)


def _income_moe(income: np.ndarray, small: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # A median from a handful of households is barely known: CV above 30 in small areas.
    share = np.where(small, rng.uniform(0.55, 0.95, income.shape), rng.uniform(0.06, 0.2))
    return np.round(income * share).astype(np.int64)


def _acs_estimates(
    city: SampleCity, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Estimate and margin per ACS variable (int64 per area) of the whole table set."""
    base = city.acs
    estimates = {
        "B01003_001": base.population,
        "B17001_001": base.poverty_universe,
        "B17001_002": base.below_poverty,
        "B23025_003": base.labour_force,
        "B23025_005": base.unemployed,
        "B19013_001": base.median_income,
        "B01001_001": base.population,
        **_age_cells(city, rng),
    }
    variables = table_set_variables(SOCIAL_SERVICES_TABLE_SET)
    moes = {
        v: (
            _income_moe(estimates[v], city.areas.small, rng)
            if v == "B19013_001"
            else _count_moe(estimates[v], rng)
        )
        for v in variables
    }
    return {v: estimates[v] for v in variables}, moes


def _indicator_values(
    estimates: dict[str, np.ndarray], moes: dict[str, np.ndarray], missing: dict[str, np.ndarray]
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(estimate, cv %, missing) per indicator, combined as the contract says."""
    out: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    moe_of: dict[str, np.ndarray] = {}
    indicator: AcsIndicator
    for indicator in SOCIAL_SERVICES_TABLE_SET:
        if indicator.kind == "proportion":
            assert indicator.numerator and indicator.denominator
            x, _, x_missing = out[indicator.numerator]
            y, _, y_missing = out[indicator.denominator]
            mx, my = moe_of[indicator.numerator], moe_of[indicator.denominator]
            estimate = x / y
            radicand = mx**2 - estimate**2 * my**2
            # ACS handbook: when the radicand is negative, use the ratio formula (a plus sign).
            radicand = np.where(radicand < 0, mx**2 + estimate**2 * my**2, radicand)
            moe = np.sqrt(radicand) / y
            is_missing = x_missing | y_missing
        else:
            estimate = sum(estimates[v].astype(np.float64) for v in indicator.variables)
            moe = np.sqrt(sum(moes[v].astype(np.float64) ** 2 for v in indicator.variables))
            is_missing = np.logical_or.reduce([missing[v] for v in indicator.variables])
        with np.errstate(divide="ignore", invalid="ignore"):
            cv = moe / 1.645 / estimate * 100
        moe_of[indicator.name] = moe
        out[indicator.name] = (estimate, cv, is_missing)
    return out


def acs_records(city: SampleCity) -> AcsRecords:
    """The Census API JSON of the table set, one row per tract, and its truth."""
    rng = record_rng(city.config, "acs")
    grid, small = city.grid, city.areas.small
    estimates, moes = _acs_estimates(city, rng)
    n = grid.n_areas
    not_computed = _pick_distinct(rng, np.flatnonzero(small), 1)
    controlled = _pick_distinct(rng, np.flatnonzero(~small), 2, not_computed)
    defect_areas = _pick_distinct(rng, np.flatnonzero(~small), 2, np.r_[not_computed, controlled])
    if city.config.defect_rate == 0:
        defect_areas = defect_areas[:0]
    planted = dict(zip(ACS_DEFECTS, defect_areas, strict=False))
    invalid = [planted["value_invalid"]] if "value_invalid" in planted else []
    duplicate = [planted["duplicate_record"]] if "duplicate_record" in planted else []

    text = {f"{v}E": [str(int(x)) for x in e] for v, e in estimates.items()}
    text.update({f"{v}M": [str(int(x)) for x in m] for v, m in moes.items()})
    for k in not_computed:
        text["B19013_001E"][k], text["B19013_001M"][k] = NOT_COMPUTED, NOT_COMPUTED_MOE
    for k in controlled:
        text["B01001_001M"][k] = CONTROLLED_MOE
    for k in invalid:
        text[_INVALID_CELL][k] = _INVALID_ESTIMATE

    geoids = _geoids(city)
    rows = [list(ACS_COLUMNS)]
    for k in range(n):  # one row per tract (~100s)
        tract = geoids[k][5:]
        name = f"Census Tract {int(tract) // 100}; {COUNTY_NAME}; {STATE_NAME}"
        values = [text[c][k] for c in ACS_COLUMNS[2:-3]]
        rows.append([name, f"1400000US{geoids[k]}", *values, geoids[k][:2], geoids[k][2:5], tract])
    # A second copy of a tract, as a careless join of two downloads leaves it.
    rows.extend(list(rows[1 + k]) for k in duplicate)

    missing = {v: np.zeros(n, dtype=bool) for v in estimates}
    missing["B19013_001"][not_computed] = True
    true_moes = {v: m.astype(np.float64) for v, m in moes.items()}
    true_moes["B01001_001"][controlled] = 0.0  # "controlled" means no sampling error
    indicators = _indicator_values(estimates, true_moes, missing)
    return AcsRecords(
        rows=rows,
        truth=_acs_truth(city, indicators, not_computed, controlled, planted, len(rows)),
    )


_ACS_TRUTH_INDICATORS = (
    "population",
    "poverty_rate",
    "unemployment_rate",
    "median_household_income",
    "share_under_18",
    "share_65_plus",
)


def _acs_truth(
    city: SampleCity,
    indicators: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    not_computed: np.ndarray,
    controlled: np.ndarray,
    planted: dict[str, int],
    n_rows: int,
) -> dict[str, Any]:
    geoids = _geoids(city)

    def value(name: str, k: int) -> float | int | None:
        estimate, _, missing = indicators[name]
        if missing[k]:
            return None
        kind = next(i.kind for i in SOCIAL_SERVICES_TABLE_SET if i.name == name)
        return float(estimate[k]) if kind == "proportion" else int(estimate[k])

    # A missing estimate is unreliable; a zero one has no CV and is not ("none counted").
    unreliable: dict[str, list[str]] = {}
    for k, geoid in enumerate(geoids):
        flagged = [
            name
            for name, (estimate, cv, missing) in indicators.items()
            if missing[k] or (estimate[k] != 0 and cv[k] > _CV_THRESHOLD_PCT)
        ]
        if flagged:
            unreliable[geoid] = flagged
    return {
        "rows": n_rows - 1,
        "indicators": {
            geoid: {name: value(name, k) for name in _ACS_TRUTH_INDICATORS}
            for k, geoid in enumerate(geoids)
        },
        "unreliable": unreliable,
        "not_computed": {geoids[k]: ["median_household_income"] for k in not_computed},
        "controlled_moe": {geoids[k]: ["B01001_001M"] for k in controlled},
        "defects": {geoids[k]: reason for reason, k in planted.items()},
    }


# --------------------------------------------------------------------------------------------
# Facilities: the directory as a publisher labels it


_FACILITY_LABELS: dict[str, tuple[str, ...]] = {
    "mental_health": ("Mental Health Clinic", "Behavioral Health Center"),
    "substance_use": ("Substance Use Treatment", "Opioid Treatment Program"),
    "shelter": ("Emergency Shelter", "Family Shelter"),
    "clinic": ("Community Health Clinic",),
    "youth_services": ("Youth Center", "Youth Drop-In"),
}
# The sample jurisdiction's type_map: every label the directory publishes -> canonical type.
SAMPLE_FACILITY_TYPE_MAP: dict[str, str] = {
    label: canonical for canonical, labels in _FACILITY_LABELS.items() for label in labels
}
UNMAPPED_FACILITY_LABEL = "Dental Office"
# Labels as a hand-kept directory writes them now and then (matched case/space-insensitively).
_LABEL_VARIANTS: tuple[Callable[[str], str], ...] = (
    lambda s: s.lower() + " ",
    lambda s: s.upper(),
    lambda s: "  " + s,
)
_OUTSIDE_OFFSET_M = (30_000.0, 4_000.0)  # a facility of the next county, east of the city


@dataclass(frozen=True)
class FacilityRecords:
    frame: pl.DataFrame  # FACILITY_COLUMNS, strings, as published
    truth: dict[str, Any]


def _area_of_lonlat(grid: Grid, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Area index (-1 outside) of published lon/lat points, judged on the published edges."""
    x, y = to_utm().transform(lon, lat)
    px, py = local_xy(lon, lat, grid.ref_lonlat, grid.metres_per_degree)
    return locate(grid, px, py, np.asarray(x), np.asarray(y))[0]


def facility_directory(city: SampleCity) -> FacilityRecords:
    """The facilities with publisher labels, a few label variants and planted defects."""
    rng = record_rng(city.config, "facilities")
    frame = city.facilities
    n = frame.height
    canonical = frame.get_column("facility_type").to_list()
    pick = rng.random(n)
    labels = [
        _FACILITY_LABELS[t][int(u * len(_FACILITY_LABELS[t]))]
        for t, u in zip(canonical, pick, strict=True)
    ]
    order = rng.permutation(n)
    defect_rows = order[: len(FACILITY_DEFECTS)] if city.config.defect_rate > 0 else order[:0]
    variant_rows = order[len(FACILITY_DEFECTS) : len(FACILITY_DEFECTS) + len(_LABEL_VARIANTS)]
    for row, variant in zip(variant_rows, _LABEL_VARIANTS, strict=False):
        labels[row] = variant(labels[row])

    lat = frame.get_column("latitude").to_list()
    lon = frame.get_column("longitude").to_list()
    area = _area_of_lonlat(
        city.grid, np.array(lon, dtype=np.float64), np.array(lat, dtype=np.float64)
    )
    defect: list[str | None] = [None] * n
    for row, reason in zip(defect_rows, FACILITY_DEFECTS, strict=False):
        defect[row] = reason
        if reason == "out_of_jurisdiction":
            cx, cy = city.grid.centroid_xy.mean(axis=0)
            far_lon, far_lat = lonlat_transformer().transform(
                cx + _OUTSIDE_OFFSET_M[0], cy + _OUTSIDE_OFFSET_M[1]
            )
            lon[row], lat[row] = f"{far_lon:.6f}", f"{far_lat:.6f}"
        elif reason == "type_unmapped":
            labels[row] = UNMAPPED_FACILITY_LABEL
        else:
            lon[row] = lat[row] = None
    published = frame.with_columns(
        pl.Series("facility_type", labels, dtype=pl.String),
        pl.Series("latitude", lat, dtype=pl.String),
        pl.Series("longitude", lon, dtype=pl.String),
    ).select(FACILITY_COLUMNS)

    geoids = _geoids(city)
    placed = [d in (None, "type_unmapped") and area[i] >= 0 for i, d in enumerate(defect)]
    truth = {
        fid: {
            "type": None if defect[i] == "type_unmapped" else canonical[i],
            "area_id": geoids[area[i]] if placed[i] else None,
            "defect": defect[i],
        }
        for i, fid in enumerate(frame.get_column("facility_id").to_list())
    }
    return FacilityRecords(frame=published, truth=truth)


def write_facilities_geojson(city: SampleCity, path: Path) -> Path:
    """The published facilities as a GeoJSON FeatureCollection of points (EPSG:4326).

    Properties are the CSV's columns without latitude/longitude; a facility without coordinates
    has a null geometry.
    """
    frame = facility_directory(city).frame
    features = []
    for row in frame.iter_rows(named=True):
        lon, lat = row.pop("longitude"), row.pop("latitude")
        geometry = (
            None
            if lon is None or lat is None
            else {"type": "Point", "coordinates": [float(lon), float(lat)]}
        )
        feature = {"type": "Feature", "properties": row, "geometry": geometry}
        features.append(json.dumps(feature, separators=(",", ":")))
    path = Path(path)
    write_text(path, _feature_collection(features))
    return path


def _feature_collection(features: list[str]) -> str:
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(features) + "\n]}\n"


# --------------------------------------------------------------------------------------------
# Where things happen: expected crime intensity, points inside given areas


def crime_intensity(city: SampleCity) -> np.ndarray:
    """Expected police incidents per km² of each area (background, edge and hotspot shares).

    Built from the city's design rather than the drawn incidents, so the sources that follow it
    do not change with the number of incidents.
    """
    grid, weight = city.grid, city.areas.crime_weight
    hot_share = np.array([h.share for h in city.hotspots])
    # Edge points are spread by the same weights as the background, so they count with it.
    expected = (1.0 - hot_share.sum()) * weight / weight.sum()
    centre = locate_utm(
        grid, np.array([h.x for h in city.hotspots]), np.array([h.y for h in city.hotspots])
    )
    np.add.at(expected, centre[centre >= 0], hot_share[centre >= 0])
    return expected / (grid.area_m2 / 1e6)


def _in_area_points(
    city: SampleCity, area: np.ndarray, rng: np.random.Generator, decimals: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points inside the given areas, clear of every edge: UTM x, y and lon/lat in 1e-9°."""
    grid = city.grid
    corner_r, corner_c = quad_corners(grid.rows, grid.cols)
    quads = grid.vert_xy[corner_r, corner_c]

    def draw(g: np.random.Generator, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        u, v = g.random(idx.size), g.random(idx.size)
        w = np.stack([(1 - u) * (1 - v), u * (1 - v), u * v, (1 - u) * v], axis=1)
        xy = (w[..., None] * quads[area[idx]]).sum(axis=1)
        return xy[:, 0], xy[:, 1], area[idx]

    pts = sample_points(grid, rng, area.size, draw, np.full(area.size, decimals))
    return pts.x, pts.y, pts.lon_e9, pts.lat_e9


def _degrees_text(e9: np.ndarray, decimals: int) -> pl.Series:
    return format_e9(e9, np.full(e9.shape, decimals))


# --------------------------------------------------------------------------------------------
# Resident survey


_SURVEY_PERIOD = (date(2025, 4, 1), date(2025, 5, 31))
_SURVEY_BLANK_SHARE = 0.04  # of answers: question skipped
_LIKERT_CUTS = np.array([-1.6, -0.6, 0.4, 1.3])
# unmet need question -> (intercept, deprivation slope) of its logit
_NEED_LOGITS: dict[str, tuple[float, float]] = {
    "unmet_need_housing": (-1.3, 0.8),
    "unmet_need_food": (-1.6, 0.7),
    "unmet_need_mental_health": (-1.5, 0.5),
    "unmet_need_substance_use": (-2.2, 0.5),
    "unmet_need_childcare": (-1.4, 0.3),
}
_UNKNOWN_TRACT = "53999999900"


@dataclass(frozen=True)
class SurveyRecords:
    frame: pl.DataFrame  # SURVEY_COLUMNS, strings, as published
    truth: dict[str, Any]


def _respondents_per_area(city: SampleCity, rng: np.random.Generator) -> np.ndarray:
    """Most areas 15-37 respondents; small areas and a few others too few to report."""
    n = city.grid.n_areas
    counts = rng.integers(15, 38, size=n)
    small = np.flatnonzero(city.areas.small)
    counts[small] = rng.integers(2, 9, size=small.size)
    sparse = _pick_distinct(rng, np.arange(n), 3, small)
    counts[sparse] = rng.integers(4, 10, size=sparse.size)
    return counts


def _likert_text(latent: np.ndarray) -> np.ndarray:
    return (1 + np.searchsorted(_LIKERT_CUTS, latent)).astype(str).astype(object)


def _survey_table(city: SampleCity, rng: np.random.Generator) -> tuple[pl.DataFrame, np.ndarray]:
    """Clean survey rows in submission order, and each row's area."""
    counts = _respondents_per_area(city, rng)
    area = np.repeat(np.arange(counts.size), counts)[rng.permutation(counts.sum())]
    n = area.size
    intensity = np.log(crime_intensity(city))
    danger = (intensity - intensity.mean()) / intensity.std()
    night = 0.2 - 0.7 * danger[area] + rng.normal(0, 1, n)
    answers: dict[str, np.ndarray] = {
        "feel_safe_day": _likert_text(night + 1.0 + rng.normal(0, 0.4, n)),
        "feel_safe_night": _likert_text(night),
    }
    z = city.areas.deprivation[area]
    for question, (a, b) in _NEED_LOGITS.items():
        yes = rng.random(n) < 1 / (1 + np.exp(-(a + b * z)))
        answers[question] = np.where(yes, "Yes", "No").astype(object)
    for values in answers.values():
        values[rng.random(n) < _SURVEY_BLANK_SHARE] = None

    first, last = (np.datetime64(d, "D") for d in _SURVEY_PERIOD)
    submitted = np.sort(first + rng.integers(0, (last - first).astype(int) + 1, size=n))
    by_tract = rng.random(n) < 0.5
    style = rng.choice(3, size=n, p=[0.8, 0.1, 0.1])
    geoids = np.array(_geoids(city), dtype=object)[area]
    tract = np.where(style == 1, "1400000US" + geoids, geoids)
    tract = np.where(style == 2, " " + geoids + " ", tract)
    _, _, lon_e9, lat_e9 = _in_area_points(city, area, rng, 6)
    cents = rng.integers(50, 251, size=n)
    no_tract = np.array(None, dtype=object)
    frame = pl.DataFrame(
        {
            "response_id": [f"R{i + 1:05d}" for i in range(n)],
            "submitted_at": pl.Series(submitted).dt.strftime("%Y-%m-%d"),
            "tract_geoid": pl.Series(np.where(by_tract, tract, no_tract).tolist(), dtype=pl.String),
            "latitude": _degrees_text(lat_e9, 6).scatter(np.flatnonzero(by_tract), None),
            "longitude": _degrees_text(lon_e9, 6).scatter(np.flatnonzero(by_tract), None),
            **{q: pl.Series(v.tolist(), dtype=pl.String) for q, v in answers.items()},
            "weight": [f"{c // 100}.{c % 100:02d}" for c in cents],
        }
    ).select(SURVEY_COLUMNS)
    return frame, area


def _insert_copy(
    frame: pl.DataFrame, reason: np.ndarray, area: np.ndarray, rng: np.random.Generator
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """Insert a later exact copy of an earlier clean row (a double submission or export)."""
    clean = np.flatnonzero(reason == None)  # noqa: E711 (element-wise on an object array)
    source = int(rng.choice(clean[: max(1, clean.size // 2)]))
    after = int(rng.integers(source, frame.height))
    order = np.insert(np.arange(frame.height), after + 1, source)
    return frame[order], np.insert(reason, after + 1, "duplicate_record"), area[order]


def _no_defects(n: int) -> np.ndarray:
    return np.full(n, None, dtype=object)


def resident_survey(city: SampleCity) -> SurveyRecords:
    """``resident_survey_2025.csv`` with planted defects, and its truth."""
    rng = record_rng(city.config, "survey")
    frame, area = _survey_table(city, rng)
    rows = rng.choice(frame.height, size=4, replace=False)
    reason = _no_defects(frame.height)
    if city.config.defect_rate > 0:
        likert, nowhere, unknown, weightless = (int(r) for r in rows)
        reason[[likert, weightless]] = "value_invalid"
        reason[nowhere], reason[unknown] = "coordinates_missing", "area_unknown"
        frame = frame.with_columns(
            frame.get_column("feel_safe_night").scatter(likert, "7"),
            frame.get_column("tract_geoid").scatter([nowhere, unknown], [None, _UNKNOWN_TRACT]),
            frame.get_column("latitude").scatter([nowhere, unknown], None),
            frame.get_column("longitude").scatter([nowhere, unknown], None),
            frame.get_column("weight").scatter(weightless, "0"),
        )
        frame, reason, area = _insert_copy(frame, reason, area, rng)
    return SurveyRecords(frame=frame, truth=_survey_truth(city, frame, reason, area))


def _weighted_share(column: str, positive: list[str]) -> pl.Expr:
    answered = pl.col("weight").filter(pl.col(column).is_not_null()).sum()
    return (pl.col("weight").filter(pl.col(column).is_in(positive)).sum() / answered).alias(column)


def _survey_truth(
    city: SampleCity, frame: pl.DataFrame, reason: np.ndarray, area: np.ndarray
) -> dict[str, Any]:
    accepted = frame.with_columns(
        pl.Series("area_id", np.array(_geoids(city))[area]),
        pl.col("weight").cast(pl.Float64),
    ).filter(pl.Series(reason == None))  # noqa: E711
    per_area = accepted.group_by("area_id").agg(
        pl.len().alias("respondents"),
        _weighted_share("feel_safe_night", ["4", "5"]),
        _weighted_share("unmet_need_housing", ["Yes"]),
    )
    found = {row["area_id"]: row for row in per_area.iter_rows(named=True)}
    areas = {}
    for geoid in _geoids(city):
        row = found.get(geoid, {})
        areas[geoid] = {
            "respondents": int(row.get("respondents", 0)),
            "feel_safe_night_share": _finite(row.get("feel_safe_night")),
            "unmet_need_housing_share": _finite(row.get("unmet_need_housing")),
        }
    return {
        "rows": frame.height,
        "accepted_rows": accepted.height,
        "areas": areas,
        "defects": _defects_by_id(frame.get_column("response_id"), reason),
    }


def _defects_by_id(ids: pl.Series, reason: np.ndarray) -> dict[str, str]:
    return {ids[int(i)]: str(reason[i]) for i in np.flatnonzero(reason != None)}  # noqa: E711


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


# --------------------------------------------------------------------------------------------
# 311 service requests (San Francisco "311 Cases" layout)


SERVICE_REQUESTS = 20_000


@dataclass(frozen=True)
class _ServiceType:
    name: str
    share: float  # of all requests
    deprivation: float  # area weight: exp(deprivation * z)
    crime: float  # ... * (crime intensity) ** crime
    per_resident: bool  # weight by population rather than by land area
    agency: str
    subtypes: tuple[str, ...]
    details: tuple[str, ...]


_SERVICE_TYPES: tuple[_ServiceType, ...] = (
    _ServiceType(
        "Street and Sidewalk Cleaning", 0.34, 0.6, 0.5, False, "Public Works Street Cleaning",
        ("Bulky Items", "General Cleaning", "Human or Animal Waste", "Needles"),
        ("Furniture", "Garbage", "Mattress", ""),
    ),
    _ServiceType(
        "Encampments", 0.12, 1.1, 0.8, False, "Homeless Outreach Team",
        ("Encampment Reports", "Encampment Cleanup"),
        ("tent_or_makeshift_shelter", "blocking_sidewalk", ""),
    ),
    _ServiceType(
        "Graffiti", 0.18, 0.3, 0.5, False, "Public Works Graffiti",
        ("Graffiti on Private Property", "Graffiti on Public Property"),
        ("Building_other", "Pole", "Signal_box", "Sidewalk_in_front_of_property"),
    ),
    _ServiceType(
        "Streetlights", 0.08, 0.0, 0.0, False, "Public Utilities Streetlights",
        ("Streetlight - Light_Burnt_Out", "Streetlight - Other"), ("",),
    ),
    _ServiceType(
        "Abandoned Vehicle", 0.12, 0.3, 0.0, False, "Parking Enforcement",
        ("Abandoned Vehicle",), ("Car", "Truck", "Motorcycle", "RV"),
    ),
    _ServiceType(
        "Noise Report", 0.10, 0.0, 0.2, True, "Police - Non Emergency",
        ("Noise - Amplified Sound", "Noise - Construction"), ("",),
    ),
    _ServiceType(
        "Sewer Issues", 0.06, 0.0, 0.0, False, "Public Utilities Sewer",
        ("Sewer - Blocked Catch Basin", "Sewer - Odor"), ("",),
    ),
)  # fmt: skip
_REQUEST_SOURCES = ("Phone", "Mobile/Open311", "Web", "Integrated Agency")
_REQUEST_SOURCE_PROBS = (0.35, 0.4, 0.2, 0.05)
_CLOSED_NOTES = (
    "Case Resolved",
    "Case Resolved - Cleaned",
    "Case is a Duplicate",
    "Unable to Locate",
)
_OPEN_NOTES = (None, "Case Transferred", "Pending")
_REQUEST_HOUR_WEIGHTS = (
    1, 0.7, 0.5, 0.4, 0.5, 1, 2, 4, 6, 7, 7, 7, 7, 7, 7, 7, 6, 5, 4, 3.5, 3, 2.5, 2, 1.5,
)  # fmt: skip
_POLICE_DISTRICTS = {"N": "NORTH", "E": "EAST", "S": "SOUTH", "W": "WEST", "SW": "SOUTHWEST"}
_OPEN_SHARE = 0.04  # of requests that never close (besides those too recent to close)
_UNPARSEABLE_REQUESTED = "2025-13-45T99:00:00.000"
_PLACEHOLDER_REQUESTED = "1970-01-01T00:00:00.000"
_POINT_DECIMALS = 7


@dataclass(frozen=True)
class ServiceRequestRecords:
    frame: pl.DataFrame  # SF311_COLUMNS, strings, as published
    counts: pl.DataFrame  # accepted rows: area_id, month, request_type, requests
    truth: dict[str, Any]


def _request_areas(city: SampleCity, kind: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    z, grid = city.areas.deprivation, city.grid
    intensity = crime_intensity(city)
    relative = intensity / intensity.mean()
    area = np.zeros(kind.size, dtype=np.int64)
    for t, spec in enumerate(_SERVICE_TYPES):  # a handful of types
        base = city.acs.population.astype(np.float64) if spec.per_resident else grid.area_m2
        weight = base * np.exp(spec.deprivation * z) * relative**spec.crime
        members = np.flatnonzero(kind == t)
        area[members] = rng.choice(grid.n_areas, size=members.size, p=weight / weight.sum())
    return area


def _request_times(
    config: SampleCityConfig, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.datetime64]:
    """Requested date-times (naive local, datetime64[s], sorted) and the period's end."""
    starts, days, _ = month_starts(config.first_month, config.n_months)
    first, total_days = starts[0], int(days.sum())
    hours = np.array(_REQUEST_HOUR_WEIGHTS)
    day = rng.integers(0, total_days, size=n)
    hour = rng.choice(24, size=n, p=hours / hours.sum())
    second = rng.integers(0, 3600, size=n)
    offset = (day * 86_400 + hour * 3_600 + second).astype("timedelta64[s]")
    end = first + np.timedelta64(total_days * 86_400, "s")
    return np.sort(skip_dst_gap(first + offset)), end


def _choose(options: tuple[Any, ...], index: np.ndarray) -> np.ndarray:
    return np.array(options, dtype=object)[index]


def _service_request_table(
    city: SampleCity, rng: np.random.Generator
) -> tuple[pl.DataFrame, np.ndarray]:
    """Clean requests in request order, and each request's area."""
    n = SERVICE_REQUESTS
    shares = np.array([s.share for s in _SERVICE_TYPES])
    kind = rng.choice(len(_SERVICE_TYPES), size=n, p=shares / shares.sum())
    area = _request_areas(city, kind, rng)
    requested, end = _request_times(city.config, n, rng)
    order = rng.permutation(n)  # times are sorted; give them to requests in random order
    kind, area = kind[order], area[order]

    lag = np.clip(rng.lognormal(np.log(20.0), 1.3, size=n), 0.05, 1_500) * 3_600
    closed_at = skip_dst_gap(requested + np.round(lag).astype("timedelta64[s]"))
    is_closed = (rng.random(n) >= _OPEN_SHARE) & (closed_at < end)
    touched = skip_dst_gap(requested + np.round(rng.random(n) * lag / 2).astype("timedelta64[s]"))
    updated = np.where(is_closed, closed_at, np.minimum(touched, end - np.timedelta64(1, "s")))

    x, y, lon_e9, lat_e9 = _in_area_points(city, area, rng, _POINT_DECIMALS)
    # Per type: a subtype and a detail, each picked uniformly from the type's own list.
    pick_subtype, pick_detail = rng.random(n), rng.random(n)
    subtype = _pick_options([t.subtypes for t in _kinds(kind)], pick_subtype)
    detail = [d or None for d in _pick_options([t.details for t in _kinds(kind)], pick_detail)]
    closed_note = rng.choice(len(_CLOSED_NOTES), n, p=[0.7, 0.15, 0.1, 0.05])
    open_note = rng.integers(0, len(_OPEN_NOTES), n)
    notes = np.where(
        is_closed, _choose(_CLOSED_NOTES, closed_note), _choose(_OPEN_NOTES, open_note)
    )
    source = _choose(
        _REQUEST_SOURCES, rng.choice(len(_REQUEST_SOURCES), n, p=_REQUEST_SOURCE_PROBS)
    )
    ids = 17_000_000 + np.cumsum(rng.integers(1, 6, size=n))
    street, address = _request_addresses(city.grid, x, y, rng)
    precinct, *_ = area_police_codes(city.grid)
    r, c = np.divmod(area, city.grid.cols)
    text = _text_columns(
        {
            "service_request_id": ids.astype(str),
            "status_description": np.where(is_closed, "Closed", "Open"),
            "status_notes": notes,
            "agency_responsible": [t.agency for t in _kinds(kind)],
            "service_name": [t.name for t in _kinds(kind)],
            "service_subtype": subtype,
            "service_details": detail,
            "address": address,
            "street": street,
            "supervisor_district": (((r // 3) * 4 + c // 3) % 11 + 1).astype(str),
            "neighborhoods_sffind_boundaries": _area_neighbourhood_names(city.grid)[area],
            "police_district": [_POLICE_DISTRICTS[p] for p in precinct[area]],
            "source": source,
        }
    )
    lon, lat = _degrees_text(lon_e9, _POINT_DECIMALS), _degrees_text(lat_e9, _POINT_DECIMALS)
    frame = pl.DataFrame(
        [
            *text,
            _local_text("requested_datetime", requested),
            _local_text("closed_date", closed_at).scatter(np.flatnonzero(~is_closed), None),
            _local_text("updated_datetime", updated),
            lat.alias("lat"),
            lon.alias("long"),
            ("POINT (" + lon + " " + lat + ")").alias("point"),
        ]
    ).select(SF311_COLUMNS)
    return frame, area


def _pick_options(options: list[tuple[str, ...]], u: np.ndarray) -> list[str]:
    return [o[int(x * len(o))] for o, x in zip(options, u, strict=True)]


def _kinds(kind: np.ndarray) -> list[_ServiceType]:
    return [_SERVICE_TYPES[k] for k in kind]


def _text_columns(columns: dict[str, Any]) -> list[pl.Series]:
    return [pl.Series(name, list(values), dtype=pl.String) for name, values in columns.items()]


def _local_text(name: str, t: np.ndarray) -> pl.Series:
    return pl.Series(name, t.astype("datetime64[us]")).dt.strftime(SF311_DATETIME_FORMAT)


def _request_addresses(
    grid: Grid, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[list[str], list[str]]:
    ave, street = street_indices(grid, x, y)
    on_avenue = rng.random(x.size) < 0.5
    house = rng.integers(0, 100, size=x.size)
    streets = street_table(int(street.max()) + 1)
    avenues = avenue_table(int(ave.max()) + 1)
    names = [
        avenues[a] if up else streets[s] for a, s, up in zip(ave, street, on_avenue, strict=True)
    ]
    numbers = np.where(on_avenue, (street + 1) * 100 + house, ave * 100 + house)
    addresses = [f"{k} {s}, SAMPLE CITY, WA" for k, s in zip(numbers, names, strict=True)]
    return names, addresses


def service_requests(city: SampleCity) -> ServiceRequestRecords:
    """``sf311_cases.csv`` with planted defects, accepted counts and truth."""
    rng = record_rng(city.config, "service_requests")
    frame, area = _service_request_table(city, rng)
    rows = rng.choice(frame.height, size=6, replace=False)
    far_lon, far_lat, _ = out_of_jurisdiction_e9(city.grid, 1, rng)
    future = np.datetime64("2099-01-01T00:00:00") + np.timedelta64(
        int(rng.integers(0, 300 * 86_400)), "s"
    )
    reason = _no_defects(frame.height)
    if city.config.defect_rate > 0:
        missing, zero, outside, unparseable, placeholder, later = (int(r) for r in rows)
        reason[[missing, zero, outside]] = [
            "coordinates_missing",
            "coordinates_zero",
            "out_of_jurisdiction",
        ]
        reason[[unparseable, placeholder, later]] = [
            "date_unparseable",
            "date_placeholder",
            "date_future",
        ]
        decimals = np.full(1, _POINT_DECIMALS)
        lon = _degrees_text(round_e9(far_lon, decimals), _POINT_DECIMALS)[0]
        lat = _degrees_text(round_e9(far_lat, decimals), _POINT_DECIMALS)[0]
        dated = [unparseable, placeholder, later]
        requested = [
            _UNPARSEABLE_REQUESTED,
            _PLACEHOLDER_REQUESTED,
            _local_text("future", np.array([future]))[0],
        ]
        frame = frame.with_columns(
            frame.get_column("lat").scatter([missing, zero, outside], [None, "0", lat]),
            frame.get_column("long").scatter([missing, zero, outside], [None, "0", lon]),
            frame.get_column("point").scatter(
                [missing, zero, outside], [None, None, f"POINT ({lon} {lat})"]
            ),
            frame.get_column("requested_datetime").scatter(dated, requested),
            # A request whose date is broken is left open: no close to compare it with.
            frame.get_column("closed_date").scatter(dated, None),
            frame.get_column("updated_datetime").scatter(dated, None),
            frame.get_column("status_description").scatter(dated, "Open"),
        )
        frame, reason, area = _insert_copy(frame, reason, area, rng)
    truth = {
        "rows": frame.height,
        "accepted_rows": int((reason == None).sum()),  # noqa: E711
        "defects": _defects_by_id(frame.get_column("service_request_id"), reason),
    }
    return ServiceRequestRecords(
        frame=frame, counts=_request_counts(city, frame, reason, area), truth=truth
    )


def _request_counts(
    city: SampleCity, frame: pl.DataFrame, reason: np.ndarray, area: np.ndarray
) -> pl.DataFrame:
    return (
        frame.select(
            pl.Series("area_id", np.array(_geoids(city))[area]),
            pl.col("requested_datetime").str.slice(0, 7).alias("month"),
            pl.col("service_name").alias("request_type"),
        )
        .filter(pl.Series(reason == None))  # noqa: E711
        .group_by("area_id", "month", "request_type")
        .agg(pl.len().cast(pl.Int64).alias("requests"))
        .sort("area_id", "month", "request_type")
    )


# --------------------------------------------------------------------------------------------
# Boundary formats and neighbourhoods (written on demand, for file-mode tests)


_NEIGHBOURHOOD_NAMES = (
    "Harbor Flats", "Cedar Park", "Pioneer Hill", "Lakeside", "Evergreen", "Summit View",
    "Riverside", "Beacon Heights", "Northgate", "Rainier Terrace", "Elliott Bay", "Olympic Rise",
    "Westlake", "Madrona Point", "Alder Grove", "Juniper Court", "Meridian", "Sound View",
    "Salmon Bay", "Duwamish Flats", "Interbay", "Lincoln Park", "Emerald Hill", "Union Bay",
    "Green Lake", "Seward Park", "Jefferson Square", "Columbia Heights", "Yesler Terrace",
    "Magnolia Bluff", "Fremont Cut", "Delridge", "Orca Point", "Mercer Slope", "Denny Triangle",
)  # fmt: skip
SPLIT_NEIGHBOURHOOD = "007"  # published as two features (halves) sharing the code


@dataclass(frozen=True)
class Neighbourhood:
    code: str  # as published, zero-padded ("007")
    name: str
    rows: tuple[int, int]  # grid rows [start, stop)
    cols: tuple[int, int]  # grid columns [start, stop)

    def areas(self, cols: int) -> list[int]:
        return [r * cols + c for r in range(*self.rows) for c in range(*self.cols)]


def _bands(n: int) -> list[tuple[int, int]]:
    return [(i, min(i + 2, n)) for i in range(0, n, 2)]


def neighbourhoods(grid: Grid) -> list[Neighbourhood]:
    """Disjoint blocks of 2 x 2 tracts (1 x 2 or single ones along an odd edge), south first."""
    blocks = [(r, c) for r in _bands(grid.rows) for c in _bands(grid.cols)]
    names = _NEIGHBOURHOOD_NAMES
    return [
        Neighbourhood(
            code=f"{i + 1:03d}",
            name=names[i % len(names)] + (f" {i // len(names) + 1}" if i >= len(names) else ""),
            rows=r,
            cols=c,
        )
        for i, (r, c) in enumerate(blocks)
    ]


def neighbourhood_membership(grid: Grid) -> dict[str, list[str]]:
    """Published neighbourhood code -> GEOIDs of its tracts."""
    return {n.code: [str(grid.geoids[k]) for k in n.areas(grid.cols)] for n in neighbourhoods(grid)}


def _area_neighbourhood_names(grid: Grid) -> np.ndarray:
    names = np.empty(grid.n_areas, dtype=object)
    for n in neighbourhoods(grid):
        names[n.areas(grid.cols)] = n.name
    return names


def _block_ring(grid: Grid, rows: tuple[int, int], cols: tuple[int, int]) -> list[list[float]]:
    """Outer ring (counter-clockwise, closed) of a block of tracts on the shared vertices."""
    (r0, r1), (c0, c1) = rows, cols
    nodes = (
        [(r0, c) for c in range(c0, c1 + 1)]
        + [(r, c1) for r in range(r0 + 1, r1 + 1)]
        + [(r1, c) for c in range(c1 - 1, c0 - 1, -1)]
        + [(r, c0) for r in range(r1 - 1, r0, -1)]
    )
    ring = [[int(grid.vert_e7[r, c, 0]) / 1e7, int(grid.vert_e7[r, c, 1]) / 1e7] for r, c in nodes]
    return [*ring, ring[0]]


def _halves(n: Neighbourhood) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    (r0, r1), (c0, c1) = n.rows, n.cols
    if c1 - c0 > 1:
        return [(n.rows, (c0, c0 + 1)), (n.rows, (c0 + 1, c1))]
    if r1 - r0 > 1:
        return [((r0, r0 + 1), n.cols), ((r0 + 1, r1), n.cols)]
    return [(n.rows, n.cols)]


def write_neighbourhoods_geojson(city: SampleCity, path: Path) -> dict[str, list[str]]:
    """Neighbourhoods (unions of tracts) as GeoJSON, properties ``nbhd_code``, ``nbhd_name``.

    Neighbourhood ``SPLIT_NEIGHBOURHOOD`` is published as two features, its halves, the second
    at the end of the file: the pipeline must merge rows sharing a code. Returns the membership
    (code -> tract GEOIDs), so a neighbourhood's population is the sum of its tracts'.
    """
    grid = city.grid

    def feature(n: Neighbourhood, rows: tuple[int, int], cols: tuple[int, int]) -> str:
        geometry = {"type": "Polygon", "coordinates": [_block_ring(grid, rows, cols)]}
        properties = {"nbhd_code": n.code, "nbhd_name": n.name}
        doc = {"type": "Feature", "properties": properties, "geometry": geometry}
        return json.dumps(doc, separators=(",", ":"))

    features: list[str] = []
    trailing: list[str] = []
    for n in neighbourhoods(grid):
        parts = _halves(n) if n.code == SPLIT_NEIGHBOURHOOD else [(n.rows, n.cols)]
        features.append(feature(n, *parts[0]))
        trailing.extend(feature(n, *part) for part in parts[1:])
    write_text(Path(path), _feature_collection(features + trailing))
    return neighbourhood_membership(grid)


def _projected_wkt(city: SampleCity, crs: str) -> list[str]:
    """Each area's polygon as WKT in `crs` (vertices projected, edges kept straight)."""
    grid = city.grid
    transform = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = transform.transform(grid.vert_e7[..., 0] / 1e7, grid.vert_e7[..., 1] / 1e7)
    corner_r, corner_c = quad_corners(grid.rows, grid.cols)
    out = []
    for k in range(grid.n_areas):  # one polygon per area
        ring = [(x[r, c], y[r, c]) for r, c in zip(corner_r[k], corner_c[k], strict=True)]
        ring.append(ring[0])
        out.append("POLYGON ((" + ", ".join(f"{px:.3f} {py:.3f}" for px, py in ring) + "))")
    return out


def _area_names(city: SampleCity) -> list[str]:
    return [f"Census Tract {k + 1}" for k in range(city.grid.n_areas)]


def write_areas_wkt_csv(
    city: SampleCity,
    path: Path,
    crs: str = STATE_PLANE_CRS,
    id_field: str = "tract_id",
    wkt_field: str = "the_geom",
) -> Path:
    """The areas as a CSV of ``id_field, name, wkt_field`` with WKT polygons in `crs`."""
    frame = pl.DataFrame(
        {id_field: _geoids(city), "name": _area_names(city), wkt_field: _projected_wkt(city, crs)}
    )
    path = Path(path)
    write_atomic(path, frame.write_csv)
    return path


def write_areas_shapefile(
    city: SampleCity,
    path: Path,
    crs: str = STATE_PLANE_CRS,
    con: duckdb.DuckDBPyConnection | None = None,
) -> Path:
    """The areas as an ESRI shapefile in `crs` (``.shp`` and siblings, ``.prj`` included) with
    attributes ``GEOID`` and ``NAME``. Uses `con` (DuckDB with spatial) when given."""
    frame = pl.DataFrame(
        {"GEOID": _geoids(city), "NAME": _area_names(city), "wkt": _projected_wkt(city, crs)}
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    own = con is None
    db = connect() if con is None else con
    view = "_sample_city_areas"
    try:
        db.register(view, frame.to_arrow())
        db.execute(
            f"COPY (SELECT GEOID, NAME, ST_GeomFromText(wkt) AS geom FROM {view}) "
            f"TO {sql_literal(str(path))} "
            f"WITH (FORMAT GDAL, DRIVER 'ESRI Shapefile', SRS {sql_literal(crs)})"
        )
    finally:
        db.unregister(view)
        if own:
            db.close()
    return path

"""The sample city's police reports: points sampled from the areas' intensity, the planted
dynamics the analytics must find (a rising cluster, a spike, an initiative, an underserved area),
planted defects, and the Seattle SPD export rendered from them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from crimemap.ingestion.layouts import (
    SEATTLE_SPD_COLUMNS,
    SEATTLE_SPD_DATETIME_FORMAT,
)
from crimemap.samplecity.areas import (
    AcsBase,
    CityAreas,
    Hotspot,
    acs_base,
    area_police_codes,
    build_areas,
    build_facilities,
    choose_hotspots,
    deprivation_scores,
)
from crimemap.samplecity.grid import (
    Grid,
    block_parts,
    build_grid,
    format_e9,
    lonlat_transformer,
    round_e9,
    seattle_addresses,
    to_utm,
)
from crimemap.samplecity.points import (
    PointDraw,
    SampledPoints,
    background_draw,
    edge_points,
    gaussian_draw,
    sample_points,
)
from crimemap.samplecity.settings import (
    DEFAULT_SAMPLE_CITY,
    DEFECT_REASONS,
    DEFECT_WEIGHTS,
    EDGE_POINT_DECIMALS,
    EDGE_SHARE,
    HOTSPOT_TOTAL_SHARE,
    HOUR_WEIGHTS,
    MULTI_OFFENSE_PROBS,
    MULTI_OFFENSE_SIZES,
    MULTILINE_SHARE,
    NIBRS_OFFENSES,
    SAMPLE_CITY_TIMEZONE,
    SEASONAL_AMPLITUDE,
    UNKNOWN_OFFENSE_CODES,
    UNKNOWN_TIME_SHARE,
    UNPARSEABLE_DATES,
    ZERO_COORDINATES,
    SampleCityConfig,
)

# --------------------------------------------------------------------------------------------
# Planted dynamics: the answers the analytics marts must find

_RISING_SHARE = 0.07  # of reports, moved into a cluster whose intensity grows over time
RISING_GROWTH = 2.0  # the cluster's last month is this many times as intense as its first
RISING_RADIUS_M = 300.0
SPIKE_CODE = "220"  # burglary
_SPIKE_MIN_REPORTS = 12
_SPIKE_MULTIPLE = 4.0  # extra reports = this many times the area's usual monthly burglaries
INITIATIVE_NAME = "Safe Streets pilot"
INITIATIVE_RELOCATED_SHARE = 0.4  # of the treated areas' reports from the start month on
UNDERSERVED_POPULATION = 2500


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


def _neighbourhood(grid: Grid, k: int) -> set[int]:
    r, c = divmod(k, grid.cols)
    return {
        rr * grid.cols + cc
        for rr in range(max(r - 1, 0), min(r + 2, grid.rows))
        for cc in range(max(c - 1, 0), min(c + 2, grid.cols))
    }


def _facility_xy(facilities: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    lat = facilities.get_column("latitude").cast(pl.Float64).to_numpy()
    lon = facilities.get_column("longitude").cast(pl.Float64).to_numpy()
    x, y = to_utm().transform(lon, lat)
    return np.asarray(x), np.asarray(y)


def nearest_facility_distances(grid: Grid, facilities: pl.DataFrame) -> np.ndarray:
    fx, fy = _facility_xy(facilities)
    dx = grid.centroid_xy[:, 0, None] - fx[None, :]
    dy = grid.centroid_xy[:, 1, None] - fy[None, :]
    return np.hypot(dx, dy).min(axis=1)


def _underserved_area(areas: CityAreas, nearest_m: np.ndarray) -> int | None:
    """Of the clearly deprived populated areas, the one farthest from every facility."""
    candidates = np.flatnonzero((areas.deprivation > 1.0) & ~areas.small)
    return int(candidates[np.argmax(nearest_m[candidates])]) if candidates.size else None


def _plan_dynamics(
    grid: Grid,
    config: SampleCityConfig,
    areas: CityAreas,
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
    underserved = _underserved_area(areas, nearest_facility_distances(grid, facilities))
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
    grid: Grid,
    state: dict[str, np.ndarray],
    idx: np.ndarray,
    draw: PointDraw,
    rng: np.random.Generator,
) -> None:
    """Move the reports `idx` to points drawn by `draw` (no longer on an edge or a hotspot)."""
    pts = sample_points(grid, rng, idx.size, draw, state["decimals"][idx])
    for f in ("x", "y", "lon_e9", "lat_e9", "area", "raw_lon_e9", "raw_lat_e9"):
        state[f][idx] = getattr(pts, f)
    state["on_edge"][idx] = False
    state["hot"][idx] = -1


def _plant_dynamics(
    grid: Grid,
    areas: CityAreas,
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
        sigma = np.full(n_rise, RISING_RADIUS_M / 2)
        draw = gaussian_draw(np.full(n_rise, x0), np.full(n_rise, y0), sigma)
        _relocate(grid, state, idx, draw, rng)
        _, days, _ = month_starts(config.first_month, config.n_months)
        ramp = 1 + (RISING_GROWTH - 1) * np.arange(config.n_months) / max(config.n_months - 1, 1)
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
        draw = background_draw(grid, weights)
        _relocate(grid, state, idx, draw, rng)
        month = np.full(n_spike, plan.spike_month)
        state["start"][idx], state["report"][idx], state["end"][idx] = _times_in_months(
            config, month, rng
        )
        label[idx] = "spike"
        forced[idx] = _offense_index(SPIKE_CODE)

    if plan.initiative_areas:
        starts, _, _ = month_starts(config.first_month, config.n_months)
        treated = np.isin(state["area"], np.array(plan.initiative_areas, dtype=np.int64))
        after = state["start"] >= starts[plan.initiative_month]
        candidates = np.flatnonzero(treated & after & (label == ""))
        idx = candidates[rng.random(candidates.size) < INITIATIVE_RELOCATED_SHARE]
        weights = areas.crime_weight.copy()
        weights[list(plan.initiative_areas)] = 0.0
        draw = background_draw(grid, weights)
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


def _spike_reports(areas: CityAreas, area: int, config: SampleCityConfig, n_reports: int) -> int:
    """Enough extra burglaries to stand out: a multiple of the area's usual monthly count."""
    w = np.array([o.weight for o in NIBRS_OFFENSES])
    burglary_share = w[_offense_index(SPIKE_CODE)] / w.sum()
    area_share = (1 - HOTSPOT_TOTAL_SHARE) * areas.crime_weight[area] / areas.crime_weight.sum()
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
    sizes = rng.choice(np.array(MULTI_OFFENSE_SIZES), size=n_rows, p=MULTI_OFFENSE_PROBS)
    total = np.cumsum(sizes)
    n_reports = int(np.searchsorted(total, n_rows)) + 1
    sizes = sizes[:n_reports].copy()
    sizes[-1] -= total[n_reports - 1] - n_rows
    return sizes


def month_starts(first: date, n_months: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start (datetime64[s]), length in days and calendar month (1-12) of each month."""
    start_m = np.datetime64(first, "M") + np.arange(n_months + 1)
    days = np.diff(start_m.astype("datetime64[D]")).astype(np.int64)
    month_of_year = start_m[:-1].astype(np.int64) % 12 + 1
    return start_m[:-1].astype("datetime64[s]"), days, month_of_year


def skip_dst_gap(t: np.ndarray) -> np.ndarray:
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
    starts, days, moy = month_starts(config.first_month, config.n_months)
    season = 1 + SEASONAL_AMPLITUDE * np.cos(2 * np.pi * (moy - 7) / 12)  # peak in July
    p_month = days * season
    month = rng.choice(len(starts), size=n, p=p_month / p_month.sum())
    return _times_in_months(config, month, rng)


def _times_in_months(
    config: SampleCityConfig, month: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, report and end times of offenses in the given month indices."""
    n = month.size
    starts, days, _ = month_starts(config.first_month, config.n_months)
    day = np.floor(rng.random(n) * days[month]).astype(np.int64)
    hw = np.array(HOUR_WEIGHTS)
    hour = rng.choice(24, size=n, p=hw / hw.sum())
    minute = rng.integers(0, 60, size=n)
    unknown_time = rng.random(n) < UNKNOWN_TIME_SHARE
    hour, minute = np.where(unknown_time, 0, hour), np.where(unknown_time, 0, minute)
    offset_s = day * 86_400 + hour * 3_600 + minute * 60
    start = skip_dst_gap(starts[month] + offset_s.astype("timedelta64[s]"))
    # Reporting lag: mostly hours, a tail of days to weeks (discovered burglaries, frauds).
    lag_h = np.where(
        rng.random(n) < 0.08,
        rng.uniform(48, 720, size=n),
        np.clip(rng.lognormal(np.log(3.0), 1.3, size=n), 0.25, 48),
    )
    lag_s = (np.round(lag_h * 60) * 60).astype(np.int64)
    report = skip_dst_gap(start + lag_s.astype("timedelta64[s]"))
    has_end = rng.random(n) < 0.2
    end_s = (np.floor(rng.random(n) * lag_s / 60) * 60).astype(np.int64)
    end = np.minimum(skip_dst_gap(start + end_s.astype("timedelta64[s]")), report)
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
    grid: Grid,
    areas: CityAreas,
    hotspots: list[Hotspot],
    n: int,
    rng: np.random.Generator,
) -> tuple[SampledPoints, np.ndarray, np.ndarray, np.ndarray]:
    """Location of each report: (points, hotspot index or -1, on_edge, published decimals)."""
    shares = [h.share for h in hotspots]
    background = 1.0 - sum(shares)
    kinds = rng.multinomial(n, [*shares, EDGE_SHARE, background - EDGE_SHARE])
    label = np.repeat(np.arange(len(hotspots) + 2), kinds)[rng.permutation(n)]
    hot = np.where(label < len(hotspots), label, -1)
    on_edge = label == len(hotspots)
    plain = label == len(hotspots) + 1
    decimals = rng.choice(np.array([6, 7, 8, 9]), size=n, p=[0.4, 0.2, 0.2, 0.2])
    decimals[on_edge] = EDGE_POINT_DECIMALS

    fields = ("x", "y", "lon_e9", "lat_e9", "area", "raw_lon_e9", "raw_lat_e9")
    out = {f: np.zeros(n, dtype=np.float64 if f in ("x", "y") else np.int64) for f in fields}

    def put(mask: np.ndarray, pts: SampledPoints) -> None:
        for f in fields:
            out[f][mask] = getattr(pts, f)

    hx = np.array([h.x for h in hotspots])
    hy = np.array([h.y for h in hotspots])
    hs = np.array([h.radius_m / 2 for h in hotspots])  # radius = 2 sigma (~86% of the cluster)
    is_hot = hot >= 0
    h_idx = hot[is_hot]
    put(
        is_hot,
        sample_points(
            grid, rng, h_idx.size, gaussian_draw(hx[h_idx], hy[h_idx], hs[h_idx]), decimals[is_hot]
        ),
    )
    put(
        plain,
        sample_points(
            grid, rng, int(plain.sum()), background_draw(grid, areas.crime_weight), decimals[plain]
        ),
    )
    put(on_edge, edge_points(grid, areas.crime_weight, int(on_edge.sum()), rng))
    return SampledPoints(**out), hot, on_edge, decimals


def allocate(total: int, weights: tuple[float, ...]) -> np.ndarray:
    """Split an integer total by weights (largest remainder), deterministically."""
    w = np.array(weights) / sum(weights)
    raw = total * w
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def out_of_jurisdiction_e9(
    grid: Grid, n: int, rng: np.random.Generator
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
    lon, lat = lonlat_transformer().transform(x, y)
    decimals = rng.choice(np.array([6, 7, 8, 9]), size=n)
    lon_e9 = np.round(np.asarray(lon) * 1e9).astype(np.int64)
    lat_e9 = np.round(np.asarray(lat) * 1e9).astype(np.int64)
    return lon_e9, lat_e9, decimals


def _out_of_jurisdiction(
    grid: Grid, n: int, rng: np.random.Generator
) -> tuple[pl.Series, pl.Series]:
    lon_e9, lat_e9, decimals = out_of_jurisdiction_e9(grid, n, rng)
    return (
        format_e9(round_e9(lon_e9, decimals), decimals),
        format_e9(round_e9(lat_e9, decimals), decimals),
    )


def embed_newlines(values: pl.Series, rows: np.ndarray) -> pl.Series:
    """Break the given rows' text before its last word: a quoted multi-line CSV field."""
    if rows.size == 0:
        return values
    broken = values.gather(rows).str.replace(r" (\S+)$", "\n$1")
    return values.scatter(rows, broken)


def multiline_row_positions(
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
    grid: Grid,
    config: SampleCityConfig,
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    """Give `defect_rate` of the rows exactly one defect each; the rest stay clean."""
    n = frame.height
    n_defects = min(round(config.defect_rate * n), max(n - 1, 0))
    counts = allocate(n_defects, DEFECT_WEIGHTS)
    # Row 0 stays clean so every duplicate has an earlier clean original to copy.
    positions = (
        rng.choice(np.arange(1, n), size=n_defects, replace=False)
        if n_defects
        else np.array([], dtype=np.int64)
    )
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
    zero_text = np.array(ZERO_COORDINATES)[rng.integers(0, len(ZERO_COORDINATES), zero.size)]
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
    bad_text = np.array(UNPARSEABLE_DATES)[rng.integers(0, len(UNPARSEABLE_DATES), bad.size)]
    start = start.scatter(bad, pl.Series(bad_text.tolist(), dtype=pl.String))
    future = at["date_future"]
    minutes = rng.integers(0, 365 * 24 * 60, size=future.size) * 60
    future_t = skip_dst_gap(np.datetime64("2099-01-01T00:00:00") + minutes.astype("timedelta64[s]"))
    start = start.scatter(future, _format_local(future_t))

    code = frame.get_column("Offense Code").clone()
    unknown = at["offense_code_unknown"]
    unknown_codes = np.array(UNKNOWN_OFFENSE_CODES)[
        rng.integers(0, len(UNKNOWN_OFFENSE_CODES), unknown.size)
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
    grid: Grid,
    areas: CityAreas,
    hotspots: list[Hotspot],
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
    point_fields = [f.name for f in dataclasses.fields(SampledPoints)]
    state = {f: getattr(located[0], f).copy() for f in point_fields}
    state.update(hot=located[1].copy(), on_edge=located[2].copy(), decimals=located[3])
    state.update(start=start, report=report, end=end)
    planted, forced = _plant_dynamics(grid, areas, plan, config, state, plant_rng)
    pts = SampledPoints(**{f: state[f] for f in point_fields})
    hot, on_edge, decimals = state["hot"], state["on_edge"], state["decimals"]
    start, report, end = state["start"], state["report"], state["end"]
    parts = block_parts(grid, pts.x, pts.y, rng)

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
    grid: Grid
    areas: CityAreas
    hotspots: tuple[Hotspot, ...]
    plan: _Plan
    acs: AcsBase
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


def build_sample_city(config: SampleCityConfig = DEFAULT_SAMPLE_CITY) -> SampleCity:
    """Draw the whole city from the config's seed (nothing is written)."""
    # A sixth stream for the planted dynamics: spawning one more child leaves the first five
    # (and so every earlier component) unchanged.
    seeds = np.random.SeedSequence(config.seed).spawn(6)
    grid_rng, area_rng, hot_rng, facility_rng, incident_rng, plant_rng = (
        np.random.default_rng(s) for s in seeds
    )
    grid = build_grid(config, grid_rng)
    z = deprivation_scores(grid, area_rng)
    hotspots, hot_areas = choose_hotspots(grid, z, hot_rng)
    areas = build_areas(grid, hot_areas, z, area_rng)
    facilities = build_facilities(grid, config.n_facilities, facility_rng)
    plan = _plan_dynamics(grid, config, areas, hot_areas, facilities, plant_rng)
    if plan.underserved_area is not None:
        # A mid-sized population, so the pocket's need shows in rates as well as indicators.
        population = areas.population.copy()
        population[plan.underserved_area] = UNDERSERVED_POPULATION
        areas = dataclasses.replace(areas, population=population)
    acs = acs_base(grid, areas, area_rng)
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
        incident_rng_state=dict(incident_rng.bit_generator.state),
    )


def seattle_spd_export(city: SampleCity) -> SeattleExport:
    """The city's offenses in the Seattle SPD layout, with planted defects and per-row truth."""
    grid, config, reports = city.grid, city.config, city.reports
    rng = city.incident_rng()
    area = reports.get_column("area").to_numpy()
    decimals = reports.get_column("spd_decimals").to_numpy()
    lon_e9 = round_e9(reports.get_column("lon_e9").to_numpy(), decimals)
    lat_e9 = round_e9(reports.get_column("lat_e9").to_numpy(), decimals)
    precinct, sector, beat, mcpp = area_police_codes(grid)
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
            "100 Block Address": seattle_addresses(reports),
            "Longitude": format_e9(lon_e9, decimals),
            "Latitude": format_e9(lat_e9, decimals),
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
    multiline = multiline_row_positions(truth["defect"], truth["source"][dup], rng)
    frame = frame.with_columns(embed_newlines(frame.get_column("100 Block Address"), multiline))

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

"""The analytics settings of a jurisdiction (``analysis:`` and ``initiatives:`` in its YAML).

They reach the dbt marts as ``--vars`` (``crimemap.config.runtime.dbt_vars``, used by runs and by
``crimemap dbt``); the defaults here equal the ones in ``dbt_project/dbt_project.yml``. Every
statistic the keys tune is documented in ``docs/analytics.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from crimemap.config.sources import ConfigError, as_mapping, parse_month

GRID_SHAPES = ("hexagon", "square")
PRIORITY_COMPONENTS = ("person_crime", "mental_health", "deprivation", "access_gap")
DEFAULT_PRIORITY_WEIGHTS: Mapping[str, float] = {
    "person_crime": 0.30,
    "mental_health": 0.15,
    "deprivation": 0.35,
    "access_gap": 0.20,
}


@dataclass(frozen=True)
class Initiative:
    """An intervention to evaluate: its areas (as the boundaries name them) and first month."""

    name: str
    areas: tuple[str, ...]
    start_month: date


@dataclass(frozen=True)
class AnalysisSettings:
    min_population: int = 300  # rates are suppressed below this many residents
    grid_shape: str = "hexagon"
    grid_cell_m: float = 500.0  # distance between neighbouring cell centres, metres
    hotspot_band_m: float | None = None  # Gi* distance band; None = 1.5 x grid_cell_m
    spike_baseline_months: int = 12  # trailing window the usual level is taken over
    spike_min_baseline_months: int = 6  # fewer months of history: no spike is judged
    spike_alpha: float = 0.001  # the month's Poisson tail probability must be below this
    spike_min_ratio: float = 2.0  # and at least this many times the usual level
    spike_min_count: int = 5  # and at least this many reports
    catchment_m: float = 3000.0  # 2SFCA catchment radius
    priority_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_PRIORITY_WEIGHTS)
    )
    # Further need-index components: the jurisdiction's own indicators (e.g. a hardship index),
    # named in priority_weights beside the four above; checked against the indicators on load.
    indicator_weights: Mapping[str, float] = field(default_factory=dict)
    forecast_holdout_months: int = 6  # months the forecast is scored on
    forecast_area_shares: tuple[float, ...] = (0.05, 0.10)  # PAI/PEI at these shares of cells
    initiatives: tuple[Initiative, ...] = ()

    @property
    def neighbourhood_m(self) -> float:
        return self.hotspot_band_m if self.hotspot_band_m is not None else 1.5 * self.grid_cell_m

    def dbt_vars(self) -> dict[str, Any]:
        """The settings as the dbt models read them."""
        return {
            "min_population": self.min_population,
            "grid_shape": self.grid_shape,
            "grid_cell_m": self.grid_cell_m,
            "hotspot_band_m": self.neighbourhood_m,
            "spike_baseline_months": self.spike_baseline_months,
            "spike_min_baseline_months": self.spike_min_baseline_months,
            "spike_alpha": self.spike_alpha,
            "spike_min_ratio": self.spike_min_ratio,
            "spike_min_count": self.spike_min_count,
            "catchment_m": self.catchment_m,
            "priority_weights": dict(self.priority_weights),
            "forecast_holdout_months": self.forecast_holdout_months,
            "forecast_area_shares": list(self.forecast_area_shares),
            "initiatives": [
                {
                    "name": i.name,
                    "areas": list(i.areas),
                    "start_month": i.start_month.isoformat(),
                }
                for i in self.initiatives
            ],
        }


# --- readers ---------------------------------------------------------------------------------


def known_keys(entry: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; known: {sorted(allowed)}")


def config_number(value: Any, where: str, *, low: float, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{where}: must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def config_whole(value: Any, where: str, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{where}: expected a whole number of at least {low}, got {value!r}")
    return value


def _priority_weights(value: Any, where: str) -> tuple[dict[str, float], dict[str, float]]:
    """The four standard components' weights, and the weights of the indicators named beside
    them (whether those are the jurisdiction's indicators is checked with the sources)."""
    entry = as_mapping(value, where)
    weights = {
        name: config_number(
            entry.get(name, DEFAULT_PRIORITY_WEIGHTS[name]), f"{where}.{name}", low=0
        )
        for name in PRIORITY_COMPONENTS
    }
    indicator_weights = {
        str(name): config_number(weight, f"{where}.{name}", low=0)
        for name, weight in entry.items()
        if name not in PRIORITY_COMPONENTS
    }
    if sum(weights.values()) + sum(indicator_weights.values()) <= 0:
        raise ConfigError(f"{where}: at least one weight must be positive")
    return weights, indicator_weights


def _area_shares(value: Any, where: str) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: expected a list of shares like [0.05, 0.10]")
    shares = tuple(
        config_number(v, f"{where}[{i}]", low=1e-6, high=1.0) for i, v in enumerate(value)
    )
    if len(set(shares)) != len(shares):
        raise ConfigError(f"{where}: shares must be distinct, got {list(shares)}")
    return shares


def analysis_settings(entry: Any, where: str) -> AnalysisSettings:
    """Parse ``analysis:`` (every key optional)."""
    entry = as_mapping(entry, where)
    known_keys(
        entry,
        ("min_population", "grid", "spikes", "service_access", "priority_weights", "forecast"),
        where,
    )
    d = AnalysisSettings()
    grid = as_mapping(entry.get("grid"), f"{where}.grid")
    known_keys(grid, ("shape", "cell_size_m", "neighbourhood_m"), f"{where}.grid")
    shape = grid.get("shape", d.grid_shape)
    if shape not in GRID_SHAPES:
        raise ConfigError(f"{where}.grid.shape: one of {', '.join(GRID_SHAPES)}, not {shape!r}")
    cell = config_number(
        grid.get("cell_size_m", d.grid_cell_m), f"{where}.grid.cell_size_m", low=10
    )
    band = grid.get("neighbourhood_m")
    if band is not None:
        # A band shorter than the centre spacing would leave every cell without neighbours.
        band = config_number(band, f"{where}.grid.neighbourhood_m", low=cell)
    spikes = as_mapping(entry.get("spikes"), f"{where}.spikes")
    known_keys(
        spikes,
        ("baseline_months", "min_baseline_months", "alpha", "min_ratio", "min_count"),
        f"{where}.spikes",
    )
    baseline = config_whole(
        spikes.get("baseline_months", d.spike_baseline_months),
        f"{where}.spikes.baseline_months",
        low=2,
    )
    min_baseline = config_whole(
        spikes.get("min_baseline_months", d.spike_min_baseline_months),
        f"{where}.spikes.min_baseline_months",
        low=1,
    )
    if min_baseline > baseline:
        raise ConfigError(
            f"{where}.spikes.min_baseline_months: {min_baseline} exceeds baseline_months {baseline}"
        )
    access = as_mapping(entry.get("service_access"), f"{where}.service_access")
    known_keys(access, ("catchment_m",), f"{where}.service_access")
    forecast = as_mapping(entry.get("forecast"), f"{where}.forecast")
    known_keys(forecast, ("holdout_months", "area_shares"), f"{where}.forecast")
    weights, indicator_weights = _priority_weights(
        entry.get("priority_weights"), f"{where}.priority_weights"
    )
    return AnalysisSettings(
        min_population=config_whole(
            entry.get("min_population", d.min_population), f"{where}.min_population", low=0
        ),
        grid_shape=shape,
        grid_cell_m=cell,
        hotspot_band_m=band,
        spike_baseline_months=baseline,
        spike_min_baseline_months=min_baseline,
        spike_alpha=config_number(
            spikes.get("alpha", d.spike_alpha), f"{where}.spikes.alpha", low=1e-12, high=0.5
        ),
        spike_min_ratio=config_number(
            spikes.get("min_ratio", d.spike_min_ratio), f"{where}.spikes.min_ratio", low=1.0
        ),
        spike_min_count=config_whole(
            spikes.get("min_count", d.spike_min_count), f"{where}.spikes.min_count", low=1
        ),
        catchment_m=config_number(
            access.get("catchment_m", d.catchment_m),
            f"{where}.service_access.catchment_m",
            low=1,
        ),
        priority_weights=weights,
        indicator_weights=indicator_weights,
        forecast_holdout_months=config_whole(
            forecast.get("holdout_months", d.forecast_holdout_months),
            f"{where}.forecast.holdout_months",
            low=1,
        ),
        forecast_area_shares=_area_shares(
            forecast.get("area_shares", list(d.forecast_area_shares)),
            f"{where}.forecast.area_shares",
        ),
    )


def initiatives(entries: Any, where: str) -> tuple[Initiative, ...]:
    """Parse ``initiatives:``, a list of ``{name, areas: [...], start: YYYY-MM}``."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: expected a list of initiatives")
    parsed: list[Initiative] = []
    for i, raw in enumerate(entries):
        at = f"{where}[{i}]"
        entry = as_mapping(raw, at)
        known_keys(entry, ("name", "areas", "start"), at)
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{at}.name: required")
        areas = entry.get("areas")
        if not isinstance(areas, list) or not areas:
            raise ConfigError(f"{at}.areas: list the areas the initiative covers")
        codes = tuple(str(a) for a in areas)
        if len(set(codes)) != len(codes):
            raise ConfigError(f"{at}.areas: an area is listed twice")
        if "start" not in entry:
            raise ConfigError(f"{at}.start: required (the first month, like 2025-07)")
        start = entry["start"]
        start_month = parse_month(
            start.isoformat() if isinstance(start, date) else start, f"{at}.start"
        )
        parsed.append(Initiative(name=name.strip(), areas=codes, start_month=start_month))
    names = [p.name for p in parsed]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: initiative names must be unique, got {names}")
    return tuple(parsed)

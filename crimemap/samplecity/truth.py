"""The truth the sample city plants: what the pipeline's results are tested against."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from crimemap.samplecity.areas import CityAreas, Hotspot
from crimemap.samplecity.files import utm_to_lonlat
from crimemap.samplecity.grid import Grid, locate_utm
from crimemap.samplecity.incidents import (
    INITIATIVE_NAME,
    INITIATIVE_RELOCATED_SHARE,
    RISING_GROWTH,
    RISING_RADIUS_M,
    SPIKE_CODE,
    UNDERSERVED_POPULATION,
    SampleCity,
    SeattleExport,
    month_starts,
    nearest_facility_distances,
)
from crimemap.samplecity.settings import (
    ACS_JSON_NAME,
    AREAS_GEOJSON_NAME,
    DEFECT_REASONS,
    FACILITIES_CSV_NAME,
    POLICE_CSV_NAME,
    SAMPLE_CITY_CRS,
    SAMPLE_CITY_TIMEZONE,
    SENSITIVE_CODES,
    SERVICE_REQUESTS_CSV_NAME,
    SURVEY_CSV_NAME,
    TRUTH_INCIDENTS_NAME,
    TRUTH_SERVICE_REQUESTS_NAME,
    SampleCityConfig,
)

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


def truth_document(
    config: SampleCityConfig,
    grid: Grid,
    areas: CityAreas,
    hotspots: list[Hotspot],
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
    centre_area = locate_utm(grid, hx, hy)
    config_doc = {
        k: (v.isoformat() if isinstance(v, date) else v)
        for k, v in dataclasses.asdict(config).items()
    }
    last_month = np.datetime64(config.first_month, "M") + config.n_months
    return {
        "generator": "crimemap.samplecity.generate",
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
                "lon": utm_to_lonlat(h.x, h.y)[0],
                "lat": utm_to_lonlat(h.x, h.y)[1],
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
    starts, _, _ = month_starts(city.config.first_month, city.config.n_months)

    def month(index: int) -> str:
        return str(starts[index].astype("datetime64[D]"))

    rising = None
    if plan.rising_xy is not None and plan.rising_area is not None:
        lon, lat = utm_to_lonlat(*plan.rising_xy)
        rising = {
            "id": "R1",
            "lon": lon,
            "lat": lat,
            "x": round(plan.rising_xy[0], 3),
            "y": round(plan.rising_xy[1], 3),
            "radius_m": RISING_RADIUS_M,
            "area_id": str(grid.geoids[plan.rising_area]),
            "reports": int(counts.get("rising_hotspot", 0)),
            "growth": RISING_GROWTH,
        }
    spike = None
    if plan.spike_area is not None:
        spike = {
            "area_id": str(grid.geoids[plan.spike_area]),
            "category": "burglary",
            "nibrs_code": SPIKE_CODE,
            "month": month(plan.spike_month),
            "reports": int(counts.get("spike", 0)),
        }
    initiative = None
    if plan.initiative_areas:
        initiative = {
            "name": INITIATIVE_NAME,
            "areas": [str(grid.geoids[k]) for k in plan.initiative_areas],
            "start_month": month(plan.initiative_month),
            "relocated_share": INITIATIVE_RELOCATED_SHARE,
            "relocated_reports": int(counts.get("initiative_displaced", 0)),
        }
    underserved = None
    if plan.underserved_area is not None:
        nearest = nearest_facility_distances(grid, city.facilities)[plan.underserved_area]
        underserved = {
            "area_id": str(grid.geoids[plan.underserved_area]),
            "population": UNDERSERVED_POPULATION,
            "nearest_facility_m": round(float(nearest), 1),
        }
    return {
        "rising_hotspot": rising,
        "spike": spike,
        "initiative": initiative,
        "underserved_area": underserved,
    }

"""The reference: crimemap's core job written by hand, as an analyst would, with pandas + GeoPandas.

Read the police export, clean it, join the points to the areas, count offenses by area x month
x category, write GeoParquet. The cleaning follows the rules crimemap documents
(docs/data-contracts.md) so that the counts can be compared cell by cell with crimemap's
``area_month_rates``:

- ids, offense code and date must be present; the date must parse in the layout's formats, be
  on or after 1990-01-01 and not in the future; the month must be one of the loaded months;
- a point must parse, not be (0, 0), and lie within 50 m of an area (``boundary_tolerance_m``);
  a point in no area but within the tolerance belongs to the nearest area;
- the second and later copies of an Offense ID are duplicates, judged among clean rows;
- the category comes from the layout's crosswalk seed; unknown codes count as ``unmapped``.

Intended difference from crimemap, which changes no count on the sample city: crimemap also
quarantines malformed CSV records, where pandas would stop on them.

Usage (normally run by ``benchmarks.pipeline``):

    python -m benchmarks.reference --data-dir DIR --out counts.parquet
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path

import geopandas  # type: ignore[import-untyped]
import pandas as pd

from crimemap.core.project import DBT_PROJECT_DIR

DATE_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S")
MIN_VALID_DATE = pd.Timestamp("1990-01-01")
TOLERANCE_M = 50.0
PROJECTED_CRS = "EPSG:32610"


def parse_dates(text: pd.Series) -> pd.Series:
    """The first of the layout's formats that parses each value; NaT when none does."""
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    for fmt in DATE_FORMATS:
        missing = parsed.isna()
        parsed[missing] = pd.to_datetime(text[missing], format=fmt, errors="coerce")
    return parsed


def clean(raw: pd.DataFrame, months: tuple[str, str], now: datetime) -> pd.DataFrame:
    """The rows crimemap would accept, before the spatial rule."""
    df = raw.copy()
    present = (
        (df["Report Number"].str.strip() != "")
        & (df["Offense ID"].str.strip() != "")
        & (df["Offense Code"].str.strip() != "")
    )
    df["occurred"] = parse_dates(df["Offense Start DateTime"].str.strip())
    df["lon"] = pd.to_numeric(df["Longitude"], errors="coerce")
    df["lat"] = pd.to_numeric(df["Latitude"], errors="coerce")
    dated = (
        df["occurred"].notna()
        & (df["occurred"] >= MIN_VALID_DATE)
        & (df["occurred"] <= pd.Timestamp(now))
    )
    located = df["lon"].notna() & df["lat"].notna() & ~((df["lon"] == 0) & (df["lat"] == 0))
    df = df[present & dated & located].copy()
    df["month"] = df["occurred"].dt.to_period("M").dt.to_timestamp().dt.date
    first, last = (pd.Timestamp(m).date() for m in months)
    return df[(df["month"] >= first) & (df["month"] <= last)]


def assign_areas(df: pd.DataFrame, areas: geopandas.GeoDataFrame) -> pd.DataFrame:
    """Each point's area: the one covering it (tested in lon/lat, where neighbouring polygons
    share their edges exactly; on a shared edge the lowest area id), else the nearest within
    the tolerance (measured in metres)."""
    points = geopandas.GeoDataFrame(
        df, geometry=geopandas.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326"
    )
    zones = areas[["area_id", "geometry"]]
    covered = geopandas.sjoin(points, zones, how="inner", predicate="intersects")
    covered = covered.sort_values("area_id", kind="stable")
    covered = covered[~covered.index.duplicated(keep="first")]
    outside = points[~points.index.isin(covered.index)].to_crs(PROJECTED_CRS)
    near = geopandas.sjoin_nearest(
        outside, zones.to_crs(PROJECTED_CRS), how="inner", max_distance=TOLERANCE_M
    )
    near = near.sort_values("area_id", kind="stable")
    near = near[~near.index.duplicated(keep="first")]
    columns = [*df.columns, "area_id"]
    return pd.concat([pd.DataFrame(covered[columns]), pd.DataFrame(near[columns])])


def area_month_counts(
    raw: pd.DataFrame,
    areas: geopandas.GeoDataFrame,
    crosswalk: pd.DataFrame,
    months: tuple[str, str],
    now: datetime,
) -> pd.DataFrame:
    df = assign_areas(clean(raw, months, now), areas)
    # Duplicates are judged among otherwise clean rows: the first copy (file order) stays.
    df = df.sort_index()
    df = df[~df["Offense ID"].duplicated(keep="first")]
    codes = dict(zip(crosswalk["offense_code"], crosswalk["category"], strict=True))
    df["category"] = df["Offense Code"].str.strip().str.upper().map(codes).fillna("unmapped")
    counts = df.groupby(["area_id", "month", "category"]).size().rename("incident_count")
    return counts.reset_index()


def run(data_dir: Path, out: Path) -> dict[str, float | int]:
    """The whole reference job on the sample city in ``data_dir``; its figures."""
    started = time.perf_counter()
    (city,) = (data_dir / "sources" / "sample").iterdir()
    raw = pd.read_csv(city / "seattle_spd_crime_data.csv", dtype=str, keep_default_na=False)
    areas = geopandas.read_file(city / "areas.geojson").rename(columns={"GEOID": "area_id"})
    crosswalk = pd.read_csv(DBT_PROJECT_DIR / "seeds" / "crosswalk_seattle_spd.csv", dtype=str)
    months = loaded_months(data_dir)
    counts = area_month_counts(raw, areas, crosswalk, months, datetime.now())
    layer = areas[["area_id", "geometry"]].merge(counts, on="area_id")
    layer.to_parquet(out, compression="zstd", geometry_encoding="WKB", write_covering_bbox=True)
    return {"seconds": time.perf_counter() - started, "rows": len(raw), "cells": len(counts)}


def loaded_months(data_dir: Path) -> tuple[str, str]:
    """The first and last police month crimemap loaded (its partitions on disk)."""
    months = sorted(
        p.name.removeprefix("month=") for p in (data_dir / "conformed" / "police").glob("*/month=*")
    )
    return months[0], months[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    print(json.dumps(run(args.data_dir, args.out)))


if __name__ == "__main__":
    main()

"""Privacy rules for published layers (never the internal warehouse).

Incident points are generalized to the centroid of a grid cell, sensitive offences carry no point
at all, small aggregate counts are suppressed, and a published layer never carries victim
attributes, names or free text. ``audit_release`` proves this on the files actually written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.geoparquet import sql_string


@dataclass(frozen=True)
class PrivacyRules:
    min_cell_count: int = 5  # k: aggregate cells with 0 < count < k are suppressed
    point_cell_m: float = 250.0  # incident points snap to the centroid of a cell this wide
    # Column names that must never appear in a published layer ("person_crime" is the NIBRS
    # crime-against category, an aggregate, not a person's attribute).
    forbidden_columns: str = (
        r"(?i)(vict|suspect|person(?!_crime)|narrative|address|description|report_number|mocodes|"
        r"gender|race|ethnicity|(^|_)age$|(^|_)sex$)"
    )

    def describe(self) -> list[str]:
        return [
            f"incident points generalized to the centroid of a {self.point_cell_m:g} m grid cell",
            "sensitive offences published without point geometry",
            f"aggregate counts with 0 < count < {self.min_cell_count} suppressed",
            "rates withheld where the population is below the warehouse's floor "
            "(dbt var min_population)",
            "sensitive offences published without area, day or offense code",
            "no victim attributes, names, report numbers or free text; ids are salted hashes",
        ]


def generalized_point_sql(geom: str, projected_crs: str, cell_m: float) -> str:
    """SQL for a lon/lat point moved to the centroid of its ``cell_m`` grid cell."""
    projected = f"ST_Transform({geom}, 'EPSG:4326', '{projected_crs}', always_xy := true)"
    snap_x = f"(floor(ST_X({projected}) / {cell_m}) + 0.5) * {cell_m}"
    snap_y = f"(floor(ST_Y({projected}) / {cell_m}) + 0.5) * {cell_m}"
    return (
        f"ST_Transform(ST_Point({snap_x}, {snap_y}), '{projected_crs}', 'EPSG:4326', "
        "always_xy := true)"
    )


def suppressed_count_sql(count: str, k: int) -> str:
    return f"CASE WHEN {count} > 0 AND {count} < {k} THEN NULL ELSE {count} END"


def is_suppressed_sql(count: str, k: int) -> str:
    return f"({count} > 0 AND {count} < {k})"


def forbidden_columns(columns: list[str], rules: PrivacyRules) -> list[str]:
    pattern = re.compile(rules.forbidden_columns)
    return [c for c in columns if pattern.search(c)]


def audit_incident_points(
    con: duckdb.DuckDBPyConnection, path: Path, rules: PrivacyRules, projected_crs: str
) -> list[str]:
    """Sensitive rows carry no point, area, day or code; other points sit on a cell centroid."""
    problems: list[str] = []
    source = f"read_parquet({sql_string(str(path))})"
    sensitive_located = con.execute(
        f"SELECT count(*) FROM {source} WHERE is_sensitive AND (geometry IS NOT NULL "
        "OR area_id IS NOT NULL OR occurred_date IS NOT NULL OR nibrs_code IS NOT NULL)"
    ).fetchone()[0]
    if sensitive_located:
        problems.append(
            f"{path.name}: {sensitive_located} sensitive offences carry a point, area, day or code"
        )
    resnapped = generalized_point_sql("geometry", projected_crs, rules.point_cell_m)
    # A generalized point re-snaps onto itself; a precise one moves (tolerance: float round-trip).
    exact_points = con.execute(
        f"SELECT count(*) FROM {source} WHERE geometry IS NOT NULL "
        f"AND ST_Distance(ST_Transform(geometry, 'EPSG:4326', '{projected_crs}', "
        f"always_xy := true), ST_Transform({resnapped}, 'EPSG:4326', '{projected_crs}', "
        "always_xy := true)) > 0.01"
    ).fetchone()[0]
    if exact_points:
        problems.append(f"{path.name}: {exact_points} points are not generalized")
    return problems


def audit_counts(
    con: duckdb.DuckDBPyConnection, path: Path, count_columns: list[str], k: int
) -> list[str]:
    problems = []
    for column in count_columns:
        small = con.execute(
            f"SELECT count(*) FROM read_parquet({sql_string(str(path))}) "
            f"WHERE {is_suppressed_sql(column, k)}"
        ).fetchone()[0]
        if small:
            problems.append(f"{path.name}: {small} rows of {column} below k={k}")
    return problems


def audit_columns(con: duckdb.DuckDBPyConnection, path: Path, rules: PrivacyRules) -> list[str]:
    described = con.execute(
        f"DESCRIBE SELECT * FROM read_parquet({sql_string(str(path))})"
    ).fetchall()
    columns = [row[0] for row in described]
    bad = forbidden_columns(columns, rules)
    return [f"{path.name}: forbidden column {c!r}" for c in bad]

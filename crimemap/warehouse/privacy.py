"""Privacy rules for published layers (never the internal warehouse).

Incident points are generalized (to the centroid of a grid cell, or of a hundred block that at
least k offenses share), sensitive offences carry no point at all, small aggregate counts are
suppressed together with the complementary cells that would give them away, rates are withheld
below a population floor, and a published layer never carries victim attributes, names or free
text. ``audit_release`` proves this on the files actually written; the publisher refuses a
release it finds anything in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb

from crimemap.core.duckdb_spatial import fetch_one
from crimemap.core.sql import quote_ident
from crimemap.warehouse.geoparquet import scan_sql
from crimemap.warehouse.suppression import alone_in_a_group_sql, audit_complementary

PointGeneralization = Literal["grid", "hundred_block"]
POINT_GENERALIZATIONS: tuple[str, ...] = ("grid", "hundred_block")
# What the incident-point checks read.
INCIDENT_COLUMNS = ("is_sensitive", "geometry", "area_id", "occurred_date", "nibrs_code")
# A generalized point re-snaps onto itself; allow for the float round trip through lon/lat.
_SNAP_TOLERANCE_M = 0.01


@dataclass(frozen=True)
class PrivacyRules:
    min_cell_count: int = 5  # k: aggregate cells with 0 < count < k are suppressed
    point_generalization: PointGeneralization = "grid"
    point_cell_m: float = 250.0  # grid cell width; also the fallback of small hundred blocks
    min_population: int = 300  # rates are withheld for areas with fewer residents
    # Column names that must never appear in a published layer ("person_crime" is the NIBRS
    # crime-against category, an aggregate, not a person's attribute).
    forbidden_columns: str = (
        r"(?i)(vict|suspect|person(?!_crime)|narrative|address|description|report_number|mocodes|"
        r"gender|race|ethnicity|(^|_)name$|(^|_)age$|(^|_)sex$|comment|note)"
    )
    # Column names a layer may carry although the pattern matches them (area and place names
    # are public geography, not people).
    allowed_columns: frozenset[str] = frozenset({"area_name", "facility_name", "initiative_name"})

    def __post_init__(self) -> None:
        if self.min_cell_count < 2:
            raise ValueError(f"min_cell_count must be at least 2, got {self.min_cell_count}")
        if self.point_generalization not in POINT_GENERALIZATIONS:
            raise ValueError(
                f"point_generalization must be one of {list(POINT_GENERALIZATIONS)}, "
                f"got {self.point_generalization!r}"
            )
        if not self.point_cell_m > 0:
            raise ValueError(f"point_cell_m must be positive, got {self.point_cell_m}")

    def settings(self) -> dict[str, str | int | float]:
        """The manifest's machine-readable ``privacy`` object."""
        return {
            "min_cell_count": self.min_cell_count,
            "point_generalization": self.point_generalization,
            "point_cell_m": self.point_cell_m,
            "min_population": self.min_population,
        }

    @property
    def point_precision(self) -> str:
        return f"grid_{self.point_cell_m:g}m"

    def describe(self) -> list[str]:
        k = self.min_cell_count
        if self.point_generalization == "hundred_block":
            points = (
                f"incident points generalized to the centroid of their hundred block where at "
                f"least {k} offenses share it, else to the centroid of a {self.point_cell_m:g} m "
                "grid cell"
            )
        else:
            points = (
                f"incident points generalized to the centroid of a {self.point_cell_m:g} m "
                "grid cell"
            )
        return [
            points,
            "sensitive offences published without point geometry, area, day or offense code",
            f"aggregate counts with 0 < count < {k} suppressed",
            "complementary suppression: no row or column total reveals a suppressed count",
            f"rates withheld where the population is below {self.min_population}",
            "no victim attributes, names, report numbers or free text; ids are salted hashes",
        ]


@dataclass(frozen=True)
class LayerPrivacy:
    """What the audit checks on one layer."""

    # Aggregate counts: none may be 0 < count < k.
    count_columns: tuple[str, ...] = ()
    # True where a count is withheld; with linked_groups, no group may hold exactly one.
    suppressed_flag: str | None = None
    # Key columns of each family of cells bound by an additive total (published or derivable).
    linked_groups: tuple[tuple[str, ...], ...] = ()
    # Rates withheld where population_column is below the floor (or unknown).
    rate_columns: tuple[str, ...] = ()
    population_column: str | None = None
    # One row per offense: sensitive rows unlocated, every point generalized.
    incident_points: bool = False


# --------------------------------------------------------------------------- SQL transforms


def _projected(geom: str, projected_crs: str) -> str:
    return f"ST_Transform({geom}, 'EPSG:4326', '{projected_crs}', always_xy := true)"


def _to_lonlat(geom: str, projected_crs: str) -> str:
    return f"ST_Transform({geom}, '{projected_crs}', 'EPSG:4326', always_xy := true)"


def generalized_point_sql(geom: str, projected_crs: str, cell_m: float) -> str:
    """SQL for a lon/lat point moved to the centroid of its ``cell_m`` grid cell."""
    projected = _projected(geom, projected_crs)
    snap_x = f"(floor(ST_X({projected}) / {cell_m}) + 0.5) * {cell_m}"
    snap_y = f"(floor(ST_Y({projected}) / {cell_m}) + 0.5) * {cell_m}"
    return _to_lonlat(f"ST_Point({snap_x}, {snap_y})", projected_crs)


def hundred_block_points_sql(source: str, projected_crs: str, k: int) -> str:
    """One row per (source, block_address) that at least ``k`` located, non-sensitive offenses
    share, with the centroid of their points (lon/lat) as ``block_point``.

    A block shared by fewer offenses would pin them down, so those fall back to the grid.
    """
    projected = _projected("geom", projected_crs)
    centroid = _to_lonlat(
        f"ST_Point(avg(ST_X({projected})), avg(ST_Y({projected})))", projected_crs
    )
    return f"""
        SELECT source, block_address, {centroid} AS block_point
        FROM {source}
        WHERE block_address IS NOT NULL AND geom IS NOT NULL AND NOT is_sensitive
        GROUP BY source, block_address
        HAVING count(*) >= {k}
    """


def suppressed_count_sql(count: str, k: int) -> str:
    return f"CASE WHEN {count} > 0 AND {count} < {k} THEN NULL ELSE {count} END"


def is_suppressed_sql(count: str, k: int) -> str:
    return f"({count} > 0 AND {count} < {k})"


def forbidden_columns(columns: Sequence[str], rules: PrivacyRules) -> list[str]:
    pattern = re.compile(rules.forbidden_columns)
    return [c for c in columns if c not in rules.allowed_columns and pattern.search(c)]


# --------------------------------------------------------------------------- audit


def audit_columns(columns: Sequence[str], name: str, rules: PrivacyRules) -> list[str]:
    return [f"{name}: forbidden column {c!r}" for c in forbidden_columns(columns, rules)]


def audit_incident_points(
    con: duckdb.DuckDBPyConnection,
    source: str,
    name: str,
    rules: PrivacyRules,
    projected_crs: str,
) -> list[str]:
    """Sensitive rows carry no point, area, day or code; every other point is generalized."""
    problems: list[str] = []
    sensitive_located = fetch_one(
        con,
        f"SELECT count(*) FROM {source} WHERE is_sensitive AND (geometry IS NOT NULL "
        "OR area_id IS NOT NULL OR occurred_date IS NOT NULL OR nibrs_code IS NOT NULL)",
    )[0]
    if sensitive_located:
        problems.append(
            f"{name}: {sensitive_located} sensitive offences carry a point, area, day or code"
        )
    # Generalized points are few and shared: each distinct point is judged once, with the
    # offenses that share it, rather than projected twice for every row.
    point = "ST_GeomFromWKB(wkb)"
    resnapped = generalized_point_sql(point, projected_crs, rules.point_cell_m)
    off_grid = (
        f"ST_Distance({_projected(point, projected_crs)}, "
        f"{_projected(resnapped, projected_crs)}) > {_SNAP_TOLERANCE_M}"
    )
    points = (
        f"(SELECT ST_AsWKB(geometry) AS wkb, count(*) AS n FROM {source} "
        "WHERE geometry IS NOT NULL GROUP BY wkb)"
    )
    # On the grid every point must be a cell's centroid; a block centroid is shared by at
    # least k published offenses, so anything else off the grid identifies fewer than k.
    shared_by_fewer = (
        "" if rules.point_generalization == "grid" else (f" AND n < {rules.min_cell_count}")
    )
    exact = fetch_one(
        con, f"SELECT coalesce(sum(n), 0) FROM {points} WHERE {off_grid}{shared_by_fewer}"
    )[0]
    if exact:
        problems.append(f"{name}: {exact} points are not generalized")
    return problems


def audit_counts(
    con: duckdb.DuckDBPyConnection,
    source: str,
    name: str,
    count_columns: Sequence[str],
    k: int,
    linked_groups: Sequence[Sequence[str]] = (),
) -> list[str]:
    """Counts 0 < n < k shown, except a cell alone in a linked group: it is the group's total,
    published elsewhere (see ``crimemap.warehouse.suppression``)."""
    alone = alone_in_a_group_sql(linked_groups)
    problems = []
    for column in count_columns:
        small = fetch_one(
            con,
            f"SELECT count(*) FROM (SELECT *, {alone} AS __alone FROM {source}) "
            f"WHERE {is_suppressed_sql(quote_ident(column), k)} AND NOT __alone",
        )[0]
        if small:
            problems.append(f"{name}: {small} rows of {column} below k={k}")
    return problems


def audit_rates(
    con: duckdb.DuckDBPyConnection,
    source: str,
    name: str,
    rate_columns: Sequence[str],
    population_column: str,
    min_population: int,
) -> list[str]:
    population = quote_ident(population_column)
    problems = []
    for column in rate_columns:
        shown = fetch_one(
            con,
            f"SELECT count(*) FROM {source} WHERE {quote_ident(column)} IS NOT NULL "
            f"AND ({population} IS NULL OR {population} < {min_population})",
        )[0]
        if shown:
            problems.append(
                f"{name}: {shown} rows show {column} for a population below {min_population}"
            )
    return problems


def _missing_columns(present: Sequence[str], privacy: LayerPrivacy) -> list[str]:
    needed = [
        *privacy.count_columns,
        *([privacy.suppressed_flag] if privacy.suppressed_flag else []),
        *(column for family in privacy.linked_groups for column in family),
        *privacy.rate_columns,
        *([privacy.population_column] if privacy.population_column else []),
        *(INCIDENT_COLUMNS if privacy.incident_points else ()),
    ]
    return sorted({c for c in needed if c not in present})


def audit_layer(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    partitioned: bool,
    name: str,
    privacy: LayerPrivacy | None,
    rules: PrivacyRules,
    projected_crs: str,
) -> list[str]:
    """Every violation in one published layer: a file, or a hive-partitioned directory."""
    source = scan_sql(path, partitioned=partitioned)
    columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    problems = audit_columns(columns, name, rules)
    if privacy is None:
        return problems
    missing = _missing_columns(columns, privacy)
    if missing:
        # A renamed column would otherwise slip past its check.
        return [*problems, f"{name}: columns the privacy checks need are missing: {missing}"]
    if privacy.incident_points:
        problems += audit_incident_points(con, source, name, rules, projected_crs)
    problems += audit_counts(
        con, source, name, privacy.count_columns, rules.min_cell_count, privacy.linked_groups
    )
    if privacy.suppressed_flag and privacy.linked_groups:
        files = path / "**" / "*.parquet" if partitioned else path
        problems += audit_complementary(con, files, privacy.suppressed_flag, privacy.linked_groups)
    if privacy.rate_columns and privacy.population_column:
        problems += audit_rates(
            con,
            source,
            name,
            privacy.rate_columns,
            privacy.population_column,
            rules.min_population,
        )
    return problems


def audit_release(
    release_dir: Path,
    layers: Sequence[tuple[str, str, bool, LayerPrivacy | None]],
    rules: PrivacyRules,
    projected_crs: str,
    con: duckdb.DuckDBPyConnection,
) -> list[str]:
    """Every violation in a release: ``layers`` are (name, path in the release, partitioned,
    privacy) of each layer."""
    problems: list[str] = []
    for name, path, partitioned, privacy in layers:
        problems += audit_layer(
            con, Path(release_dir) / path, partitioned, name, privacy, rules, projected_crs
        )
    return problems

"""Boundary rows judged, reprojected, repaired and merged into one row per area.

A published geometry is parsed in its source CRS (GeoJSON or WKT text), repaired there with
``ST_MakeValid`` (validity is a planar property of the coordinates as drawn), reduced to its
polygonal parts and reprojected to EPSG:4326. Z and M values are dropped: an area is a plane
figure, and a piece with Z merged with one without would get invented heights. Rows with no
usable id or no polygon left go to quarantine. Rows sharing an id are one area published in
pieces (islands, an area cut by a river): they are merged with ``ST_Union_Agg``, not treated as
duplicates. Area keys are normalized exactly as survey answers name areas
(``crimemap.ingestion.surveys.area_key_sql``), so the two always join.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crimemap.core.duckdb_spatial import fetch_one, scratch
from crimemap.core.sql import quote_ident, sql_literal
from crimemap.ingestion import surveys
from crimemap.ingestion.boundaries import (
    SOURCE_CRS_COLUMN,
    WGS84,
    BoundaryError,
    BoundarySpec,
    boundary_format,
    geometry_column_of,
)
from crimemap.quality.rules import (
    RAW_ALIAS,
    LoadProfile,
    RowRule,
    SourceRules,
    SplitResult,
    split_quarantine,
)

if TYPE_CHECKING:
    import duckdb

PREFIX = "cm_"
CONFORMED_AREA_COLUMNS: tuple[str, ...] = (
    "area_id",
    "area_name",
    "geom_wkb",
    "source_rows",
    "geometry_repaired",
    "raw_id",
    "source_crs",
    "_source_file",
    "_row_number",
    "_ingested_at",
    "_load_id",
)


def _text(column: str, alias: str = "__src") -> str:
    return f"NULLIF(trim(CAST({alias}.{quote_ident(column)} AS VARCHAR)), '')"


def area_key_sql(value_sql: str, id_kind: str) -> str:
    """A comparable area key: GEOIDs as 11 digits, other codes upper-cased, numbers unpadded.

    The one normalization of docs/data-contracts.md, shared with the surveys that name areas.
    """
    return surveys.area_key_sql(value_sql, id_kind)


def _parsed_geometry(text_sql: str) -> str:
    # GeoJSON files carry GeoJSON geometries, shapefiles and CSVs WKT: whichever parses.
    parsed = f"coalesce(TRY(ST_GeomFromGeoJSON({text_sql})), TRY(ST_GeomFromText({text_sql})))"
    return f"TRY(ST_Force2D({parsed}))"


def _polygonal(geom_sql: str) -> str:
    return (
        f"(CASE WHEN {geom_sql} IS NOT NULL AND ST_Dimension({geom_sql}) >= 2 "
        f"THEN NULLIF(ST_CollectionExtract({geom_sql}, 3), ST_GeomFromText('MULTIPOLYGON EMPTY')) "
        "END)"
    )


def boundary_relation_sql(spec: BoundarySpec, raw_relation: str, geometry_column: str) -> str:
    """Every raw column plus ``cm_area_key``, ``cm_geom`` (EPSG:4326) and ``cm_repaired``."""
    src = "__src"
    text = _text(geometry_column)
    crs = quote_ident(SOURCE_CRS_COLUMN)
    parsed = f"TRY(ST_MakeValid({_parsed_geometry(text)}))"
    reprojected = (
        f"CASE WHEN {crs} = {sql_literal(WGS84)} THEN cm_valid "
        f"ELSE TRY(ST_Transform(cm_valid, {crs}, {sql_literal(WGS84)}, always_xy := true)) END"
    )
    in_range = (
        "(ST_XMin(cm_geom_any) >= -180 AND ST_XMax(cm_geom_any) <= 180 "
        "AND ST_YMin(cm_geom_any) >= -90 AND ST_YMax(cm_geom_any) <= 90)"
    )
    name = _text(spec.name_field) if spec.name_field else "CAST(NULL AS VARCHAR)"
    return (
        "SELECT * EXCLUDE (cm_valid, cm_geom_any), "
        f"CASE WHEN coalesce({in_range}, false) THEN cm_geom_any END AS cm_geom FROM ("
        "SELECT *, "
        f"({reprojected}) AS cm_geom_any FROM ("
        f"SELECT {src}.*, {area_key_sql(_text(spec.id_field), spec.id_kind)} AS cm_area_key, "
        f"{_text(spec.id_field)} AS cm_raw_id, {name} AS cm_area_name, "
        f"{_polygonal(parsed)} AS cm_valid, "
        f"NOT coalesce(TRY(ST_IsValid({_parsed_geometry(text)})), true) AS cm_repaired "
        f"FROM {raw_relation} AS {src}))"
    )


def boundary_rules(spec: BoundarySpec, geometry_column: str, *, source: str) -> SourceRules:
    return SourceRules(
        source=source,
        key_columns=(spec.id_field,),
        rules=(
            RowRule(
                code="missing_key",
                predicate_sql=f"({RAW_ALIAS}.cm_area_key IS NULL)",
                description=f"{spec.id_field} blank",
                columns=("cm_area_key",),
            ),
            RowRule(
                code="geometry_invalid",
                predicate_sql=f"({RAW_ALIAS}.cm_geom IS NULL)",
                description=(
                    f"{geometry_column} does not parse, repair to a polygon, or reproject to "
                    "lon/lat (a wrong CRS puts it outside -180..180 / -90..90)"
                ),
                columns=("cm_geom",),
            ),
        ),
    )


def merged_areas_sql(accepted: str) -> str:
    """One row per area key: pieces unioned, the first row's id, CRS and lineage.

    The name is the first row's, or, when that row has none, the first name any piece gives.
    """
    first = "arg_min({col}, _row_number)"
    return (
        "SELECT cm_area_key AS area_id, "
        f"{first.format(col='cm_area_name')} AS area_name, "
        "ST_AsWKB(ST_CollectionExtract(ST_MakeValid(ST_Union_Agg(cm_geom)), 3)) AS geom_wkb, "
        "count(*) AS source_rows, bool_or(cm_repaired) AS geometry_repaired, "
        f"{first.format(col='cm_raw_id')} AS raw_id, "
        f"{first.format(col=quote_ident(SOURCE_CRS_COLUMN))} AS source_crs, "
        f"{first.format(col='_source_file')} AS _source_file, min(_row_number) AS _row_number, "
        f"{first.format(col='_ingested_at')} AS _ingested_at, "
        f"{first.format(col='_load_id')} AS _load_id "
        f"FROM {accepted} GROUP BY cm_area_key ORDER BY area_id"
    )


def landed_geometry_column(
    spec: BoundarySpec, columns: Collection[str], source_file: str | None
) -> str:
    """The column holding the geometry text: the CSV's WKT column, else ``geometry``.

    The format comes from the spec, else from the landed file's name, so a GeoJSON property or
    shapefile attribute that happens to share the WKT column's name is never read as geometry.
    """
    fmt = spec.format
    if fmt is None and source_file:
        try:
            fmt = boundary_format(spec, Path(source_file))
        except BoundaryError:
            fmt = None
    if fmt is None:  # an empty landing or an unknown extension: whichever column is there
        return spec.geometry_field if spec.geometry_field in columns else "geometry"
    return geometry_column_of(spec, fmt)


def boundary_read_columns(spec: BoundarySpec, geometry_column: str) -> tuple[str, ...]:
    """The columns ``split_boundaries`` reads from a landing."""
    names = [spec.id_field, geometry_column, SOURCE_CRS_COLUMN]
    if spec.name_field:
        names.append(spec.name_field)
    return tuple(dict.fromkeys(names))


def _landed_geometry_column(
    con: duckdb.DuckDBPyConnection, spec: BoundarySpec, raw_parquet: Path, columns: list[str]
) -> str:
    source_file = None
    if "_source_file" in columns:
        row = con.execute(
            f"SELECT _source_file FROM read_parquet({sql_literal(str(raw_parquet))}) LIMIT 1"
        ).fetchone()
        source_file = row[0] if row else None
    return landed_geometry_column(spec, columns, source_file)


def check_area_keys(
    con: duckdb.DuckDBPyConnection, spec: BoundarySpec, relation: str, where: str
) -> None:
    """Refuse ids that cannot key areas: none at all, or different ids read as one key.

    Rows repeating one id are an area published in pieces (merged). Different ids that the
    normalization makes one ("Lincoln Park" and "LINCOLN PARK") would merge two areas silently
    when keys are names; a GEOID written two ways or a code with and without padding is the same
    area by design.
    """
    rows, keyed = fetch_one(con, f"SELECT count(*), count(cm_area_key) FROM ({relation})")
    if rows and not keyed:
        raise ValueError(
            f"{where}: no row has an id in {spec.id_field!r}: is id_field the right column?"
        )
    if spec.id_kind not in ("auto", "name"):
        return
    collision = con.execute(
        f"SELECT cm_area_key, list(DISTINCT cm_raw_id ORDER BY cm_raw_id)[:3] FROM ({relation}) "
        "WHERE NOT regexp_full_match(cm_area_key, '[0-9]+') GROUP BY cm_area_key "
        "HAVING count(DISTINCT cm_raw_id) > 1 ORDER BY cm_area_key LIMIT 1"
    ).fetchone()
    if collision is not None:
        key, ids = collision
        raise ValueError(
            f"{where}: the ids {', '.join(repr(i) for i in ids)} in {spec.id_field!r} all read "
            f"as the area {key!r} (names are compared ignoring case, spacing and "
            "punctuation): give each area one id, spelled the same in every row"
        )


def landed_geometry(
    con: duckdb.DuckDBPyConnection, spec: BoundarySpec, raw_parquet: Path
) -> tuple[list[str], str]:
    """The columns of a boundary landing, and which of them holds the geometry."""
    columns = [
        c[0]
        for c in con.execute(
            f"SELECT * FROM read_parquet({sql_literal(str(raw_parquet))}) LIMIT 0"
        ).description
    ]
    return columns, _landed_geometry_column(con, spec, raw_parquet, columns)


def split_boundaries(
    con: duckdb.DuckDBPyConnection,
    spec: BoundarySpec,
    *,
    raw_parquet: Path,
    quarantine_path: Path,
    conformed_path: Path,
    source: str = "areas",
    profile_path: Path | None = None,
) -> SplitResult:
    """Quarantine unusable boundary rows; write one merged, repaired EPSG:4326 row per area."""
    raw_parquet = Path(raw_parquet)
    columns, geometry_column = landed_geometry(con, spec, raw_parquet)
    missing = [c for c in boundary_read_columns(spec, geometry_column) if c not in columns]
    if missing:
        published = [c for c in columns if not c.startswith("_")]
        raise ValueError(
            f"{source} ({raw_parquet.name}): columns named in the jurisdiction YAML are "
            f"missing: {missing}; the file has {published}"
        )
    relation = boundary_relation_sql(
        spec, f"read_parquet({sql_literal(str(raw_parquet))})", geometry_column
    )
    check_area_keys(con, spec, relation, f"{source} ({raw_parquet.name})")
    return split_quarantine(
        con,
        raw_parquet,
        boundary_rules(spec, geometry_column, source=source),
        quarantine_path=quarantine_path,
        clean_path=conformed_path,
        relation_sql=relation,
        clean_select=merged_areas_sql,
        derived_prefix=PREFIX,
        profile=LoadProfile(profile_path, "boundaries"),
    )


@dataclass(frozen=True)
class RepairedArea:
    """An area whose geometry repair changed its size: as drawn (the shoelace area of the
    published rings) and as repaired, both in the source CRS's units."""

    area_id: str
    row_number: int
    drawn_area: float
    repaired_area: float

    @property
    def change(self) -> float:
        """The repair's change as a share of the drawn area (infinite when nothing was drawn:
        the rings of a bow-tie cancel out)."""
        if self.drawn_area == 0:
            return math.inf if self.repaired_area else 0.0
        return abs(self.repaired_area - self.drawn_area) / self.drawn_area

    @property
    def message(self) -> str:
        change = "from nothing" if math.isinf(self.change) else f"by {self.change:.0%}"
        return (
            f"area {self.area_id} (row {self.row_number}): repairing its geometry changed its "
            f"size {change} ({self.drawn_area:.6g} as drawn, {self.repaired_area:.6g} repaired)"
        )


def repaired_area_changes(
    con: duckdb.DuckDBPyConnection, spec: BoundarySpec, raw_parquet: Path, max_change: float
) -> list[RepairedArea]:
    """The rows whose repair (``ST_MakeValid``) changed their area by more than ``max_change``,
    largest change first. A self-intersecting ring repaired to a part of itself shows here."""
    _, geometry_column = landed_geometry(con, spec, raw_parquet)
    drawn = _parsed_geometry(_text(geometry_column))
    repaired = _polygonal(f"TRY(ST_MakeValid({drawn}))")
    rows = con.execute(
        f"SELECT {area_key_sql(_text(spec.id_field), spec.id_kind)}, _row_number, "
        f"abs(ST_Area({drawn})), ST_Area({repaired}) "
        f"FROM read_parquet({sql_literal(str(raw_parquet))}) AS __src "
        f"WHERE NOT coalesce(TRY(ST_IsValid({drawn})), true) AND {repaired} IS NOT NULL "
        "ORDER BY _row_number"
    ).fetchall()
    changed = [RepairedArea(str(a), int(n), float(d), float(r)) for a, n, d, r in rows]
    return sorted(
        (c for c in changed if c.change > max_change), key=lambda c: c.change, reverse=True
    )


def write_no_units(conformed_areas: Path, target: Path) -> None:
    """Indicators on the areas' own geography have no separate units: an empty file with the
    areas' columns keeps the dbt source defined, and interpolation falls back to identity."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with scratch() as con:
        con.execute(
            f"COPY (SELECT * FROM read_parquet({sql_literal(str(conformed_areas))}) LIMIT 0) "
            f"TO {sql_literal(str(target))} (FORMAT parquet)"
        )

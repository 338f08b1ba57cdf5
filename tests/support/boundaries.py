"""The reference boundary table the rule tests judge points against.

Production rules read the conformed areas (``crimemap.quality.rules.load_areas``); tests build their
boundary straight from a small raw areas landing (GeoJSON features with an id property), so a
test of the police, 311 or facility rules needs no boundary split first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crimemap.core.sql import quote_ident, sql_literal

if TYPE_CHECKING:
    import duckdb

__all__ = ["load_boundary"]


def load_boundary(
    con: duckdb.DuckDBPyConnection,
    areas_parquet: Path,
    *,
    table: str = "jurisdiction_areas",
    geometry_column: str = "geometry",
    id_column: str = "GEOID",
) -> str:
    """Build the reference boundary table the rule tests judge points against.

    Reads a raw areas landing file (GeoJSON geometry text and an id column, both strings) into a
    temp table ``(area_id, geom)`` in EPSG:4326 and returns its name. The id is trimmed; each
    geometry is parsed and repaired (``ST_MakeValid``), and the ones that do not parse or do not
    repair to a non-empty polygonal geometry are left out.
    """
    text = f"trim(CAST(__raw.{quote_ident(geometry_column)} AS VARCHAR))"
    geom = f"TRY(ST_MakeValid(TRY(ST_GeomFromGeoJSON({text}))))"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quote_ident(table)} AS "
        f"SELECT trim(CAST(__raw.{quote_ident(id_column)} AS VARCHAR)) AS area_id, {geom} AS geom "
        f"FROM read_parquet({sql_literal(str(areas_parquet))}) AS __raw "
        f"WHERE coalesce(ST_Dimension({geom}) = 2 AND NOT ST_IsEmpty({geom}), false)"
    )
    return table

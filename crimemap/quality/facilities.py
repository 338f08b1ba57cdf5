"""Row rules for social-service facilities, and the split into quarantine and facilities.

The rules read the ``cm_`` columns ``crimemap.ingestion.facilities`` derives from the jurisdiction's
mapping, as the police and 311 rules do, so a CSV with longitude/latitude and a GeoJSON file of
points are judged alike. A facility whose type the ``type_map`` does not know is quarantined
(``type_unmapped``) rather than guessed: access measures per type would silently miss it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crimemap.core.sql import sql_literal
from crimemap.ingestion.facilities import FacilityMapping, facility_columns_sql, facility_rows_sql
from crimemap.ingestion.police.layout import CONFORMED_PREFIX
from crimemap.quality.rules import (
    LoadProfile,
    SourceRules,
    SplitResult,
    check_read_columns,
    derived,
    location_rules,
    raw_columns_of,
    rule,
    split_quarantine,
)

if TYPE_CHECKING:
    import duckdb

DEFAULT_SOURCE = "facilities"


def facility_rules(
    mapping: FacilityMapping,
    *,
    boundary_table: str,
    projected_crs: str,
    tolerance_m: float,
    source: str = DEFAULT_SOURCE,
) -> SourceRules:
    """The facility rule set over a mapping's conformed columns."""
    rules = (
        rule(
            "missing_key",
            f"{derived('cm_facility_id')} IS NULL",
            f"blank {mapping.id_field}",
            "cm_facility_id",
        ),
        *location_rules(boundary_table, projected_crs, tolerance_m),
        rule(
            "type_unmapped",
            f"{derived('cm_facility_type')} IS NULL",
            f"{mapping.type_field} blank or not a label of the type_map",
            "cm_facility_type",
        ),
    )
    return SourceRules(
        source=source,
        key_columns=(mapping.id_field,),
        rules=rules,
        dedupe_on=(mapping.id_field,),
    )


def split_facilities(
    con: duckdb.DuckDBPyConnection,
    mapping: FacilityMapping,
    *,
    boundary_table: str,
    projected_crs: str,
    tolerance_m: float,
    raw_parquet: Path,
    quarantine_path: Path,
    conformed_path: Path,
    source: str = DEFAULT_SOURCE,
    profile_path: Path | None = None,
) -> SplitResult:
    """Quarantine rejected facilities of one landing file, write the rest conformed."""
    raw_parquet = Path(raw_parquet)
    check_read_columns(
        "the facility mapping",
        mapping.read_columns,
        raw_columns_of(con, raw_parquet),
        where=f"{source} ({raw_parquet.name})",
    )
    relation = facility_columns_sql(mapping, f"read_parquet({sql_literal(str(raw_parquet))})")
    rules = facility_rules(
        mapping,
        boundary_table=boundary_table,
        projected_crs=projected_crs,
        tolerance_m=tolerance_m,
        source=source,
    )
    return split_quarantine(
        con,
        raw_parquet,
        rules,
        quarantine_path=quarantine_path,
        clean_path=conformed_path,
        relation_sql=relation,
        clean_select=facility_rows_sql,
        derived_prefix=CONFORMED_PREFIX,
        profile=LoadProfile(profile_path, "facilities", located=True),
    )

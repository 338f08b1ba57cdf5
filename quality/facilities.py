"""Row rules for social-service facilities, and the split into quarantine and facilities.

The rules read the ``cm_`` columns ``ingestion.facilities`` derives from the jurisdiction's
mapping, as the police and 311 rules do, so a CSV with longitude/latitude and a GeoJSON file of
points are judged alike. A facility whose type the ``type_map`` does not know is quarantined
(``type_unmapped``) rather than guessed: access measures per type would silently miss it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.facilities import FacilityMapping, facility_columns_sql, facility_rows_sql
from ingestion.police.layout import CONFORMED_PREFIX
from ingestion.sql import quote_ident, sql_literal
from quality.police import raw_columns_of
from quality.rules import RAW_ALIAS, RowRule, SourceRules, SplitResult, split_quarantine
from quality.service_requests import location_rules

if TYPE_CHECKING:
    import duckdb

DEFAULT_SOURCE = "facilities"


def _c(column: str) -> str:
    return f"{RAW_ALIAS}.{quote_ident(column)}"


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
        RowRule(
            code="missing_key",
            predicate_sql=f"({_c('cm_facility_id')} IS NULL)",
            description=f"blank {mapping.id_field}",
            columns=("cm_facility_id",),
        ),
        *location_rules(boundary_table, projected_crs, tolerance_m),
        RowRule(
            code="type_unmapped",
            predicate_sql=f"({_c('cm_facility_type')} IS NULL)",
            description=f"{mapping.type_field} blank or not a label of the type_map",
            columns=("cm_facility_type",),
        ),
    )
    return SourceRules(
        source=source,
        key_columns=(mapping.id_field,),
        rules=rules,
        dedupe_on=(mapping.id_field,),
    )


def check_mapping_columns(
    mapping: FacilityMapping, present: tuple[str, ...], *, where: str
) -> None:
    """A field the mapping names but the file lacks stops the source, naming both."""
    missing = [c for c in mapping.read_columns if c not in present]
    if missing:
        raise ValueError(
            f"{where}: columns the facility mapping reads are missing: {missing}; "
            f"the file has: {list(present)}"
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
) -> SplitResult:
    """Quarantine rejected facilities of one landing file, write the rest conformed."""
    raw_parquet = Path(raw_parquet)
    check_mapping_columns(
        mapping, raw_columns_of(con, raw_parquet), where=f"{source} ({raw_parquet.name})"
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
    )

"""Row rules for 311 service requests of any layout, and the split into quarantine and requests.

The rules read the ``cm_`` columns ``ingestion.service_requests.conform`` derives from the layout,
the way the police rules do (``quality.police``): one rule set serves every publisher. A request
is judged by when it was created; its closing time and status are carried, never judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.police.layout import CONFORMED_PREFIX
from ingestion.service_requests.conform import conformed_columns_sql, request_rows_sql
from ingestion.service_requests.layout import ServiceRequestLayout
from ingestion.sql import quote_ident, sql_literal
from quality.police import DEFAULT_MIN_VALID_DATE, raw_columns_of
from quality.rules import (
    DEFAULT_TOLERANCE_M,
    RAW_ALIAS,
    RowRule,
    SourceRules,
    SplitResult,
    out_of_jurisdiction,
    split_quarantine,
)

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class ServiceRequestRuleSettings:
    boundary_table: str
    projected_crs: str
    timezone: str
    tolerance_m: float = DEFAULT_TOLERANCE_M
    now_sql: str = "now()"
    # Portals write 1970-01-01 or 1900-01-01 when a date is unknown: such dates are placeholders.
    min_valid_date: str = DEFAULT_MIN_VALID_DATE


def _c(column: str) -> str:
    return f"{RAW_ALIAS}.{quote_ident(column)}"


def _rule(code: str, predicate: str, description: str, *columns: str) -> RowRule:
    return RowRule(
        code=code, predicate_sql=f"({predicate})", description=description, columns=columns
    )


def location_rules(
    boundary_table: str, projected_crs: str, tolerance_m: float
) -> tuple[RowRule, ...]:
    """Missing, (0, 0) and out-of-jurisdiction points, over ``cm_longitude`` / ``cm_latitude``."""
    return (
        _rule(
            "coordinates_missing",
            f"{_c('cm_longitude')} IS NULL AND NOT {_c('cm_location_zero')}",
            "no location column parses as a point",
            "cm_longitude",
            "cm_location_zero",
        ),
        _rule(
            "coordinates_zero",
            _c("cm_location_zero"),
            "location is (0, 0), the portal placeholder for no location",
            "cm_location_zero",
        ),
        out_of_jurisdiction(
            "cm_longitude",
            "cm_latitude",
            boundary_table,
            tolerance_m,
            projected_crs=projected_crs,
        ),
    )


def service_request_rules(
    layout: ServiceRequestLayout, settings: ServiceRequestRuleSettings, *, source: str
) -> SourceRules:
    """The 311 rule set over a layout's conformed columns."""
    created = _c("cm_created_at")
    local_day = f"CAST(timezone({sql_literal(settings.timezone)}, {created}) AS DATE)"
    column = layout.created.column
    rules = (
        _rule(
            "missing_key",
            f"{_c('cm_request_id')} IS NULL",
            f"blank {layout.record_id}",
            "cm_request_id",
        ),
        *location_rules(settings.boundary_table, settings.projected_crs, settings.tolerance_m),
        _rule(
            "date_unparseable",
            f"{created} IS NULL",
            f"{column} blank or not in {list(layout.created.formats)}",
            "cm_created_at",
        ),
        _rule(
            "date_placeholder",
            f"{local_day} < DATE {sql_literal(settings.min_valid_date)}",
            f"{column} before {settings.min_valid_date} (a placeholder date)",
            "cm_created_at",
        ),
        _rule(
            "date_future",
            f"{created} > ({settings.now_sql})",
            f"{column} after {settings.now_sql}",
            "cm_created_at",
        ),
    )
    return SourceRules(
        source=source,
        key_columns=(layout.record_id,),
        rules=rules,
        dedupe_on=(layout.record_id,),
    )


def check_layout_columns(
    layout: ServiceRequestLayout, present: tuple[str, ...], *, where: str
) -> None:
    """Schema drift stops the source with the names that moved, before any row is judged."""
    missing = [c for c in layout.read_columns if c not in present]
    unexpected = [c for c in present if layout.columns and c not in layout.columns]
    if missing:
        raise ValueError(
            f"{where}: columns the {layout.name} layout reads are missing: {missing}"
            + (f"; unexpected columns: {unexpected}" if unexpected else "")
        )


def split_service_requests(
    con: duckdb.DuckDBPyConnection,
    layout: ServiceRequestLayout,
    settings: ServiceRequestRuleSettings,
    *,
    source: str,
    raw_parquet: Path,
    quarantine_path: Path,
    conformed_path: Path,
) -> SplitResult:
    """Quarantine rejected rows of one landing file, write the rest as conformed requests."""
    raw_parquet = Path(raw_parquet)
    check_layout_columns(
        layout, raw_columns_of(con, raw_parquet), where=f"{source} ({raw_parquet.name})"
    )
    relation = conformed_columns_sql(
        layout, f"read_parquet({sql_literal(str(raw_parquet))})", settings.timezone
    )
    return split_quarantine(
        con,
        raw_parquet,
        service_request_rules(layout, settings, source=source),
        quarantine_path=quarantine_path,
        clean_path=conformed_path,
        relation_sql=relation,
        clean_select=request_rows_sql,
        derived_prefix=CONFORMED_PREFIX,
    )

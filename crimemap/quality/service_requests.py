"""Row rules for 311 service requests of any layout, and the split into quarantine and requests.

The rules read the ``cm_`` columns ``crimemap.ingestion.service_requests.conform`` derives from the
layout, the way the police rules do (``crimemap.quality.police``): one rule set serves every
publisher. A request is judged by when it was created; its closing time and status are carried,
never judged.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crimemap.core.sql import sql_literal
from crimemap.ingestion.police.layout import CONFORMED_PREFIX
from crimemap.ingestion.service_requests.conform import conformed_columns_sql, request_rows_sql
from crimemap.ingestion.service_requests.layout import ServiceRequestLayout
from crimemap.quality.rules import (
    EventRuleSettings,
    LoadProfile,
    SourceRules,
    SplitResult,
    check_read_columns,
    derived,
    event_date_rules,
    local_month_sql,
    location_rules,
    raw_columns_of,
    rule,
    split_quarantine,
)

if TYPE_CHECKING:
    import duckdb


def service_request_rules(
    layout: ServiceRequestLayout, settings: EventRuleSettings, *, source: str
) -> SourceRules:
    """The 311 rule set over a layout's conformed columns."""
    rules = (
        rule(
            "missing_key",
            f"{derived('cm_request_id')} IS NULL",
            f"blank {layout.record_id}",
            "cm_request_id",
        ),
        *location_rules(settings.boundary_table, settings.projected_crs, settings.tolerance_m),
        *event_date_rules(settings, "cm_created_at", layout.created.column, layout.created.formats),
    )
    return SourceRules(
        source=source,
        key_columns=(layout.record_id,),
        rules=rules,
        dedupe_on=(layout.record_id,),
    )


def split_service_requests(
    con: duckdb.DuckDBPyConnection,
    layout: ServiceRequestLayout,
    settings: EventRuleSettings,
    *,
    source: str,
    raw_parquet: Path,
    quarantine_path: Path,
    conformed_path: Path,
    profile_path: Path | None = None,
) -> SplitResult:
    """Quarantine rejected rows of one landing file, write the rest as conformed requests."""
    raw_parquet = Path(raw_parquet)
    check_read_columns(
        f"the {layout.name} layout",
        layout.read_columns,
        raw_columns_of(con, raw_parquet),
        where=f"{source} ({raw_parquet.name})",
        published=layout.columns,
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
        profile=LoadProfile(
            profile_path,
            "service_requests",
            month_sql=local_month_sql(derived("cm_created_at"), settings.timezone),
            located=True,
        ),
    )

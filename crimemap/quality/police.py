"""Row rules for police sources of any layout, and the split into quarantine and offenses.

The rules read the canonical ``cm_`` columns that ``crimemap.ingestion.police.conform`` derives
from the layout, so one rule set serves every publisher and every configured city. Unknown offense
codes are not a reason to quarantine: such offenses are kept with category ``unmapped`` and listed
in a mart, so a crosswalk gap never hides crime from the counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crimemap.core.sql import sql_literal
from crimemap.ingestion.police.conform import conformed_columns_sql, offense_rows_sql
from crimemap.ingestion.police.layout import CONFORMED_PREFIX, PoliceLayout
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


def police_rules(
    layout: PoliceLayout, settings: EventRuleSettings, *, source: str, raw_columns: tuple[str, ...]
) -> SourceRules:
    """The police rule set over a layout's conformed columns."""
    optional = [(layout.record_id, "cm_record_id"), (layout.report_number, "cm_report_number")]
    keys = [(raw, cm) for raw, cm in optional if raw]
    rules = []
    if keys:
        rules.append(
            rule(
                "missing_key",
                " OR ".join(f"{derived(cm)} IS NULL" for _, cm in keys),
                f"blank {' or '.join(raw for raw, _ in keys)}",
                *(cm for _, cm in keys),
            )
        )
    rules += [
        *location_rules(settings.boundary_table, settings.projected_crs, settings.tolerance_m),
        *event_date_rules(
            settings, "cm_occurred_at", layout.occurred.column, layout.occurred.formats
        ),
        rule(
            "offense_code_missing",
            f"len(list_filter({derived('cm_offense_codes')}, lambda c: c IS NOT NULL)) = 0",
            f"no offense code in {', '.join(layout.offense_codes)}",
            "cm_offense_codes",
        ),
    ]
    # Without a per-row id, an exact copy of every published value is the duplicate.
    dedupe_on = (layout.record_id,) if layout.record_id else raw_columns
    return SourceRules(
        source=source,
        key_columns=tuple(raw for raw, _ in keys),
        rules=tuple(rules),
        dedupe_on=dedupe_on,
    )


def split_police(
    con: duckdb.DuckDBPyConnection,
    layout: PoliceLayout,
    settings: EventRuleSettings,
    *,
    source: str,
    raw_parquet: Path,
    quarantine_path: Path,
    offenses_path: Path,
    profile_path: Path | None = None,
) -> SplitResult:
    """Quarantine rejected rows of one landing file, write the rest as one row per offense."""
    raw_parquet = Path(raw_parquet)
    raw_columns = raw_columns_of(con, raw_parquet)
    check_read_columns(
        f"the {layout.name} layout",
        layout.read_columns,
        raw_columns,
        where=f"{source} ({raw_parquet.name})",
        published=layout.columns,
    )
    relation = conformed_columns_sql(
        layout, f"read_parquet({sql_literal(str(raw_parquet))})", settings.timezone
    )
    rules = police_rules(layout, settings, source=source, raw_columns=raw_columns)
    return split_quarantine(
        con,
        raw_parquet,
        rules,
        quarantine_path=quarantine_path,
        clean_path=offenses_path,
        relation_sql=relation,
        clean_select=lambda accepted: (
            offense_rows_sql(layout, source, accepted, raw_columns)
            + " ORDER BY _row_number, offense_index"
        ),
        derived_prefix=CONFORMED_PREFIX,
        profile=LoadProfile(
            profile_path,
            "police",
            month_sql=local_month_sql(derived("cm_occurred_at"), settings.timezone),
            located=True,
        ),
    )

"""Row rules for police sources of any layout, and the split into quarantine and offenses.

The rules read the canonical ``cm_`` columns that ``ingestion.police.conform`` derives from the
layout, so one rule set serves every publisher and every configured city. Unknown offense codes
are not a reason to quarantine: such offenses are kept with category ``unmapped`` and listed in
a mart, so a crosswalk gap never hides crime from the counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.police.conform import conformed_columns_sql, offense_rows_sql
from ingestion.police.layout import CONFORMED_PREFIX, PoliceLayout
from ingestion.sql import quote_ident, sql_literal
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

DEFAULT_MIN_VALID_DATE = "1990-01-01"


@dataclass(frozen=True)
class PoliceRuleSettings:
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


def police_rules(
    layout: PoliceLayout, settings: PoliceRuleSettings, *, source: str, raw_columns: tuple[str, ...]
) -> SourceRules:
    """The police rule set over a layout's conformed columns."""
    keys = [(layout.record_id, "cm_record_id"), (layout.report_number, "cm_report_number")]
    keys = [(raw, cm) for raw, cm in keys if raw]
    occurred = _c("cm_occurred_at")
    local_day = f"CAST(timezone({sql_literal(settings.timezone)}, {occurred}) AS DATE)"
    rules = []
    if keys:
        rules.append(
            _rule(
                "missing_key",
                " OR ".join(f"{_c(cm)} IS NULL" for _, cm in keys),
                f"blank {' or '.join(raw for raw, _ in keys)}",
                *(cm for _, cm in keys),
            )
        )
    rules += [
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
            settings.boundary_table,
            settings.tolerance_m,
            projected_crs=settings.projected_crs,
        ),
        _rule(
            "date_unparseable",
            f"{occurred} IS NULL",
            f"{layout.occurred.column} blank or not in {list(layout.occurred.formats)}",
            "cm_occurred_at",
        ),
        _rule(
            "date_placeholder",
            f"{local_day} < DATE {sql_literal(settings.min_valid_date)}",
            f"{layout.occurred.column} before {settings.min_valid_date} (a placeholder date)",
            "cm_occurred_at",
        ),
        _rule(
            "date_future",
            f"{occurred} > ({settings.now_sql})",
            f"{layout.occurred.column} after {settings.now_sql}",
            "cm_occurred_at",
        ),
        _rule(
            "offense_code_missing",
            f"len(list_filter({_c('cm_offense_codes')}, lambda c: c IS NOT NULL)) = 0",
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


def raw_columns_of(con: duckdb.DuckDBPyConnection, raw_parquet: Path) -> tuple[str, ...]:
    """The published columns of a landing file (lineage columns left out)."""
    rel = con.execute(f"SELECT * FROM read_parquet({sql_literal(str(raw_parquet))}) LIMIT 0")
    return tuple(c[0] for c in rel.description if not c[0].startswith("_"))


def check_layout_columns(layout: PoliceLayout, present: tuple[str, ...], *, where: str) -> None:
    """Schema drift stops the source with the names that moved, before any row is judged."""
    missing = [c for c in layout.read_columns if c not in present]
    unexpected = [c for c in present if layout.columns and c not in layout.columns]
    if missing:
        raise ValueError(
            f"{where}: columns the {layout.name} layout reads are missing: {missing}"
            + (f"; unexpected columns: {unexpected}" if unexpected else "")
        )


def split_police(
    con: duckdb.DuckDBPyConnection,
    layout: PoliceLayout,
    settings: PoliceRuleSettings,
    *,
    source: str,
    raw_parquet: Path,
    quarantine_path: Path,
    offenses_path: Path,
) -> SplitResult:
    """Quarantine rejected rows of one landing file, write the rest as one row per offense."""
    raw_parquet = Path(raw_parquet)
    raw_columns = raw_columns_of(con, raw_parquet)
    check_layout_columns(layout, raw_columns, where=f"{source} ({raw_parquet.name})")
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
    )

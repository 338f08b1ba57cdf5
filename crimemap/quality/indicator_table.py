"""Row rules for a city's own indicator table, and the split into quarantine and long indicators.

Each published row gets its unit key (the area it describes, by id or by name, keyed as the
boundaries key their areas) and every declared value parsed as a number ("1,234", "$52,000" and
"45.2%" read as numbers; a blank cell is a missing value, not an error). Rows without a key, with
a key no area (or unit) has, or with a value that is not a number or outside its kind's range
(a negative count, a proportion above 1) are quarantined; the rest
become one row per unit x indicator with exactly the conformed columns Census tables produce.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crimemap.core.sql import quote_ident, sql_literal
from crimemap.ingestion.indicator_table import IndicatorTable, TableIndicator
from crimemap.ingestion.police.layout import CONFORMED_PREFIX
from crimemap.ingestion.surveys import area_key_sql
from crimemap.quality.census import CONFORMED_COLUMNS, indicator_entry_sql, long_indicator_rows_sql
from crimemap.quality.rules import (
    RAW_ALIAS,
    LoadProfile,
    RowRule,
    SourceRules,
    SplitResult,
    check_read_columns,
    raw_columns_of,
    split_quarantine,
)

if TYPE_CHECKING:
    import duckdb

KEY = "cm_unit_key"
NAME = "cm_name"
INVALID_CELLS = "cm_invalid_cells"
KNOWN = "cm_known_unit"


def _text(column: str, alias: str) -> str:
    return f"NULLIF(trim(CAST({alias}.{quote_ident(column)} AS VARCHAR)), '')"


def number_sql(text_sql: str) -> str:
    """A published number: thousands separators, currency and percent signs dropped; NULL when
    blank or not a finite number."""
    cleaned = f"NULLIF(regexp_replace({text_sql}, '[\\s,$%]', '', 'g'), '')"
    value = f"TRY_CAST({cleaned} AS DOUBLE)"
    return f"(CASE WHEN isfinite({value}) THEN {value} END)"


def _value(column: str) -> str:
    """The parsed number of a published column, quoted: names hold spaces and punctuation."""
    return quote_ident(f"cm_value_{column}")


def table_relation_sql(table: IndicatorTable, raw_relation: str, units: str, id_kind: str) -> str:
    """Every raw column plus the unit key, name, parsed values and the cells that are not
    numbers. ``units`` is a relation of the known units (``unit_id``, ``unit_name``); a key
    matched by name takes the id of the unit whose name reads the same."""
    alias = "__src"
    key_text = _text(table.key_field, alias)
    if table.match == "name":
        key = f"(SELECT u.unit_id FROM {units} AS u WHERE {area_key_sql('u.unit_name', 'name')} = {area_key_sql(key_text, 'name')} LIMIT 1)"  # noqa: E501
    else:
        key = area_key_sql(key_text, id_kind)
    name = _text(table.name_field, alias) if table.name_field else key_text
    columns = sorted({c for i in table.indicators for c in _value_columns(i)})
    values = ", ".join(f"{number_sql(_text(c, alias))} AS {_value(c)}" for c in columns)
    invalid = ", ".join(
        f"CASE WHEN {_text(c, alias)} IS NOT NULL AND ({out_of_range}) THEN {sql_literal(c)} END"
        for c, out_of_range in _cell_checks(table, alias).items()
    )
    return (
        f"SELECT *, {KEY} IN (SELECT unit_id FROM {units}) AS {KNOWN} FROM ("
        f"SELECT {alias}.*, {key} AS {KEY}, {name} AS {NAME}, {values}, "
        f"list_filter(CAST([{invalid}] AS VARCHAR[]), lambda c: c IS NOT NULL) AS {INVALID_CELLS} "
        f"FROM {raw_relation} AS {alias})"
    )


def _cell_checks(table: IndicatorTable, alias: str) -> dict[str, str]:
    """SQL true when a written cell is unusable: not a number, or outside its kind's range (a
    negative count, rate, median or margin, often a publisher's missing-value sentinel such as
    -666666666; a proportion outside 0..1 after ``percent``). Index values may be negative."""
    checks: dict[str, list[str]] = {}
    for i in table.indicators:
        for column in _value_columns(i):
            number = number_sql(_text(column, alias))
            bounds = [f"{number} IS NULL"]
            if column != i.column or i.kind != "index":
                bounds.append(f"{number} < 0")
            if column == i.column and i.kind == "proportion":
                bounds.append(f"{number} > {100 if i.percent else 1}")
            checks.setdefault(column, []).extend(bounds)
    return {column: " OR ".join(dict.fromkeys(bounds)) for column, bounds in checks.items()}


def _value_columns(indicator: TableIndicator) -> list[str]:
    return [c for c in (indicator.column, indicator.moe_column, indicator.universe_column) if c]


def table_rules(table: IndicatorTable, *, source: str = "area_indicators") -> SourceRules:
    def c(column: str) -> str:
        return f"{RAW_ALIAS}.{column}"

    how = "name" if table.match == "name" else "id"
    return SourceRules(
        source=source,
        key_columns=(KEY,),
        rules=(
            RowRule(
                code="missing_key",
                predicate_sql=f"({c(KEY)} IS NULL AND {_text(table.key_field, RAW_ALIAS)} IS NULL)",
                description=f"{table.key_field} blank",
                columns=(KEY,),
            ),
            RowRule(
                code="area_unknown",
                predicate_sql=(
                    f"({_text(table.key_field, RAW_ALIAS)} IS NOT NULL "
                    f"AND NOT coalesce({c(KNOWN)}, false))"
                ),
                description=f"{table.key_field} is no area's {how}",
                columns=(KEY,),
            ),
            RowRule(
                code="value_invalid",
                predicate_sql=f"(len({c(INVALID_CELLS)}) > 0)",
                description="an indicator cell is not a number, or outside its kind's range",
                columns=(INVALID_CELLS,),
            ),
        ),
        dedupe_on=(KEY,),
    )


def _scaled(indicator: TableIndicator, column: str | None) -> str:
    if column is None:
        return "CAST(NULL AS DOUBLE)"
    value = _value(column)
    return f"({value} / 100.0)" if indicator.percent else value


def _entries(table: IndicatorTable) -> list[str]:
    """One struct per indicator row a published row yields."""
    rows: list[tuple[str, str, str, str, str, tuple[str, str] | None]] = []
    for i in table.indicators:
        estimate, moe = _scaled(i, i.column), _scaled(i, i.moe_column)
        if i.universe_column is None:
            rows.append((i.name, i.kind, i.label, estimate, moe, None))
            continue
        universe = _value(i.universe_column)
        rows += [
            (i.name, "proportion", i.label, estimate, moe, (i.numerator_name, i.universe_name)),
            (i.numerator_name, "count", f"{i.label} (count)", f"{estimate} * {universe}",
             f"{moe} * {universe}", None),
            (i.universe_name, "count", f"{i.label} (universe)", universe, "NULL", None),
        ]  # fmt: skip
    return [indicator_entry_sql(position, *row) for position, row in enumerate(rows, start=1)]


def table_indicator_rows_sql(
    table: IndicatorTable, accepted_relation: str, cv_threshold_pct: float
) -> str:
    """One row per accepted unit x indicator, with exactly ``CONFORMED_COLUMNS``."""
    return long_indicator_rows_sql(accepted_relation, KEY, NAME, _entries(table), cv_threshold_pct)


def load_known_units(con: duckdb.DuckDBPyConnection, conformed: Path) -> str:
    """The units an indicator table may name, as a temp table ``(unit_id, unit_name)`` of
    conformed boundaries (the areas, or the indicators' own units)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __known_units AS SELECT area_id AS unit_id, "
        f"area_name AS unit_name FROM read_parquet({sql_literal(str(conformed))})"
    )
    return "__known_units"


def split_indicator_table(
    con: duckdb.DuckDBPyConnection,
    table: IndicatorTable,
    *,
    units: str,
    id_kind: str,
    raw_parquet: Path,
    quarantine_path: Path,
    conformed_path: Path,
    cv_threshold_pct: float,
    source: str = "area_indicators",
    profile_path: Path | None = None,
) -> SplitResult:
    """Quarantine rejected rows of an indicator table, write the rest as long indicators.

    ``units`` is a relation (``unit_id``, ``unit_name``) of the areas the table describes, or of
    the indicator units when the table comes on another geography.
    """
    raw_parquet = Path(raw_parquet)
    check_read_columns(
        "the indicator table",
        table.read_columns,
        raw_columns_of(con, raw_parquet),
        where=f"{source} ({raw_parquet.name})",
    )
    relation = table_relation_sql(
        table, f"read_parquet({sql_literal(str(raw_parquet))})", units, id_kind
    )
    return split_quarantine(
        con,
        raw_parquet,
        table_rules(table, source=source),
        quarantine_path=quarantine_path,
        clean_path=conformed_path,
        relation_sql=relation,
        clean_select=lambda accepted: table_indicator_rows_sql(table, accepted, cv_threshold_pct),
        derived_prefix=CONFORMED_PREFIX,
        profile=LoadProfile(profile_path, "census"),
    )


__all__ = ["CONFORMED_COLUMNS", "split_indicator_table"]

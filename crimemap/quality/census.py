"""Row rules for Census ACS landings, and the split into quarantine and long indicators.

``acs_relation_sql`` adds ``cm_`` columns to each published row: the normalized GEOID, the name,
every estimate and margin parsed with the Census sentinels applied, and the list of cells that
are not numbers. The rules judge those columns; accepted rows are then turned into one row per
indicator of the table set (``indicator_rows_sql``), with the margin, CV and reliability flag of
each derived estimate (formulas in ``crimemap.ingestion.census``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crimemap.core.sql import quote_ident, sql_literal
from crimemap.ingestion.census import (
    DEFAULT_CV_THRESHOLD_PCT,
    NAME_COLUMN,
    AcsIndicator,
    acs_geoid_sql,
    api_columns,
    check_table_set,
    cv_pct_sql,
    estimate_sql,
    geography_columns_missing,
    invalid_number_sql,
    margin_sql,
    proportion_moe_sql,
    proportion_sql,
    sum_moe_sql,
    sum_sql,
    table_set_by_name,
    table_set_variables,
    unreliable_sql,
)
from crimemap.ingestion.landing import LINEAGE_COLUMNS
from crimemap.ingestion.police.layout import CONFORMED_PREFIX
from crimemap.quality.rules import (
    RAW_ALIAS,
    LoadProfile,
    RowRule,
    SourceRules,
    SplitResult,
    raw_columns_of,
    split_quarantine,
)

if TYPE_CHECKING:
    import duckdb

GEOID = "cm_geoid"
NAME = "cm_name"
INVALID_CELLS = "cm_invalid_cells"
# docs/data-contracts.md, area_indicators: the conformed columns, in order.
CONFORMED_COLUMNS: tuple[str, ...] = (
    "geoid",
    "geography_name",
    "indicator",
    "kind",
    "label",
    "estimate",
    "moe",
    "cv_pct",
    "unreliable",
    "numerator",
    "denominator",
    *LINEAGE_COLUMNS,
)

TableSet = tuple[AcsIndicator, ...]


def estimate_column(variable: str) -> str:
    return f"cm_e_{variable}"


def margin_column(variable: str) -> str:
    return f"cm_m_{variable}"


def _indicator_estimate(name: str) -> str:
    return quote_ident(f"cm_est__{name}")


def _indicator_moe(name: str) -> str:
    return quote_ident(f"cm_moe__{name}")


def _c(column: str) -> str:
    return f"{RAW_ALIAS}.{quote_ident(column)}"


def _resolve(table_set: TableSet | str) -> TableSet:
    resolved = table_set_by_name(table_set) if isinstance(table_set, str) else table_set
    check_table_set(resolved)
    return resolved


def required_columns_missing(table_set: TableSet, present: tuple[str, ...]) -> tuple[str, ...]:
    """Columns the table set reads that a landing lacks (``NAME`` is optional; the geography is
    ``GEO_ID`` or state + county + tract)."""
    missing = [c for c in api_columns(table_set) if c not in present]
    return (*missing, *geography_columns_missing(present))


def acs_relation_sql(table_set: TableSet, raw_relation: str, present: tuple[str, ...]) -> str:
    """``SELECT`` of every raw column plus the ``cm_`` columns, one row per published row."""
    alias = "__src"
    col = {name: f"{alias}.{quote_ident(name)}" for name in present}
    name = f"NULLIF(trim(CAST({col[NAME_COLUMN]} AS VARCHAR)), '')" if NAME_COLUMN in col else None
    parsed = []
    for variable in table_set_variables(table_set):
        parsed.append(f"{estimate_sql(col[variable + 'E'])} AS {estimate_column(variable)}")
        parsed.append(f"{margin_sql(col[variable + 'M'])} AS {margin_column(variable)}")
    flagged = ", ".join(
        f"CASE WHEN {invalid_number_sql(col[c])} THEN {sql_literal(c)} END"
        for c in api_columns(table_set)
    )
    return (
        f"SELECT {alias}.*, {acs_geoid_sql(present, alias)} AS {GEOID}, "
        f"{name or 'NULL::VARCHAR'} AS {NAME}, "
        + ", ".join(parsed)
        + f", list_filter(CAST([{flagged}] AS VARCHAR[]), lambda c: c IS NOT NULL) "
        f"AS {INVALID_CELLS} FROM {raw_relation} AS {alias}"
    )


def acs_rules(
    table_set: TableSet | str = "social_services", *, source: str = "area_indicators"
) -> SourceRules:
    """The ACS rule set over the ``cm_`` columns of ``acs_relation_sql``."""
    cells = api_columns(_resolve(table_set))
    return SourceRules(
        source=source,
        key_columns=(GEOID,),
        rules=(
            RowRule(
                code="missing_key",
                predicate_sql=f"({_c(GEOID)} IS NULL)",
                description="no usable GEOID in GEO_ID nor in state + county + tract",
                columns=(GEOID,),
            ),
            RowRule(
                code="value_invalid",
                predicate_sql=f"(len({_c(INVALID_CELLS)}) > 0)",
                description=f"an estimate or margin cell is not a number ({len(cells)} cells)",
                columns=(INVALID_CELLS,),
            ),
        ),
        # The normalized key: "14000US53033000100" and "53033000100" are one tract.
        dedupe_on=(GEOID,),
    )


def _indicator_values(indicator: AcsIndicator) -> tuple[str, str]:
    """(estimate, moe) SQL of a count or median over the parsed ``cm_`` columns."""
    estimates = [quote_ident(estimate_column(v)) for v in indicator.variables]
    margins = [quote_ident(margin_column(v)) for v in indicator.variables]
    return sum_sql(estimates), sum_moe_sql(margins)


def indicator_rows_sql(
    table_set: TableSet,
    accepted_relation: str,
    cv_threshold_pct: float = DEFAULT_CV_THRESHOLD_PCT,
) -> str:
    """One row per accepted unit x indicator, with exactly ``CONFORMED_COLUMNS``."""
    direct = [
        f"{est} AS {_indicator_estimate(i.name)}, {moe} AS {_indicator_moe(i.name)}"
        for i in table_set
        if i.kind != "proportion"
        for est, moe in [_indicator_values(i)]
    ]
    ratios = []
    for i in table_set:
        if i.kind != "proportion":
            continue
        assert i.numerator is not None and i.denominator is not None  # check_table_set
        num, den = _indicator_estimate(i.numerator), _indicator_estimate(i.denominator)
        num_moe, den_moe = _indicator_moe(i.numerator), _indicator_moe(i.denominator)
        ratios.append(
            f"{proportion_sql(num, den)} AS {_indicator_estimate(i.name)}, "
            f"{proportion_moe_sql(num, num_moe, den, den_moe)} AS {_indicator_moe(i.name)}"
        )
    entries = [
        indicator_entry_sql(
            position,
            i.name,
            i.kind,
            i.description,
            _indicator_estimate(i.name),
            _indicator_moe(i.name),
            (i.numerator, i.denominator) if i.numerator and i.denominator else None,
        )
        for position, i in enumerate(table_set, start=1)
    ]
    with_values = f"""(
WITH __direct AS (
    SELECT *, {", ".join(direct)} FROM {accepted_relation}
)
SELECT *{"".join(", " + r for r in ratios)} FROM __direct
)"""
    return long_indicator_rows_sql(with_values, GEOID, NAME, entries, cv_threshold_pct)


def indicator_entry_sql(
    position: int,
    name: str,
    kind: str,
    label: str,
    estimate_sql: str,
    moe_sql: str,
    ratio: tuple[str, str] | None = None,
) -> str:
    """One indicator of a published row, as the struct ``long_indicator_rows_sql`` unnests."""
    numerator, denominator = ratio or (None, None)
    return (
        "{"
        f"'ord': {position}, 'indicator': {sql_literal(name)}, 'kind': {sql_literal(kind)}, "
        f"'label': {sql_literal(label)}, "
        f"'estimate': CAST({estimate_sql} AS DOUBLE), 'moe': CAST({moe_sql} AS DOUBLE), "
        f"'numerator': CAST({sql_literal(numerator) if numerator else 'NULL'} AS VARCHAR), "
        f"'denominator': CAST({sql_literal(denominator) if denominator else 'NULL'} AS VARCHAR)"
        "}"
    )


def long_indicator_rows_sql(
    relation: str, key: str, name: str, entries: list[str], cv_threshold_pct: float
) -> str:
    """One row per row of ``relation`` x indicator ``entries``, with exactly
    ``CONFORMED_COLUMNS``: the CV and reliability flag of each estimate computed here, for
    Census tables and a jurisdiction's own tables alike."""
    lineage = ", ".join(LINEAGE_COLUMNS)
    estimate, moe = "__i.estimate", "__i.moe"
    return f"""
WITH __long AS (
    SELECT {key}, {name}, {lineage}, unnest([{", ".join(entries)}]) AS __i FROM {relation}
)
SELECT
    {key} AS geoid,
    {name} AS geography_name,
    __i.indicator AS indicator,
    __i.kind AS kind,
    __i.label AS label,
    {estimate} AS estimate,
    {moe} AS moe,
    {cv_pct_sql(estimate, moe)} AS cv_pct,
    {unreliable_sql(estimate, moe, cv_threshold_pct)} AS unreliable,
    __i.numerator AS numerator,
    __i.denominator AS denominator,
    {lineage}
FROM __long
ORDER BY _row_number, __i.ord
"""


def split_acs(
    con: duckdb.DuckDBPyConnection,
    table_set: TableSet | str,
    *,
    raw_parquet: Path,
    quarantine_path: Path,
    conformed_path: Path,
    cv_threshold_pct: float = DEFAULT_CV_THRESHOLD_PCT,
    source: str = "area_indicators",
    profile_path: Path | None = None,
) -> SplitResult:
    """Quarantine rejected rows of an ACS landing, write the rest as one row per indicator.

    ``clean_rows`` of the result counts accepted *published* rows (so the result reconciles
    with the raw file); the conformed file holds ``clean_rows x len(table_set)`` rows.
    Raises ``ValueError`` naming the file and the columns when the landing lacks a column the
    table set reads (schema drift), before any row is judged.
    """
    if not cv_threshold_pct > 0:
        raise ValueError(f"cv_threshold_pct must be positive, got {cv_threshold_pct!r}")
    resolved = _resolve(table_set)
    raw_parquet = Path(raw_parquet)
    present = raw_columns_of(con, raw_parquet)
    missing = required_columns_missing(resolved, present)
    if missing:
        geography = geography_columns_missing(present)
        hint = "; the geography needs GEO_ID or state, county and tract" if geography else ""
        raise ValueError(
            f"{source} ({raw_parquet.name}): columns the ACS table set reads are missing: "
            f"{list(missing)}{hint}"
        )
    relation = acs_relation_sql(resolved, f"read_parquet({sql_literal(str(raw_parquet))})", present)
    return split_quarantine(
        con,
        raw_parquet,
        acs_rules(resolved, source=source),
        quarantine_path=quarantine_path,
        clean_path=conformed_path,
        relation_sql=relation,
        clean_select=lambda accepted: indicator_rows_sql(resolved, accepted, cv_threshold_pct),
        derived_prefix=CONFORMED_PREFIX,
        profile=LoadProfile(profile_path, "census"),
    )

"""Complementary cell suppression for published aggregate tables.

Primary suppression hides counts with 0 < count < k, but one hidden cell is recovered by
subtraction whenever its group's total is known: the 'all' row of an (area, month) group, or the
city-wide total of a (month, category) group that the incidents layer gives away. So in every
linked group — the cells bound by one additive relation, the margin included when it is a row of
the table — the number of suppressed cells must never be exactly one.

``suppress_cells`` enforces that on a frame before it is written; ``audit_complementary`` proves
it on the Parquet files actually published.

A cell alone in a group (one area in a town with one area; the only grid cell of a month) is
that group's total, which is published elsewhere: its value is public whatever the table does,
so it is never suppressed, and the audit does not count it as a small count. Suppressing it
would protect nothing and withhold what the incidents layer already shows.

The rule is necessary, not sufficient: when the suppressed cells of two families form two
separate cycles joined by a single cell (a bridge), every group hides two or more cells, yet
summing the groups on one side of the bridge still gives that cell exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePath

import duckdb
import polars as pl

from crimemap.core.sql import quote_ident, sql_literal

SUPPRESSED = "suppressed"
SUPPRESSION = "suppression"
PRIMARY = "primary"
COMPLEMENTARY = "complementary"

# Working columns; the prefix keeps them clear of any published column name.
_ROW = "__suppression_row"
_PRIO = "__suppression_priority"
_PUBLISHABLE = "__suppression_publishable"
_PRIMARY = "__suppression_primary"
_HIDDEN = "__suppression_hidden"


def suppress_cells(
    cells: pl.DataFrame,
    count_column: str,
    groups: Sequence[Sequence[str]],
    k: int = 5,
    *,
    max_rounds: int = 100,
) -> pl.DataFrame:
    """``cells`` plus ``suppressed`` (bool) and ``suppression`` ("primary", "complementary", null).

    ``groups`` lists the families of linked groups by their key columns, e.g.
    ``[["area_id", "month"], ["month", "category"]]``. Primary: 0 < count < k, except a cell
    alone in one of its groups (its value is that group's published total). Then, until
    stable, every group holding exactly one suppressed cell also loses its unsuppressed cell with
    the smallest nonzero count (a zero one only when nothing nonzero is left). A group whose only
    publishable cell is suppressed is left as it is: it cannot be protected within the table.
    Null counts are not publishable and take no part. Ties are broken by the rows' values, so the
    result does not depend on the input's row order; the output keeps that order.
    """
    families = _validate(cells, count_column, groups, k, max_rounds)
    state = _initial_state(cells, count_column, families, k)
    hidden = _complete(state, len(families), max_rounds)
    return _attach(cells, state.get_column(_ROW), state.get_column(_PRIMARY), hidden)


def _validate(
    cells: pl.DataFrame,
    count_column: str,
    groups: Sequence[Sequence[str]],
    k: int,
    max_rounds: int,
) -> list[list[str]]:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be at least 1, got {max_rounds}")
    if isinstance(groups, str) or any(isinstance(family, str) for family in groups):
        raise ValueError(f"groups must be a list of column lists, got {groups!r}")
    families = [list(family) for family in groups]
    if not families or any(not family for family in families):
        raise ValueError(f"every group family needs at least one key column, got {groups!r}")
    missing = [c for c in [count_column, *(c for f in families for c in f)] if c not in cells]
    if missing:
        raise ValueError(f"cells have no column {missing[0]!r} (columns: {cells.columns})")
    if not cells.schema[count_column].is_numeric():
        raise ValueError(
            f"count column {count_column!r} is {cells.schema[count_column]}, not numeric"
        )
    taken = [c for c in (SUPPRESSED, SUPPRESSION) if c in cells.columns]
    if taken:
        raise ValueError(f"cells already have a column {taken[0]!r}")
    return families


def _initial_state(
    cells: pl.DataFrame, count_column: str, families: list[list[str]], k: int
) -> pl.DataFrame:
    """One row per cell in pick order, with one dense group id column per family.

    The pick order is (zero last, smallest count first, then the row's values): the first
    eligible row of a group is the complementary cell to take, and sorting by values rather
    than position makes the choice independent of the input's row order.
    """
    count = pl.col(count_column)
    keys = list(dict.fromkeys(c for family in families for c in family))
    others = [
        c
        for c, dtype in cells.schema.items()
        if c != count_column and c not in keys and dtype != pl.Object
    ]
    ordered = cells.with_row_index(_ROW).sort(
        [count.is_null(), count == 0, count, *keys, *others], nulls_last=True
    )
    alone = pl.any_horizontal(pl.len().over(family) == 1 for family in families)
    return ordered.select(
        pl.col(_ROW),
        count.is_not_null().alias(_PUBLISHABLE),
        ((count > 0) & (count < k) & ~alone).fill_null(False).alias(_PRIMARY),
        *(
            pl.struct(family).rank("dense").alias(_family_id(i))
            for i, family in enumerate(families)
        ),
    ).with_row_index(_PRIO)


def _family_id(index: int) -> str:
    return f"__suppression_family_{index}"


def _complete(state: pl.DataFrame, n_families: int, max_rounds: int) -> pl.Series:
    """Suppressed flags (primary or complementary), aligned with ``state``'s rows."""
    state = state.with_columns(pl.col(_PRIMARY).alias(_HIDDEN))
    for _ in range(max_rounds):
        changed = False
        # Family by family within a round, so a later family already sees the cells an earlier
        # one added; a full round without additions means every family is settled.
        for index in range(n_families):
            picks = _complementary_picks(state, _family_id(index))
            if picks.len():
                state = state.with_columns(pl.col(_HIDDEN) | pl.col(_PRIO).is_in(picks.implode()))
                changed = True
        if not changed:
            return state.get_column(_HIDDEN)
    raise RuntimeError(f"complementary suppression not stable after {max_rounds} rounds")


def _complementary_picks(state: pl.DataFrame, family: str) -> pl.Series:
    """Priority of the cell to add in each group of ``family`` that hides exactly one cell."""
    hidden = pl.col(_HIDDEN)
    lone = hidden.cast(pl.UInt32).sum().over(family) == 1
    return (
        state.filter(lone & ~hidden & pl.col(_PUBLISHABLE))
        .group_by(family)
        .agg(pl.col(_PRIO).min())
        .get_column(_PRIO)
    )


def _attach(
    cells: pl.DataFrame, rows: pl.Series, primary: pl.Series, hidden: pl.Series
) -> pl.DataFrame:
    flags = (
        pl.DataFrame({_ROW: rows, _PRIMARY: primary, SUPPRESSED: hidden})
        .sort(_ROW)
        .select(
            pl.col(SUPPRESSED),
            pl.when(pl.col(_PRIMARY))
            .then(pl.lit(PRIMARY))
            .when(pl.col(SUPPRESSED))
            .then(pl.lit(COMPLEMENTARY))
            .otherwise(pl.lit(None, dtype=pl.String))
            .alias(SUPPRESSION),
        )
    )
    return pl.concat([cells, flags], how="horizontal")


def audit_complementary(
    con: duckdb.DuckDBPyConnection,
    path: Path | str,
    flag_column: str,
    groups: Sequence[Sequence[str]],
) -> list[str]:
    """One problem per family whose groups hold exactly one suppressed cell in a published file.

    ``flag_column`` is either a BOOLEAN flag (true = suppressed) or the published count itself,
    where a suppressed cell is NULL. ``path`` may be a glob over a hive-partitioned layer
    ('<dir>/**/*.parquet'); partition columns can then be group keys. A group whose only cell is
    suppressed is reported too: its total may be published elsewhere (the incidents layer gives
    every city-wide total), so nothing inside the table protects it.
    """
    source = f"read_parquet({sql_literal(str(path))}, hive_partitioning = true)"
    flag = _flag_sql(con, source, flag_column)
    problems = []
    for family in groups:
        found = _lone_groups(con, source, flag, list(family))
        if found is None:
            continue
        n_groups, n_alone, example = found
        columns = ", ".join(family)
        key = ", ".join(f"{c}={v}" for c, v in zip(family, example, strict=True))
        alone = f" ({n_alone} of them the group's only cell)" if n_alone else ""
        problems.append(
            f"{_display_name(path)}: {n_groups} ({columns}) groups have exactly one suppressed "
            f"{flag_column} cell{alone}, e.g. {key} — it can be recovered from the group's total"
        )
    return problems


def alone_in_a_group_sql(groups: Sequence[Sequence[str]]) -> str:
    """SQL true for a row alone in one of its groups: its value is that group's total."""
    if not groups:
        return "false"
    return " OR ".join(
        f"count(*) OVER (PARTITION BY {', '.join(quote_ident(c) for c in family)}) = 1"
        for family in groups
    )


def _flag_sql(con: duckdb.DuckDBPyConnection, source: str, flag_column: str) -> str:
    described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    types = {str(row[0]): str(row[1]) for row in described}
    if flag_column not in types:
        raise ValueError(f"{source}: no column {flag_column!r} (columns: {list(types)})")
    column = quote_ident(flag_column)
    return f"coalesce({column}, false)" if types[flag_column] == "BOOLEAN" else f"{column} IS NULL"


def _lone_groups(
    con: duckdb.DuckDBPyConnection, source: str, flag: str, family: list[str]
) -> tuple[int, int, tuple[object, ...]] | None:
    """(groups with one suppressed cell, how many of them are singletons, first such key)."""
    keys = ", ".join(quote_ident(c) for c in family)
    row = con.execute(
        f"""
        WITH lone AS (
            SELECT {keys}, count(*) = 1 AS alone
            FROM {source}
            GROUP BY {keys}
            HAVING count(*) FILTER (WHERE {flag}) = 1
        )
        SELECT count(*) OVER (), count(*) FILTER (WHERE alone) OVER (), {keys}
        FROM lone
        ORDER BY {keys}
        LIMIT 1
        """
    ).fetchone()
    if row is None:
        return None
    return int(row[0]), int(row[1]), tuple(row[2:])


def _display_name(path: Path | str) -> str:
    """The file's name, or for a glob the directory the glob starts in."""
    parts = PurePath(path).parts
    plain = parts[: next((i for i, p in enumerate(parts) if _is_glob(p)), len(parts))]
    return plain[-1] if plain else str(path)


def _is_glob(part: str) -> bool:
    return any(ch in part for ch in "*?[")

"""Indicators from a city's own table: a CSV, Parquet file or GeoJSON properties, one row per
area (or per unit of another geography), one column per indicator.

A jurisdiction declares which column holds the key and, for each indicator, its column and
kind; the split turns every accepted row into the long rows of ``area_indicators`` that Census
ACS tables also become, so rates, correlations and the need index read both alike::

    indicators:
      mode: file
      path: exports/hardship.csv
      key: {field: COMMUNITY AREA NAME, match: name}   # match: id (default) or name
      indicators:
        population: {column: TOTAL POPULATION, kind: count}
        poverty_rate: {column: PERCENT HOUSEHOLDS BELOW POVERTY, kind: proportion, percent: true}
        per_capita_income: {column: PER CAPITA INCOME, kind: median, label: Per-capita income}
        hardship_index: {column: HARDSHIP INDEX, kind: index, label: Hardship index}

Kinds: ``count`` (summed when apportioned), ``proportion`` (0..1; ``percent: true`` reads 0..100),
``rate`` (any positive scale, e.g. per 1,000), ``median`` and ``index`` (a composite score).
Everything but counts is apportioned as a population-weighted average. Optional per indicator:
``moe`` (a margin-of-error column, 90 %), ``universe`` (a denominator column: a proportion is
then recomputed from apportioned counts), ``label`` (a display name) and ``need`` (``high``: a
high value means more need, the default; ``low``: e.g. income).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TABLE_KINDS: tuple[str, ...] = ("count", "proportion", "rate", "median", "index")
KEY_MATCHES: tuple[str, ...] = ("id", "name")
NEEDS: tuple[str, ...] = ("high", "low")
INDICATOR_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
TABLE_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".geojson": "geojson",
    ".json": "geojson",
}


class IndicatorTableError(ValueError):
    """A table declaration that cannot be used; the message names the key."""


@dataclass(frozen=True)
class TableIndicator:
    name: str  # the indicator's name in area_indicators (lower-case identifier)
    column: str
    kind: str
    label: str
    moe_column: str | None = None
    universe_column: str | None = None
    percent: bool = False
    need: str = "high"

    @property
    def universe_name(self) -> str:
        """The count indicator a proportion with a universe column is recomputed from."""
        return f"{self.name}_universe"

    @property
    def numerator_name(self) -> str:
        return f"{self.name}_count"


@dataclass(frozen=True)
class IndicatorTable:
    key_field: str
    match: str  # id | name: the areas' (or units') ids, or their names
    indicators: tuple[TableIndicator, ...]
    name_field: str | None = None

    @property
    def read_columns(self) -> tuple[str, ...]:
        names = [self.key_field, *([self.name_field] if self.name_field else [])]
        for i in self.indicators:
            names += [c for c in (i.column, i.moe_column, i.universe_column) if c]
        return tuple(dict.fromkeys(names))

    @property
    def indicator_names(self) -> tuple[str, ...]:
        """Every indicator the table yields, the counts a universe adds included."""
        names: list[str] = []
        for i in self.indicators:
            names.append(i.name)
            if i.universe_column:
                names += [i.numerator_name, i.universe_name]
        return tuple(names)

    def indicator(self, name: str) -> TableIndicator | None:
        return next((i for i in self.indicators if i.name == name), None)


def table_format(suffix: str, where: str) -> str:
    fmt = TABLE_FORMATS.get(suffix.lower())
    if fmt is None:
        raise IndicatorTableError(
            f"{where}: an indicator table is a CSV, Parquet or GeoJSON file, not {suffix!r}"
        )
    return fmt


def _text(entry: Mapping[str, Any], key: str, where: str, *, required: bool) -> str | None:
    value = entry.get(key)
    if value is None:
        if required:
            raise IndicatorTableError(f"{where}.{key}: required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise IndicatorTableError(f"{where}.{key}: expected a column name, got {value!r}")
    return str(value)


def _indicator(name: Any, entry: Any, where: str) -> TableIndicator:
    at = f"{where}.{name}"
    if not isinstance(name, str) or not INDICATOR_NAME.match(name):
        raise IndicatorTableError(
            f"{at}: an indicator name is a lower-case identifier (letters, digits, _)"
        )
    if isinstance(entry, str):
        entry = {"column": entry}
    if not isinstance(entry, Mapping):
        raise IndicatorTableError(f"{at}: expected {{column: ..., kind: ...}}")
    known = {"column", "kind", "label", "moe", "universe", "percent", "need"}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise IndicatorTableError(f"{at}: unknown keys {unknown} (known: {sorted(known)})")
    kind = entry.get("kind", "count" if name == "population" else None)
    if kind not in TABLE_KINDS:
        raise IndicatorTableError(f"{at}.kind: one of {', '.join(TABLE_KINDS)}, got {kind!r}")
    percent = entry.get("percent", False)
    if not isinstance(percent, bool) or (percent and kind != "proportion"):
        raise IndicatorTableError(f"{at}.percent: true or false, and only for a proportion")
    need = entry.get("need", "high")
    if need not in NEEDS:
        raise IndicatorTableError(f"{at}.need: high or low, got {need!r}")
    universe = _text(entry, "universe", at, required=False)
    if universe and kind != "proportion":
        raise IndicatorTableError(f"{at}.universe: only a proportion has a universe")
    label = entry.get("label") or name.replace("_", " ").capitalize()
    return TableIndicator(
        name=name,
        column=str(_text(entry, "column", at, required=True)),
        kind=kind,
        label=str(label),
        moe_column=_text(entry, "moe", at, required=False),
        universe_column=universe,
        percent=percent,
        need=need,
    )


def parse_indicator_table(entry: Mapping[str, Any], where: str) -> IndicatorTable:
    """The ``key`` and ``indicators`` of a table declaration."""
    key = entry.get("key")
    if isinstance(key, str):
        key = {"field": key}
    if not isinstance(key, Mapping):
        raise IndicatorTableError(
            f"{where}.key: the column that names each row's area, e.g. {{field: AREA_ID}}"
        )
    match = key.get("match", "id")
    if match not in KEY_MATCHES:
        raise IndicatorTableError(f"{where}.key.match: id or name, got {match!r}")
    indicators = entry.get("indicators")
    if not isinstance(indicators, Mapping) or not indicators:
        raise IndicatorTableError(
            f"{where}.indicators: map each indicator to its column, e.g. "
            "{population: {column: TOTAL POP, kind: count}}"
        )
    parsed = tuple(_indicator(n, e, f"{where}.indicators") for n, e in indicators.items())
    table = IndicatorTable(
        key_field=str(_text(key, "field", f"{where}.key", required=True)),
        match=match,
        indicators=parsed,
        name_field=_text(key, "name_field", f"{where}.key", required=False),
    )
    names = table.indicator_names
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise IndicatorTableError(f"{where}.indicators: {repeated} named twice")
    return table

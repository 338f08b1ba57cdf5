"""Census ACS indicators: the table set crimemap reads, and how its estimates are combined.

An indicator is built from ACS detailed-table variables (``B01003_001`` means the estimate
``B01003_001E`` and its 90% margin of error ``B01003_001M``):

- ``count``: the sum of its variables (age groups sum several sex-by-age cells);
- ``median``: a single variable, never summed or apportioned as a count;
- ``proportion``: ``numerator / denominator`` of two count indicators of the same set.

Each helper that reads a Census value exists twice, as a Python function (``normalize_geoid``,
``parse_estimate``, ``proportion_moe``...) and as a DuckDB SQL builder with the same semantics
(``geoid_sql``, ``estimate_sql``, ``proportion_moe_sql``...): the split runs in SQL, the Python
twin states the rule readably and checks it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from crimemap.core.sql import quote_ident


@dataclass(frozen=True)
class AcsIndicator:
    name: str
    kind: str  # count | median | proportion
    description: str
    variables: tuple[str, ...] = ()  # count / median: ACS variables without the E/M suffix
    numerator: str | None = None  # proportion: names of two count indicators
    denominator: str | None = None
    need: str = "high"  # high: a high value means more need (low: e.g. income)


def _cells(table: str, numbers: range) -> tuple[str, ...]:
    return tuple(f"{table}_{n:03d}" for n in numbers)


# B01001 "Sex by Age": male cells 003-025, female cells 027-049.
_UNDER_18 = _cells("B01001", range(3, 7)) + _cells("B01001", range(27, 31))
_AGE_65_PLUS = _cells("B01001", range(20, 26)) + _cells("B01001", range(44, 50))

SOCIAL_SERVICES_TABLE_SET: tuple[AcsIndicator, ...] = (
    AcsIndicator("population", "count", "Total population", ("B01003_001",)),
    AcsIndicator(
        "poverty_universe",
        "count",
        "Population for whom poverty status is determined",
        ("B17001_001",),
    ),
    AcsIndicator(
        "below_poverty", "count", "Income in the past 12 months below poverty", ("B17001_002",)
    ),
    AcsIndicator(
        "poverty_rate",
        "proportion",
        "Share of the poverty universe below the poverty level",
        numerator="below_poverty",
        denominator="poverty_universe",
    ),
    AcsIndicator("labor_force", "count", "Civilian labor force", ("B23025_003",)),
    AcsIndicator("unemployed", "count", "Civilian labor force: unemployed", ("B23025_005",)),
    AcsIndicator(
        "unemployment_rate",
        "proportion",
        "Share of the civilian labor force unemployed",
        numerator="unemployed",
        denominator="labor_force",
    ),
    AcsIndicator(
        "median_household_income",
        "median",
        "Median household income (inflation-adjusted dollars)",
        ("B19013_001",),
        need="low",
    ),
    AcsIndicator("age_total", "count", "Total population (sex by age table)", ("B01001_001",)),
    AcsIndicator("under_18", "count", "Residents under 18", _UNDER_18),
    AcsIndicator("age_65_plus", "count", "Residents 65 and over", _AGE_65_PLUS),
    AcsIndicator(
        "share_under_18",
        "proportion",
        "Share of residents under 18",
        numerator="under_18",
        denominator="age_total",
    ),
    AcsIndicator(
        "share_65_plus",
        "proportion",
        "Share of residents 65 and over",
        numerator="age_65_plus",
        denominator="age_total",
    ),
)

TABLE_SETS: dict[str, tuple[AcsIndicator, ...]] = {"social_services": SOCIAL_SERVICES_TABLE_SET}


def table_set_variables(table_set: tuple[AcsIndicator, ...]) -> tuple[str, ...]:
    """Every ACS variable a table set reads, in first-use order, without the E/M suffix."""
    names = [v for indicator in table_set for v in indicator.variables]
    return tuple(dict.fromkeys(names))


def api_columns(table_set: tuple[AcsIndicator, ...]) -> tuple[str, ...]:
    """Estimate and margin columns as the Census API names them: ``X_001E, X_001M, ...``."""
    return tuple(f"{v}{suffix}" for v in table_set_variables(table_set) for suffix in ("E", "M"))


def table_set_by_name(name: str) -> tuple[AcsIndicator, ...]:
    try:
        return TABLE_SETS[name]
    except KeyError:
        raise ValueError(f"unknown ACS table set {name!r}; known: {sorted(TABLE_SETS)}") from None


def check_table_set(table_set: tuple[AcsIndicator, ...]) -> None:
    """Raise ``ValueError`` unless every indicator can be computed from the set alone."""
    names = [indicator.name for indicator in table_set]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"ACS table set names indicators more than once: {repeated}")
    kinds = {indicator.name: indicator.kind for indicator in table_set}
    for indicator in table_set:
        if indicator.kind == "count" and not indicator.variables:
            raise ValueError(f"count indicator {indicator.name!r} has no variables")
        if indicator.kind == "median" and len(indicator.variables) != 1:
            raise ValueError(f"median indicator {indicator.name!r} needs exactly one variable")
        if indicator.kind == "proportion":
            for part in (indicator.numerator, indicator.denominator):
                if kinds.get(part or "") != "count":
                    raise ValueError(
                        f"proportion {indicator.name!r}: {part!r} is not a count indicator "
                        "of the same table set"
                    )
        elif indicator.kind not in ("count", "median"):
            raise ValueError(f"indicator {indicator.name!r}: unknown kind {indicator.kind!r}")


# --- GEOIDs -------------------------------------------------------------------------------------

GEOID_LENGTH = 11
# state(2) + county(3) + tract(6) = a tract GEOID.
GEOGRAPHY_PARTS: tuple[tuple[str, int], ...] = (("state", 2), ("county", 3), ("tract", 6))
GEO_ID_COLUMN = "GEO_ID"
NAME_COLUMN = "NAME"

_DIGITS = re.compile(r"[^0-9]")
# "1400000US53033000100" / "14000US53033000100": the summary-level prefix ends at "US".
_GEO_ID_PREFIX = re.compile(r"^.*US")


def normalize_geoid(text: str | None) -> str | None:
    """A tract GEOID as an 11-digit key: digits after a ``...US`` prefix, a longer id keeps its
    trailing 11 digits, a shorter one (a leading zero lost in a spreadsheet) is left-padded.
    ``None`` when there is no digit."""
    if text is None:
        return None
    digits = _DIGITS.sub("", _GEO_ID_PREFIX.sub("", text.strip().upper()))
    if not digits:
        return None
    return digits[-GEOID_LENGTH:] if len(digits) > GEOID_LENGTH else digits.zfill(GEOID_LENGTH)


def _geography_part(text: str | None, width: int) -> str | None:
    digits = _DIGITS.sub("", text or "")
    core = digits.lstrip("0")
    if not digits or len(core) > width:
        return None
    return core.rjust(width, "0")


def geoid_from_parts(state: str | None, county: str | None, tract: str | None) -> str | None:
    """state + county + tract, each zero-padded to its width; ``None`` if a part is blank or
    too long for its width (leading zeros aside)."""
    parts = [
        _geography_part(value, width)
        for value, (_, width) in zip((state, county, tract), GEOGRAPHY_PARTS, strict=True)
    ]
    return None if None in parts else "".join(p for p in parts if p is not None)


def _sql_text(expr: str) -> str:
    return f"trim(CAST({expr} AS VARCHAR))"


def geoid_sql(expr: str) -> str:
    """``normalize_geoid`` in DuckDB SQL over a text expression (NULL when no digit)."""
    digits = (
        f"regexp_replace(regexp_replace(upper({_sql_text(expr)}), '^.*US', ''), '[^0-9]', '', 'g')"
    )
    return (
        f"(CASE WHEN coalesce({digits}, '') = '' THEN NULL "
        f"WHEN length({digits}) > {GEOID_LENGTH} THEN right({digits}, {GEOID_LENGTH}) "
        f"ELSE lpad({digits}, {GEOID_LENGTH}, '0') END)"
    )


def _geography_part_sql(expr: str, width: int) -> str:
    digits = f"regexp_replace(coalesce({_sql_text(expr)}, ''), '[^0-9]', '', 'g')"
    core = f"ltrim({digits}, '0')"
    return (
        f"(CASE WHEN {digits} <> '' AND length({core}) <= {width} "
        f"THEN lpad({core}, {width}, '0') END)"
    )


def geoid_from_parts_sql(state: str, county: str, tract: str) -> str:
    """``geoid_from_parts`` in DuckDB SQL (NULL when any part is unusable)."""
    parts = [
        _geography_part_sql(expr, width)
        for expr, (_, width) in zip((state, county, tract), GEOGRAPHY_PARTS, strict=True)
    ]
    return "(" + " || ".join(parts) + ")"


def geography_columns_missing(columns: Collection[str]) -> tuple[str, ...]:
    """Geography columns a Census file lacks: none if it has ``GEO_ID`` or all of state, county,
    tract; else the missing parts."""
    if GEO_ID_COLUMN in columns:
        return ()
    return tuple(name for name, _ in GEOGRAPHY_PARTS if name not in columns)


def acs_geoid_sql(columns: Collection[str], alias: str) -> str:
    """The row's GEOID from ``GEO_ID`` when the file has it, else (or when that cell is unusable)
    from state + county + tract. ``columns`` are the file's column names."""
    if geography_columns_missing(columns):
        raise ValueError(
            f"no geography: need {GEO_ID_COLUMN} or "
            f"{', '.join(name for name, _ in GEOGRAPHY_PARTS)}"
        )
    options = []
    if GEO_ID_COLUMN in columns:
        options.append(geoid_sql(f"{alias}.{quote_ident(GEO_ID_COLUMN)}"))
    if all(name in columns for name, _ in GEOGRAPHY_PARTS):
        options.append(
            geoid_from_parts_sql(*(f"{alias}.{quote_ident(name)}" for name, _ in GEOGRAPHY_PARTS))
        )
    return options[0] if len(options) == 1 else f"coalesce({', '.join(options)})"


# --- Census values: sentinels, margins, derived estimates ----------------------------------------

# The API's annotation values, written in an estimate or margin cell instead of a number.
SENTINELS: dict[int, str] = {
    -666666666: "estimate not computed: too few sample observations",
    -999999999: "estimate or margin not shown: too few sample cases",
    -888888888: "estimate or margin not applicable or not available",
    -222222222: "margin not computed: too few sample observations",
    -333333333: "margin not computed: the median is in an open-ended interval",
    -555555555: "no margin: the estimate is controlled to an independent estimate",
}
CONTROLLED_MARGIN = -555555555
# ACS margins are 90% confidence: margin = 1.645 x standard error.
Z_90 = 1.645
# The widely used rule of thumb for ACS estimates: a coefficient of variation up to 12% is
# reliable, 12-30% is to be used with caution, above 30% is unreliable.
DEFAULT_CV_THRESHOLD_PCT = 30.0

_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def parse_number(text: str | None) -> float | None:
    """A Census cell as a number; ``None`` when blank; ``ValueError`` when not a number."""
    stripped = (text or "").strip()
    if not stripped:
        return None
    if not _NUMBER.fullmatch(stripped):
        raise ValueError(f"not a number: {text!r}")
    return float(stripped)


def parse_estimate(text: str | None) -> float | None:
    """An estimate cell: every Census sentinel is negative and every quantity of the table sets
    is non-negative, so any negative value means "no estimate" (``None``)."""
    value = parse_number(text)
    return None if value is None or value < 0 else value


def parse_margin(text: str | None) -> float | None:
    """A margin cell: "controlled" (-555555555) is an exact zero; other sentinels ``None``."""
    value = parse_number(text)
    if value == CONTROLLED_MARGIN:
        return 0.0
    return None if value is None or value < 0 else value


def sum_moe(margins: Sequence[float | None]) -> float | None:
    """Margin of a sum: the root of the summed squares (``None`` if any margin is missing)."""
    if any(m is None for m in margins):
        return None
    return math.sqrt(sum(m * m for m in margins if m is not None))


def proportion(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def proportion_moe(
    numerator: float | None,
    numerator_moe: float | None,
    denominator: float | None,
    denominator_moe: float | None,
) -> float | None:
    """Margin of ``numerator / denominator`` (numerator a subset of the denominator), per the
    ACS General Handbook: ``sqrt(moe_num² - p²·moe_den²) / den``; when the term under the root is
    negative, the handbook says to use the ratio formula, with ``+`` instead."""
    p = proportion(numerator, denominator)
    if p is None or numerator_moe is None or denominator_moe is None or denominator is None:
        return None
    under = numerator_moe**2 - p**2 * denominator_moe**2
    if under < 0:
        under = numerator_moe**2 + p**2 * denominator_moe**2
    return math.sqrt(under) / denominator


def cv_pct(estimate: float | None, moe: float | None) -> float | None:
    """Coefficient of variation in percent; ``None`` for a zero or missing estimate (a CV is
    undefined there) or a missing margin."""
    if estimate is None or moe is None or estimate == 0:
        return None
    return moe / Z_90 / estimate * 100


def is_unreliable(
    estimate: float | None, moe: float | None, threshold_pct: float = DEFAULT_CV_THRESHOLD_PCT
) -> bool:
    """Missing estimates are unreliable; otherwise only a CV above the threshold is. A zero
    estimate has no CV and is not flagged: "none counted" is a usable answer for a count. A
    missing margin (a sentinel) leaves the CV unknown, and the estimate is not flagged either."""
    if estimate is None:
        return True
    cv = cv_pct(estimate, moe)
    return cv is not None and cv > threshold_pct


def _number_sql(expr: str) -> str:
    # TRY_CAST accepts 'nan' and 'inf', which are not Census values.
    value = f"TRY_CAST(NULLIF({_sql_text(expr)}, '') AS DOUBLE)"
    return f"(CASE WHEN isfinite({value}) THEN {value} END)"


def invalid_number_sql(expr: str) -> str:
    """True when the cell is non-blank but not a finite number (a sentinel is a number)."""
    return f"(NULLIF({_sql_text(expr)}, '') IS NOT NULL AND {_number_sql(expr)} IS NULL)"


def estimate_sql(expr: str) -> str:
    """``parse_estimate`` in SQL: DOUBLE, NULL for blank, sentinel or non-number cells."""
    value = _number_sql(expr)
    return f"(CASE WHEN {value} >= 0 THEN {value} END)"


def margin_sql(expr: str) -> str:
    """``parse_margin`` in SQL: controlled (-555555555) is 0, other negatives NULL."""
    value = _number_sql(expr)
    return f"(CASE WHEN {value} = {CONTROLLED_MARGIN} THEN 0.0 WHEN {value} >= 0 THEN {value} END)"


def sum_sql(terms: Sequence[str]) -> str:
    """A sum that is NULL when any term is (SQL ``+`` semantics, unlike ``sum()``)."""
    return "(" + " + ".join(terms) + ")"


def sum_moe_sql(margins: Sequence[str]) -> str:
    if len(margins) == 1:
        return margins[0]
    return "sqrt(" + " + ".join(f"({m}) * ({m})" for m in margins) + ")"


def proportion_sql(numerator: str, denominator: str) -> str:
    return f"(CASE WHEN {denominator} <> 0 THEN {numerator} / {denominator} END)"


def proportion_moe_sql(
    numerator: str, numerator_moe: str, denominator: str, denominator_moe: str
) -> str:
    p = proportion_sql(numerator, denominator)
    num_sq = f"({numerator_moe}) * ({numerator_moe})"
    den_sq = f"{p} * {p} * ({denominator_moe}) * ({denominator_moe})"
    minus, plus = f"({num_sq} - {den_sq})", f"({num_sq} + {den_sq})"
    return (
        f"(CASE WHEN {denominator} <> 0 THEN "
        f"sqrt(CASE WHEN {minus} < 0 THEN {plus} ELSE {minus} END) / {denominator} END)"
    )


def cv_pct_sql(estimate: str, moe: str) -> str:
    return f"(CASE WHEN {estimate} <> 0 THEN {moe} / {Z_90!r} / {estimate} * 100 END)"


def unreliable_sql(estimate: str, moe: str, threshold_pct: float) -> str:
    return (
        f"({estimate} IS NULL OR coalesce({cv_pct_sql(estimate, moe)} > "
        f"{float(threshold_pct)!r}, false))"
    )

"""Census ACS indicators: the table set crimemap reads, and how its estimates are combined.

An indicator is built from ACS detailed-table variables (``B01003_001`` means the estimate
``B01003_001E`` and its 90% margin of error ``B01003_001M``):

- ``count``: the sum of its variables (age groups sum several sex-by-age cells);
- ``median``: a single variable, never summed or apportioned as a count;
- ``proportion``: ``numerator / denominator`` of two count indicators of the same set.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AcsIndicator:
    name: str
    kind: str  # count | median | proportion
    description: str
    variables: tuple[str, ...] = ()  # count / median: ACS variables without the E/M suffix
    numerator: str | None = None  # proportion: names of two count indicators
    denominator: str | None = None


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

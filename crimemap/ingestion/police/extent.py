"""The months an export covers: its monthly partitions follow the data, not the calendar.

A historical export (twelve months of 2020) makes twelve partitions, not one per month from
2020 to today. The range runs from the month of the earliest rows to the month of the latest,
never past the current month (a date in the future is a defect the quality rules quarantine,
not a reason for empty partitions). The earliest 0.1 % of rows are left out of the start: one
mistyped year (1901) must not add a thousand empty months; those rows still land, in the first
partition, and quality judges them there.

Scanning a large export takes seconds, so the answer is cached beside the data, keyed by the
file's size, modification time and the layout's date fields.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from crimemap.core.duckdb_spatial import fetch_one
from crimemap.core.sql import sql_literal
from crimemap.ingestion.landing import DEFAULT_READ, ReadOptions
from crimemap.ingestion.police.layout import PoliceLayout
from crimemap.ingestion.police.partitions import row_month_sql

if TYPE_CHECKING:
    import duckdb

# Share of the earliest rows that cannot move the first month back.
EARLY_OUTLIER_SHARE = 0.001


@dataclass(frozen=True)
class MonthRange:
    first: date
    last: date


def month_of(day: date) -> date:
    return date(day.year, day.month, 1)


def landed_month_range(
    con: duckdb.DuckDBPyConnection,
    layout: PoliceLayout,
    landed_parquet: Path,
    timezone: str,
    *,
    today: date,
) -> MonthRange | None:
    """First and last month of a landed export's rows; None when no row has a date."""
    month = row_month_sql(layout, timezone, alias="__l")
    current = sql_literal(month_of(today).isoformat())
    first, last = fetch_one(
        con,
        f"SELECT quantile_disc(__m, {EARLY_OUTLIER_SHARE}), max(__m) FROM ("
        f"SELECT {month} AS __m FROM read_parquet({sql_literal(str(landed_parquet))}) AS __l) "
        f"WHERE __m <= DATE {current}",
    )
    if first is None:
        return None
    return MonthRange(first=first, last=last)


def export_signature(
    export: Path, layout: PoliceLayout, timezone: str, read: ReadOptions = DEFAULT_READ
) -> str:
    """Changes when the file or how its dates are read changes."""
    stat = export.stat()
    fields = repr((layout.occurred, layout.reported, timezone, read))
    return hashlib.sha256(f"{stat.st_size}|{stat.st_mtime_ns}|{fields}".encode()).hexdigest()


def read_cached_range(cache: Path, signature: str) -> MonthRange | None:
    if not cache.is_file():
        return None
    try:
        document = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if document.get("signature") != signature:
        return None
    return MonthRange(date.fromisoformat(document["first"]), date.fromisoformat(document["last"]))


def write_cached_range(cache: Path, signature: str, months: MonthRange) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    document = {
        "signature": signature,
        "first": months.first.isoformat(),
        "last": months.last.isoformat(),
    }
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    tmp.replace(cache)

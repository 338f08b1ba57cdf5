"""The quality scorecard as people read it: rows of the published layer, rendered as text.

The numbers come from the ``quality_scorecard`` mart (dbt) via the latest release; this module only
reads, filters and formats them, so ``crimemap quality`` needs neither the warehouse (and its
write lock) nor Dagster.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from crimemap.quality.rules import REASON_CODES

SCORECARD_LAYER = "quality_scorecard"
UNDATED = "undated"


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    render: Callable[[Any], str]


def _count(value: Any) -> str:
    return "" if value is None else f"{int(value):,}"


def _share(value: Any) -> str:
    return "" if value is None else f"{100 * float(value):.1f}%"


def _days(value: Any) -> str:
    return "" if value is None else f"{float(value):.1f}"


def _month(value: Any) -> str:
    return UNDATED if value is None else f"{value:%Y-%m}"


TABLE_COLUMNS: tuple[Column, ...] = (
    Column("source", "source", str),
    Column("month", "month", _month),
    Column("raw", "raw_rows", _count),
    Column("accepted", "accepted_rows", _count),
    Column("quarantined", "quarantined_rows", _count),
    Column("complete", "completeness", _share),
    Column("geocoded", "geocoding_rate", _share),
    Column("outside", "out_of_jurisdiction_rate", _share),
    Column("dupes", "duplicate_rate", _share),
    Column("mapped", "crosswalk_coverage", _share),
    Column("lag p50 d", "reporting_lag_p50_days", _days),
    Column("lag p90 d", "reporting_lag_p90_days", _days),
)


def read_scorecard(
    parquet: Path, *, sources: Sequence[str] = (), since: date | None = None
) -> list[dict[str, Any]]:
    """Scorecard rows, optionally only ``sources`` and months from ``since`` (undated rows are
    kept: they belong to every period)."""
    import pyarrow.parquet as pq

    if not Path(parquet).is_file():
        raise FileNotFoundError(f"no scorecard layer at {parquet}")
    rows = pq.read_table(parquet).to_pylist()
    known = {row["source"] for row in rows}
    unknown = sorted(set(sources) - known)
    if unknown:
        raise ValueError(f"no such source in the scorecard: {unknown}; known: {sorted(known)}")
    return [
        row
        for row in rows
        if (not sources or row["source"] in sources)
        and (since is None or row["month"] is None or row["month"] >= since)
    ]


def reasons_text(row: Mapping[str, Any]) -> str:
    """The reason codes a row's quarantined records carry, most frequent first."""
    counts = [(code, int(row.get(f"{code}_rows") or 0)) for code in REASON_CODES]
    ranked = sorted((c for c in counts if c[1]), key=lambda c: -c[1])
    return ", ".join(f"{code} {n:,}" for code, n in ranked)


def render_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A fixed-width table, one line per source x month, with the quarantine reasons last."""
    headers = [c.header for c in TABLE_COLUMNS] + ["quarantine reasons"]
    body = [
        [c.render(row.get(c.field)) for c in TABLE_COLUMNS] + [reasons_text(row)] for row in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in body)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        first = [cells[0].ljust(widths[0]), cells[1].ljust(widths[1])]
        numbers = [cell.rjust(w) for cell, w in zip(cells[2:-1], widths[2:-1], strict=True)]
        return "  ".join([*first, *numbers, cells[-1]]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(cells) for cells in body)]) + "\n"


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def render_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Every column of the layer, as CSV."""
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _plain(v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def render_json(rows: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps([{k: _plain(v) for k, v in row.items()} for row in rows], indent=2) + "\n"


RENDERERS: dict[str, Callable[[Sequence[Mapping[str, Any]]], str]] = {
    "table": render_table,
    "csv": render_csv,
    "json": render_json,
}

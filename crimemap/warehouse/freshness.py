"""How current each source is: what the manifest tells consumers about the data's age."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from crimemap.core.duckdb_spatial import fetch_one
from crimemap.core.sql import quote_ident, sql_literal

NONE = "none"  # a source mode: the jurisdiction has no such source


@dataclass(frozen=True)
class EventSource:
    family: str
    table: str
    column: str  # when the event happened
    source: str  # SQL telling the family's sources apart
    is_timestamp: bool


EVENT_SOURCES = (
    EventSource("police", "fct_incidents", "occurred_at", "source", True),
    EventSource(
        "service_requests",
        "stg_service_requests__requests",
        "created_at",
        "'service_requests'",
        True,
    ),
    EventSource("surveys", "stg_surveys__answers", "submitted_on", "survey", False),
)
# Sources without event dates: only when they were loaded.
REFERENCE_SOURCES = (
    ("boundaries", "stg_boundaries__areas"),
    ("census_acs", "stg_census__acs_indicators"),
    ("facilities", "stg_facilities__facilities"),
)


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _event_rows(con: duckdb.DuckDBPyConnection, s: EventSource, timezone: str) -> list[tuple]:
    column = quote_ident(s.column)
    # Timestamps count on the jurisdiction's calendar, like every published date.
    day = f"timezone({sql_literal(timezone)}, {column})::DATE" if s.is_timestamp else column
    return con.execute(
        f"SELECT {s.source}, max({day}), max(_ingested_at), count(*) "
        f"FROM {quote_ident(s.table)} GROUP BY ALL ORDER BY 1"
    ).fetchall()


def source_freshness(
    con: duckdb.DuckDBPyConnection, timezone: str, modes: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Per source: the latest event date (local) where the source records events, when it was
    last loaded and how many rows the warehouse holds. ``modes`` gives each source's mode by
    source name, else by family (``none``: the jurisdiction has no such source, listed with no
    rows so a consumer sees it is absent rather than empty)."""
    modes = modes or {}

    def mode_of(source: str, family: str) -> str | None:
        return modes.get(source, modes.get(family))

    entries: list[dict[str, Any]] = []
    for s in EVENT_SOURCES:
        found = [
            {
                "source": str(name),
                "family": s.family,
                "column": s.column,
                "latest": _iso(latest),
                "loaded_at": _iso(loaded),
                "rows": rows,
            }
            for name, latest, loaded, rows in _event_rows(con, s, timezone)
        ]
        if not found and mode_of(s.family, s.family) == NONE:
            found = [_absent(s.family, s.family, s.column)]
        entries += found
    for family, table in REFERENCE_SOURCES:
        if mode_of(family, family) == NONE:
            entries.append(_absent(family, family, None))
            continue
        loaded, rows = fetch_one(
            con, f"SELECT max(_ingested_at), count(*) FROM {quote_ident(table)}"
        )
        entries.append(
            {
                "source": family,
                "family": family,
                "column": None,
                "latest": None,
                "loaded_at": _iso(loaded),
                "rows": rows,
            }
        )
    for entry in entries:
        mode = mode_of(entry["source"], entry["family"])
        if mode is not None:
            entry["mode"] = mode
    return entries


def _absent(source: str, family: str, column: str | None) -> dict[str, Any]:
    return {
        "source": source,
        "family": family,
        "column": column,
        "latest": None,
        "loaded_at": None,
        "rows": 0,
    }

"""Live 311 feeds: a Socrata dataset's rows, renamed to the layout's export column names.

The same approach as the police feeds (``crimemap.ingestion.police.live``): the layout's
``live.fields`` maps API field names onto the export's columns, so a live load lands in exactly the
layout a downloaded file does and flows through the same conform step and rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import polars as pl

from crimemap.ingestion.live.http import DEFAULT_POLICY, RetryPolicy
from crimemap.ingestion.live.socrata import SocrataDataset, fetch_socrata
from crimemap.ingestion.service_requests.layout import ServiceRequestLayout

Row = dict[str, str | None]


def live_options(
    layout: ServiceRequestLayout, live_overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The layout's ``live`` options with a jurisdiction's overrides (``base_url``,
    ``page_size``, ``app_token_env`` ...) applied on top."""
    if layout.live is None:
        raise ValueError(f"service request layout {layout.name} has no live API configured")
    return {**layout.live.options, **(live_overrides or {})}


def export_fields(layout: ServiceRequestLayout) -> dict[str, str]:
    """API field name -> export column; without a map the API uses the export's names."""
    fields = dict(layout.live.fields) if layout.live else {}
    return fields or {c: c for c in layout.columns}


def socrata_dataset(
    layout: ServiceRequestLayout, live_overrides: Mapping[str, Any] | None = None
) -> SocrataDataset:
    options = live_options(layout, live_overrides)
    return SocrataDataset(
        base_url=str(options["base_url"]),
        dataset_id=str(options["dataset_id"]),
        date_field=str(options["date_field"]),
        expected_fields=tuple(export_fields(layout)),
        app_token_env=str(options.get("app_token_env", "SOCRATA_APP_TOKEN")),
        page_size=int(options.get("page_size", 50_000)),
    )


def fetch_service_requests(
    layout: ServiceRequestLayout,
    live_overrides: Mapping[str, Any] | None,
    start: datetime | None,
    end: datetime | None,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] | None = None,
) -> Iterator[list[Row]]:
    """Pages of requests created in ``[start, end)`` (naive local times: Socrata timestamps are
    floating), keyed by the layout's export column names; absent fields are None."""
    dataset = socrata_dataset(layout, live_overrides)
    fields = export_fields(layout)
    pages = fetch_socrata(dataset, start=start, end=end, policy=policy, sleep=sleep, log=log)
    for page in pages:
        yield [{column: row.get(api) for api, column in fields.items()} for row in page]


def rows_frame(layout: ServiceRequestLayout, pages: Iterable[list[Row]]) -> pl.DataFrame:
    """Fetched rows as a frame of strings in the export's column order, ready for
    ``crimemap.ingestion.landing.land_frame``."""
    rows = [row for page in pages for row in page]
    columns = list(layout.columns) or list(dict.fromkeys(k for r in rows for k in r))
    return pl.DataFrame(
        {c: [r.get(c) for r in rows] for c in columns}, schema=dict.fromkeys(columns, pl.String)
    )

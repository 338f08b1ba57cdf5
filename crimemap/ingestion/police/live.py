"""Live police feeds: a portal API's rows, renamed to the published export's column names.

The API names its fields differently from the CSV export ("offense_start_datetime" vs "Offense
Start DateTime"); the layout's ``live.fields`` maps one onto the other, so a live load lands in
exactly the layout a downloaded file does and flows through the same conform step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from crimemap.ingestion.live.arcgis import ArcGISLayer, fetch_arcgis
from crimemap.ingestion.live.http import RetryPolicy
from crimemap.ingestion.live.socrata import SocrataDataset, fetch_socrata
from crimemap.ingestion.police.layout import PoliceLayout

Row = dict[str, str | None]


def fetch_live_rows(
    layout: PoliceLayout,
    options: dict[str, Any],
    *,
    start: datetime | None,
    end: datetime | None,
    policy: RetryPolicy | None = None,
    log: Callable[[str], None] | None = None,
) -> Iterator[list[Row]]:
    """Pages of rows keyed by the layout's export column names (absent fields are None).

    ``options`` are the layout's ``live`` options with the jurisdiction's overrides applied
    (``base_url`` / ``url`` pointing elsewhere, ``page_size``, ``app_token_env`` ...).
    """
    if layout.live is None:
        raise ValueError(f"layout {layout.name} has no live API configured")
    fields = dict(layout.live.fields) or {c: c for c in layout.columns}
    policy = policy or RetryPolicy()
    if layout.live.kind == "socrata":
        dataset = SocrataDataset(
            base_url=str(options["base_url"]),
            dataset_id=str(options["dataset_id"]),
            date_field=str(options["date_field"]),
            expected_fields=tuple(fields),
            app_token_env=str(options.get("app_token_env", "SOCRATA_APP_TOKEN")),
            page_size=int(options.get("page_size", 50_000)),
        )
        pages = fetch_socrata(dataset, start=start, end=end, policy=policy, log=log)
    else:
        layer = ArcGISLayer(
            url=str(options["url"]),
            date_field=str(options["date_field"]),
            expected_fields=tuple(fields),
            where=str(options.get("where", "1=1")),
            page_size=int(options.get("page_size", 2000)),
        )
        pages = fetch_arcgis(layer, start=start, end=end, policy=policy, log=log)
    for page in pages:
        yield [{column: row.get(api) for api, column in fields.items()} for row in page]

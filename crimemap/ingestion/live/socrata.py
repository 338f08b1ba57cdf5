"""Socrata (SODA 2.x) datasets, e.g. Seattle's SPD Crime Data on data.seattle.gov.

Pages come from ``/resource/<id>.json`` ordered by the row id ``:id``: without a total order,
``$offset`` paging can skip or repeat rows. The page size is always sent, because without
``$limit`` the API silently returns at most 1,000 rows.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from crimemap.ingestion.live.http import (
    DEFAULT_POLICY,
    LiveSourceError,
    Log,
    RetryPolicy,
    Sleep,
    get_json,
)
from crimemap.ingestion.live.schema import as_text, check_fields, check_row_keys

# Column API names, plus system fields such as ":updated_at" (usable for incremental windows).
_FIELD_NAME = re.compile(r"^:?@?[A-Za-z_][A-Za-z0-9_]*$")

Row = dict[str, str | None]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SocrataDataset:
    base_url: str  # "https://data.seattle.gov"
    dataset_id: str  # the four-by-four, "tazs-3rd5"
    date_field: str  # API field name used for incremental windows
    expected_fields: tuple[str, ...] = ()
    app_token_env: str = "SOCRATA_APP_TOKEN"
    page_size: int = 50_000

    @property
    def resource_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/resource/{self.dataset_id}.json"


def floating_timestamp(value: datetime) -> str:
    """A SoQL floating timestamp literal body. Floating timestamps carry no zone, so an aware
    datetime is refused rather than silently shifted."""
    if value.tzinfo is not None:
        raise ValueError(
            f"Socrata floating timestamps have no time zone; pass a naive local time, not {value}"
        )
    spec = "seconds" if value.microsecond == 0 else "milliseconds"
    return value.isoformat(timespec=spec)


def socrata_where(date_field: str, start: datetime | None, end: datetime | None) -> str | None:
    """SoQL ``$where`` for the half-open window ``start <= date_field < end``; either bound may
    be omitted; ``None`` when both are."""
    if not _FIELD_NAME.match(date_field):
        raise ValueError(f"not a Socrata field name: {date_field!r}")
    clauses = []
    if start is not None:
        clauses.append(f"{date_field} >= '{floating_timestamp(start)}'")
    if end is not None:
        clauses.append(f"{date_field} < '{floating_timestamp(end)}'")
    return " AND ".join(clauses) or None


def app_token_headers(env_var: str) -> dict[str, str]:
    """``X-App-Token`` when the variable holds a token (raises the rate limit); else nothing."""
    token = os.environ.get(env_var, "").strip()
    return {"X-App-Token": token} if token else {}


def text_row(row: dict[str, object]) -> Row:
    return {key: as_text(value) for key, value in row.items()}


def served_fields(header: str | None) -> tuple[str, ...] | None:
    """Field names from ``X-SODA2-Fields`` (a JSON array), ``None`` if absent or unreadable."""
    if not header:
        return None
    try:
        names = json.loads(header)
    except ValueError:
        return None
    if not isinstance(names, list):
        return None
    return tuple(str(name) for name in names)


def fetch_socrata(
    dataset: SocrataDataset,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Sleep = time.sleep,
    log: Log | None = None,
) -> Iterator[list[Row]]:
    """Yield the dataset's rows in pages, every value as text (``None`` for null).

    Checks the field set on the first page (see ``crimemap.ingestion.live.schema``) before anything
    is yielded, so a drifted dataset lands nothing.
    """
    url = dataset.resource_url
    name = f"Socrata dataset {dataset.dataset_id} at {dataset.base_url}"
    where = socrata_where(dataset.date_field, start, end)
    headers = app_token_headers(dataset.app_token_env)
    offset = 0
    while True:
        params = {"$order": ":id", "$limit": str(dataset.page_size), "$offset": str(offset)}
        if where is not None:
            params["$where"] = where
        body, response_headers = get_json(url, params, headers, policy, sleep, log)
        if not isinstance(body, list):
            raise LiveSourceError(url, f"expected a JSON array of rows, got {type(body).__name__}")
        if offset == 0:
            fields = served_fields(response_headers.get("X-SODA2-Fields"))
            if fields is None:
                check_row_keys(name, dataset.expected_fields, body)
            else:
                check_fields(name, dataset.expected_fields, fields)
        offset += len(body)
        (log or logger.info)(f"{name}: {offset} rows so far")
        if body:
            yield [text_row(row) for row in body]
        if len(body) < dataset.page_size:
            return

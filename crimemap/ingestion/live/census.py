"""Census Data API (``api.census.gov/data/<year>/<dataset>``), e.g. ACS 5-year by tract.

A request names at most 50 variables in ``get``, so a table set is fetched in chunks of 48
variables plus ``NAME`` and ``GEO_ID``, and the chunks are joined on ``GEO_ID``. The answer is
the API's own shape, an array of arrays with the header row first, so a saved response lands
with ``crimemap.ingestion.landing.land_census_json`` like a downloaded file.

The API key is optional (without one the API allows only a limited number of queries a day).
It travels as the ``key`` query parameter, the only way the API accepts it, so it is masked in
every message and log line this module lets out.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crimemap.ingestion.census import GEO_ID_COLUMN, NAME_COLUMN
from crimemap.ingestion.live.http import (
    DEFAULT_POLICY,
    LiveSourceError,
    Log,
    RetryPolicy,
    SchemaDriftError,
    Sleep,
    get_json,
)
from crimemap.ingestion.live.schema import as_text

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.census.gov/data"
MAX_GET_VARIABLES = 50  # the API's limit on names in one ``get``, NAME and GEO_ID included
FIXED_VARIABLES: tuple[str, ...] = (NAME_COLUMN, GEO_ID_COLUMN)
CHUNK_VARIABLES = MAX_GET_VARIABLES - len(FIXED_VARIABLES)
_VARIABLE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# "state:53", "county:033", "tract:*", "school district (unified):*"
_PREDICATE = re.compile(r"^[A-Za-z][A-Za-z ()/-]*:(\*|[0-9A-Za-z,]+)$")
_UNKNOWN_VARIABLE = re.compile(r"unknown variable '([^']+)'")

CensusRows = list[list[str | None]]


@dataclass(frozen=True)
class CensusQuery:
    """One dataset and geography of the Census Data API.

    ``geography_in`` holds the parent predicates, e.g. ``("state:53", "county:033")``; they are
    sent as one ``in`` parameter, joined by a space, one of the forms the API accepts.
    """

    year: int
    dataset: str = "acs/acs5"
    geography_for: str = "tract:*"
    geography_in: tuple[str, ...] = ()
    base_url: str = DEFAULT_BASE_URL
    api_key_env: str = "CENSUS_API_KEY"

    def __post_init__(self) -> None:
        for predicate in (self.geography_for, *self.geography_in):
            if not _PREDICATE.match(predicate):
                raise ValueError(f"not a Census geography predicate: {predicate!r}")

    @property
    def url(self) -> str:
        return f"{self.base_url.rstrip('/')}/{self.year}/{self.dataset.strip('/')}"

    @property
    def label(self) -> str:
        where = self.geography_for
        if self.geography_in:
            where += f" in {' '.join(self.geography_in)}"
        return f"Census API {self.year}/{self.dataset.strip('/')} ({where})"

    @property
    def geography_columns(self) -> tuple[str, ...]:
        """Columns the API appends for the geography: the parents', then the unit's own."""
        return tuple(p.split(":", 1)[0] for p in (*self.geography_in, self.geography_for))


class CensusUnknownVariableError(LiveSourceError):
    """The API does not know a requested variable (wrong year or dataset, or a typo)."""

    def __init__(self, url: str, reason: str, variable: str, *, attempts: int = 1) -> None:
        message = f"unknown variable {variable!r} ({reason})"
        super().__init__(url, message, attempts=attempts, status=400)
        self.variable = variable


class CensusEmptyResultError(LiveSourceError):
    """The geography matched no unit (the API answers 204 No Content)."""


class CensusJoinError(LiveSourceError):
    """The chunks of one query did not describe the same geographies."""


def chunk_variables(variables: Sequence[str], size: int = CHUNK_VARIABLES) -> list[list[str]]:
    """Requested variables, de-duplicated in order, without NAME / GEO_ID, in chunks of ``size``."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    wanted = [v for v in dict.fromkeys(variables) if v not in FIXED_VARIABLES]
    if not wanted:
        raise ValueError("no variables requested")
    bad = [v for v in wanted if not _VARIABLE.match(v)]
    if bad:
        raise ValueError(f"not Census variable names: {bad}")
    return [wanted[i : i + size] for i in range(0, len(wanted), size)]


def api_key(env_var: str) -> str | None:
    key = os.environ.get(env_var, "").strip()
    return key or None


def request_params(query: CensusQuery, chunk: Sequence[str], key: str | None) -> dict[str, str]:
    params = {"get": ",".join([*FIXED_VARIABLES, *chunk]), "for": query.geography_for}
    if query.geography_in:
        params["in"] = " ".join(query.geography_in)
    if key:
        params["key"] = key
    return params


def _mask(text: str, key: str | None) -> str:
    return text.replace(key, "***") if key else text


def _masked_log(log: Log | None, key: str | None) -> Log:
    emit = log or logger.info
    return lambda message: emit(_mask(message, key))


def _census_error(exc: LiveSourceError, query: CensusQuery, key: str | None) -> LiveSourceError:
    """The failure as this module's error type, with the key masked."""
    url, reason = _mask(exc.url, key), _mask(exc.reason, key)
    unknown = _UNKNOWN_VARIABLE.search(reason) if exc.status == 400 else None
    if unknown:
        return CensusUnknownVariableError(url, reason, unknown[1], attempts=exc.attempts)
    return LiveSourceError(url, reason, attempts=exc.attempts, status=exc.status)


def _request(
    query: CensusQuery,
    chunk: Sequence[str],
    key: str | None,
    policy: RetryPolicy,
    sleep: Sleep,
    log: Log | None,
) -> Any:
    """One chunk's parsed body; failures as the errors of this module."""
    params = request_params(query, chunk, key)
    try:
        body, _ = get_json(query.url, params, None, policy, sleep, _masked_log(log, key))
        return body
    except LiveSourceError as exc:
        error, cause = _census_error(exc, query, key), exc.__cause__
    # Raised outside the handler: the original's message holds the unmasked URL, so it must not
    # ride along as the new error's context. Its cause (the last attempt's failure) has no URL.
    raise error from cause


def _check_table(query: CensusQuery, chunk: Sequence[str], body: Any, url: str) -> CensusRows:
    """The chunk's body as text rows, after checking its shape and header."""
    if body is None:  # 204 No Content
        message = f"the geography matched nothing ({query.label}): empty response"
        raise CensusEmptyResultError(url, message)
    if not isinstance(body, list) or not body or not all(isinstance(r, list) for r in body):
        raise LiveSourceError(url, "expected a JSON array of arrays with a header row")
    header = [str(name) for name in body[0]]
    expected = (*FIXED_VARIABLES, *chunk)
    missing = tuple(name for name in expected if name not in header)
    if missing:
        known = {*expected, *query.geography_columns}
        unexpected = tuple(name for name in header if name not in known)
        raise SchemaDriftError(query.label, missing, unexpected)
    ragged = next((i for i, row in enumerate(body[1:], 1) if len(row) != len(header)), None)
    if ragged is not None:
        raise LiveSourceError(
            url, f"row {ragged} has {len(body[ragged])} values, not {len(header)}"
        )
    return [list(header), *([as_text(value) for value in row] for row in body[1:])]


def _by_geo_id(table: CensusRows, url: str) -> dict[str, dict[str, str | None]]:
    header = [str(name) for name in table[0]]
    position = header.index(GEO_ID_COLUMN)
    keyed: dict[str, dict[str, str | None]] = {}
    for row in table[1:]:
        geo_id = row[position]
        if not geo_id or geo_id in keyed:
            raise CensusJoinError(url, f"GEO_ID {geo_id!r} is blank or repeated: cannot join")
        keyed[geo_id] = dict(zip(header, row, strict=True))
    return keyed


def join_chunks(tables: Sequence[CensusRows], variables: Sequence[str], url: str) -> CensusRows:
    """One table: ``NAME, GEO_ID``, ``variables`` in order, then the first chunk's remaining
    (geography) columns; rows in the first chunk's order."""
    first = tables[0]
    keyed = [_by_geo_id(table, url) for table in tables]
    reference = set(keyed[0])
    for number, chunk in enumerate(keyed[1:], start=2):
        if set(chunk) != reference:
            only_first = sorted(str(g) for g in reference - set(chunk))
            only_here = sorted(str(g) for g in set(chunk) - reference)
            raise CensusJoinError(
                url,
                f"chunk {number} returned other geographies than chunk 1: "
                f"{len(only_first)} only in chunk 1 {only_first[:3]}, "
                f"{len(only_here)} only in chunk {number} {only_here[:3]}",
            )
    header = [*FIXED_VARIABLES, *variables]
    header += [str(name) for name in first[0] if name not in header]
    geo_ids = list(keyed[0])  # dicts keep the first chunk's row order
    merged: CensusRows = [list(header)]
    for geo_id in geo_ids:
        cells: dict[str, str | None] = {}
        for chunk in reversed(keyed):  # the first chunk's NAME and geography win
            cells.update(chunk[geo_id])
        merged.append([cells[name] for name in header])
    return merged


def fetch_acs(
    query: CensusQuery,
    variables: Sequence[str],
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Sleep = time.sleep,
    log: Log | None = None,
) -> CensusRows:
    """Every unit of the query's geography with ``variables`` (API names such as
    ``B01003_001E``), as the API's array of arrays: header ``NAME, GEO_ID, variables..., <geography
    columns>``, values as text (``None`` for null).

    Raises ``CensusUnknownVariableError`` (HTTP 400 naming a variable),
    ``CensusEmptyResultError`` (the geography matched nothing), ``SchemaDriftError`` (a
    requested variable missing from a response header), ``CensusJoinError`` (chunks disagree on
    the geographies), or ``LiveSourceError`` for any other failure.
    """
    chunks = chunk_variables(variables)
    key = api_key(query.api_key_env)
    tables = []
    for number, chunk in enumerate(chunks, start=1):
        body = _request(query, chunk, key, policy, sleep, log)
        tables.append(_check_table(query, chunk, body, query.url))
        (log or logger.info)(
            f"{query.label}: chunk {number}/{len(chunks)}, {len(body) - 1} units, "
            f"{len(chunk)} variables"
        )
    return join_chunks(tables, [v for chunk in chunks for v in chunk], query.url)


def write_census_json(rows: CensusRows, path: Path) -> Path:
    """Save rows as Census API JSON (one row a line), atomically; returns ``path``."""
    if not rows or not all(isinstance(row, list) for row in rows):
        raise ValueError("expected an array of arrays with a header row")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ",\n".join(json.dumps(row, ensure_ascii=False) for row in rows)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(f"[{lines}]\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path

"""A local HTTP server that answers like the Census Data API, with failures on demand.

Usage::

    with FakeCensus() as census:
        census.add_table(2022, "acs/acs5", tract_rows(variables, TRACTS))
        census.fail(Failure.http(503))
        ...  # CensusQuery(2022, base_url=census.data_url, ...)
        census.requests  # every request: path, params, headers

It is ``FakePortals`` (lifecycle, request log, scripted ``Failure``s) with Census routes:
``/data/<year>/<dataset>`` serves a tract table from memory. Like the real API it wants
``get`` (at most 50 names), ``for=tract:*`` (or tract codes) and ``in=state:SS county:CCC``
(predicates joined by a space, county optional), answers an unknown variable or geography with
a plain-text HTTP 400 (``error: error: unknown variable 'X'``), and a query that matches no
unit with 204 No Content. The header is the ``get`` names, then ``state, county, tract``.
One simplification: a missing or wrong key, when a key is required, is a 403.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tests.support.fake_portals import Failure, FakePortals, RecordedRequest, _Answer

__all__ = ["CensusTable", "Failure", "FakeCensus", "RecordedRequest", "tract_rows"]

MAX_GET_VARIABLES = 50
GEOGRAPHY = ("state", "county", "tract")
_KNOWN_PARAMS = frozenset({"get", "for", "in", "key"})
_PREDICATE = re.compile(r"^(?P<level>[a-z]+):(?P<codes>\*|[0-9]+(?:,[0-9]+)*)$")


@dataclass
class CensusTable:
    variables: list[str]  # names ``get`` may ask for, NAME and GEO_ID included
    rows: list[dict[str, str | None]]  # each: state, county, tract and every variable
    # Schema drift on the server side: names left out of the answer although requested.
    omitted: set[str] = field(default_factory=set)
    # Units left out of any answer that asks for the variable (chunks that disagree).
    hidden_units: dict[str, set[str]] = field(default_factory=dict)


class _CensusError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _text_answer(status: int, text: str) -> _Answer:
    return _Answer(status, text.encode())


def tract_rows(
    variables: Sequence[str], tracts: Iterable[tuple[str, str, str]]
) -> list[dict[str, str | None]]:
    """Deterministic ACS-like rows: tract ``i`` has estimate ``1000*(i+1) + j`` and margin
    ``10*(i+1) + j`` for its ``j``-th variable (names ending in ``E`` / ``M``)."""
    rows = []
    for i, (state, county, tract) in enumerate(tracts):
        row: dict[str, str | None] = {
            "NAME": f"Census Tract {int(tract) / 100:g}; County {county}; State {state}",
            "GEO_ID": f"1400000US{state}{county}{tract}",
            "state": state,
            "county": county,
            "tract": tract,
        }
        for j, name in enumerate(variables):
            base = 10 * (i + 1) if name.endswith("M") else 1000 * (i + 1)
            row[name] = str(base + j)
        rows.append(row)
    return rows


def _predicates(text: str, parameter: str) -> dict[str, set[str] | None]:
    """``state:53 county:033`` as {level: codes, None for ``*``}."""
    found: dict[str, set[str] | None] = {}
    for part in text.split():
        match = _PREDICATE.match(part)
        if match is None or match["level"] not in GEOGRAPHY:
            raise _CensusError(400, f"error: unknown/unsupported geography hierarchy ({parameter})")
        codes = match["codes"]
        found[match["level"]] = None if codes == "*" else set(codes.split(","))
    return found


def _census_answer(table: CensusTable, params: dict[str, str], required_key: str | None) -> _Answer:
    unknown = sorted(set(params) - _KNOWN_PARAMS)
    if unknown:
        raise _CensusError(400, f"error: unknown predicate variable: '{unknown[0]}'")
    if required_key is not None and params.get("key") != required_key:
        raise _CensusError(
            403, "error: Invalid Key: a valid key must be included with each request"
        )
    names = [n for n in params.get("get", "").split(",") if n]
    if not names:
        raise _CensusError(400, "error: missing 'get' parameter")
    if len(names) > MAX_GET_VARIABLES:
        raise _CensusError(
            400,
            f"error: You requested more than {MAX_GET_VARIABLES} variables "
            f"({len(names)}); please reduce the number of variables requested.",
        )
    for name in names:
        if name not in table.variables:
            raise _CensusError(400, f"error: error: unknown variable '{name}'")
    wanted_for = _predicates(params.get("for", ""), "for")
    wanted_in = _predicates(params.get("in", ""), "in")
    if list(wanted_for) != ["tract"] or "tract" in wanted_in or wanted_in.get("state") is None:
        raise _CensusError(400, "error: unknown/unsupported geography hierarchy")
    wanted = {**wanted_in, **wanted_for}
    hidden = set().union(*(table.hidden_units.get(n, set()) for n in names))
    rows = [
        row
        for row in table.rows
        if all(codes is None or row[level] in codes for level, codes in wanted.items())
        and row["GEO_ID"] not in hidden
    ]
    if not rows:
        return _Answer(204, b"")
    header = [n for n in names if n not in table.omitted] + list(GEOGRAPHY)
    body = [header, *([row.get(n) for n in header] for row in rows)]
    # One row a line, as the API writes it.
    text = "[" + ",\n".join(json.dumps(r) for r in body) + "]"
    return _Answer(200, text.encode())


class FakeCensus(FakePortals):
    """Census tables on a local server (``127.0.0.1``, free port); ``data_url`` is the
    ``base_url`` a ``CensusQuery`` takes."""

    def __init__(self, *, required_key: str | None = None) -> None:
        super().__init__()
        self.tables: dict[tuple[str, str], CensusTable] = {}
        self.required_key = required_key

    @property
    def data_url(self) -> str:
        return f"{self.base_url}/data"

    def path(self, year: int, dataset: str) -> str:
        return f"/data/{year}/{dataset.strip('/')}"

    def add_table(self, year: int, dataset: str, rows: list[dict[str, str | None]]) -> CensusTable:
        """Serve ``rows`` at ``/data/<year>/<dataset>``; the variables are every key but the
        geography columns."""
        variables = [k for k in dict.fromkeys(k for row in rows for k in row) if k not in GEOGRAPHY]
        table = CensusTable(variables, [dict(row) for row in rows])
        self.tables[(str(year), dataset.strip("/"))] = table
        return table

    def answer(self, path: str, params: dict[str, str]) -> _Answer:
        route = re.fullmatch(
            r"/data/(?P<year>[0-9]{4})/(?P<dataset>[a-z0-9]+(?:/[a-z0-9]+)*)", path
        )
        table = self.tables.get((route["year"], route["dataset"])) if route else None
        if table is None:
            return _text_answer(404, f"error: unknown dataset {path}")
        try:
            return _census_answer(table, params, self.required_key)
        except _CensusError as exc:
            return _text_answer(exc.status, str(exc))

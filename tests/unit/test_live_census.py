"""fetch_acs against a local Census Data API look-alike: chunks, keys, retries, errors, drift."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from crimemap.core.duckdb_spatial import connect
from crimemap.ingestion.census import SOCIAL_SERVICES_TABLE_SET, api_columns
from crimemap.ingestion.landing import land_census_json
from crimemap.ingestion.live.census import (
    CHUNK_VARIABLES,
    MAX_GET_VARIABLES,
    CensusEmptyResultError,
    CensusJoinError,
    CensusQuery,
    CensusUnknownVariableError,
    chunk_variables,
    fetch_acs,
    write_census_json,
)
from crimemap.ingestion.live.http import LiveSourceError, RetryPolicy, SchemaDriftError, get_json
from crimemap.quality.census import split_acs
from tests.support.fake_census import CensusTable, Failure, FakeCensus, tract_rows

YEAR, DATASET = 2022, "acs/acs5"
PATH = f"/data/{YEAR}/{DATASET}"
VARIABLES = api_columns(SOCIAL_SERVICES_TABLE_SET)
TRACTS = [
    ("53", "033", "000100"),
    ("53", "061", "040100"),  # another county: filtered out by ``in``
    ("53", "033", "000200"),
    ("06", "037", "101110"),  # another state
    ("53", "033", "026500"),
]
IN_KING = ("state:53", "county:033")
KEY = "census-key-5be1d7"
FAST = RetryPolicy(max_attempts=4, backoff_s=0.01, max_backoff_s=1.0, timeout_s=2.0)


@pytest.fixture
def census(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCensus]:
    monkeypatch.delenv("CENSUS_API_KEY", raising=False)
    with FakeCensus() as server:
        server.add_table(YEAR, DATASET, tract_rows(VARIABLES, TRACTS))
        yield server


def table(server: FakeCensus) -> CensusTable:
    return server.tables[(str(YEAR), DATASET)]


def query(server: FakeCensus, **overrides: Any) -> CensusQuery:
    fields: dict[str, Any] = {"base_url": server.data_url, "geography_in": IN_KING, **overrides}
    return CensusQuery(YEAR, **fields)


def fetch(server: FakeCensus, variables: Any = VARIABLES, **kwargs: Any) -> list[list[Any]]:
    kwargs.setdefault("policy", FAST)
    kwargs.setdefault("sleep", pytest.fail)  # a clean run never waits
    return fetch_acs(query(server, **kwargs.pop("query", {})), variables, **kwargs)


def king_county(variables: tuple[str, ...] = VARIABLES) -> list[list[str | None]]:
    """The expected merged answer: the county-033 tracts in the server's order."""
    header = ["NAME", "GEO_ID", *variables, "state", "county", "tract"]
    rows = [r for r in tract_rows(VARIABLES, TRACTS) if (r["state"], r["county"]) == ("53", "033")]
    return [header, *([row[c] for c in header] for row in rows)]


# --- chunking ----------------------------------------------------------------------------------


def test_chunk_variables_keeps_order_and_leaves_out_name_and_geo_id() -> None:
    chunks = chunk_variables(["NAME", "B01003_001E", "GEO_ID", "B01003_001E", "B01003_001M"], 1)
    assert chunks == [["B01003_001E"], ["B01003_001M"]]
    assert CHUNK_VARIABLES + 2 == MAX_GET_VARIABLES
    sizes = [len(c) for c in chunk_variables(VARIABLES)]
    assert sizes == [48, len(VARIABLES) - 48]
    with pytest.raises(ValueError, match="not Census variable names"):
        chunk_variables(["B01003_001E", "B01003 001E"])
    with pytest.raises(ValueError, match="no variables"):
        chunk_variables(["NAME"])


def test_the_server_refuses_more_than_50_variables(census: FakeCensus) -> None:
    params = {"get": ",".join(["NAME", "GEO_ID", *VARIABLES[:49]]), "for": "tract:*"}
    params["in"] = "state:53 county:033"
    with pytest.raises(LiveSourceError, match="more than 50 variables") as caught:
        get_json(census.data_url + f"/{YEAR}/{DATASET}", params, policy=FAST, sleep=pytest.fail)
    assert caught.value.status == 400


def test_the_full_table_set_is_fetched_in_chunks_and_joined(census: FakeCensus) -> None:
    assert len(VARIABLES) + 2 > MAX_GET_VARIABLES  # the point of the test
    rows = fetch(census)
    assert rows == king_county()
    requests = census.requests_to(PATH)
    assert len(requests) == 2
    asked = [r.params["get"].split(",") for r in requests]
    assert all(len(names) <= MAX_GET_VARIABLES for names in asked)
    assert all(names[:2] == ["NAME", "GEO_ID"] for names in asked)
    assert [v for names in asked for v in names[2:]] == list(VARIABLES)
    assert {(r.params["for"], r.params["in"]) for r in requests} == {
        ("tract:*", "state:53 county:033")
    }


def test_chunks_are_joined_on_geo_id_not_position(census: FakeCensus) -> None:
    # Serve chunk 2's rows in reverse order: a positional join would mix up the tracts.
    original = census.answer

    def reversed_second_chunk(path: str, params: dict[str, str]) -> Any:
        answer = original(path, params)
        if VARIABLES[-1] in params.get("get", ""):
            header, *rows = json.loads(answer.body)
            answer.body = json.dumps([header, *reversed(rows)]).encode()
        return answer

    census.answer = reversed_second_chunk  # type: ignore[method-assign]
    assert fetch(census) == king_county()


def test_chunks_that_disagree_on_geographies_fail(census: FakeCensus) -> None:
    table(census).hidden_units = {VARIABLES[-1]: {"1400000US53033000200"}}
    with pytest.raises(CensusJoinError, match=r"chunk 2 .*1400000US53033000200"):
        fetch(census)


def test_a_few_variables_take_one_request(census: FakeCensus) -> None:
    rows = fetch(census, ["B01003_001E", "B01003_001M"])
    assert rows == king_county(("B01003_001E", "B01003_001M"))
    assert len(census.requests) == 1


# --- the key -----------------------------------------------------------------------------------


def test_no_key_param_without_the_environment_variable(census: FakeCensus) -> None:
    fetch(census, ["B01003_001E"])
    assert "key" not in census.requests[0].params


def test_the_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENSUS_API_KEY", KEY)
    with FakeCensus(required_key=KEY) as server:
        server.add_table(YEAR, DATASET, tract_rows(VARIABLES, TRACTS))
        assert fetch(server) == king_county()
        assert [r.params["key"] for r in server.requests] == [KEY, KEY]


def test_a_refused_key_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENSUS_API_KEY", KEY)
    lines: list[str] = []
    with FakeCensus(required_key="another-key") as server:
        server.add_table(YEAR, DATASET, tract_rows(VARIABLES, TRACTS))
        server.fail(Failure.http(503))
        with pytest.raises(LiveSourceError, match="HTTP 403") as caught:
            fetch(server, sleep=lambda _: None, log=lines.append)
    assert KEY not in str(caught.value)
    assert "key=***" in str(caught.value)
    assert caught.value.__context__ is None
    assert lines and not any(KEY in line for line in lines)


# --- failures ----------------------------------------------------------------------------------


def test_503_is_retried(census: FakeCensus) -> None:
    census.fail(Failure.http(503), Failure.http(503))
    sleeps: list[float] = []
    assert fetch(census, sleep=sleeps.append) == king_county()
    assert sleeps == [0.01, 0.02]
    assert len(census.requests) == 4  # two failures, then both chunks


def test_an_unknown_variable_names_the_variable(census: FakeCensus) -> None:
    with pytest.raises(
        CensusUnknownVariableError, match="unknown variable 'B99999_001E'"
    ) as caught:
        fetch(census, ["B01003_001E", "B99999_001E"])
    assert caught.value.variable == "B99999_001E"
    assert caught.value.status == 400
    assert caught.value.attempts == 1  # a 400 is not retried
    assert len(census.requests) == 1


def test_a_geography_that_matches_nothing(census: FakeCensus) -> None:
    empty = {"geography_in": ("state:53", "county:999")}
    with pytest.raises(CensusEmptyResultError, match="geography matched nothing") as caught:
        fetch(census, ["B01003_001E"], query=empty, sleep=lambda _: None)
    assert "county:999" in str(caught.value)


def test_a_requested_variable_missing_from_the_answer_is_drift(census: FakeCensus) -> None:
    table(census).omitted = {"B17001_002M"}
    with pytest.raises(SchemaDriftError, match="B17001_002M") as caught:
        fetch(census)
    assert caught.value.missing == ("B17001_002M",)


def test_a_bad_geography_predicate_is_refused_before_any_request() -> None:
    with pytest.raises(ValueError, match="geography predicate"):
        CensusQuery(YEAR, geography_in=("state=53",))


# --- saved responses land like files -----------------------------------------------------------


def test_a_saved_response_lands_and_splits(census: FakeCensus, tmp_path: Path) -> None:
    rows = fetch(census)
    saved = write_census_json(rows, tmp_path / "acs_5yr_tract.json")
    landed = land_census_json(saved, tmp_path / "raw.parquet", load_id="live-1")
    frame = pl.read_parquet(landed.path)
    assert frame.columns[: len(rows[0])] == rows[0]
    assert frame.height == len(rows) - 1
    assert frame["GEO_ID"].to_list() == [r[1] for r in rows[1:]]
    assert frame["tract"].to_list() == ["000100", "000200", "026500"]  # zeros kept
    with connect() as con:
        result = split_acs(
            con,
            "social_services",
            raw_parquet=landed.path,
            quarantine_path=tmp_path / "quarantine.parquet",
            conformed_path=tmp_path / "conformed.parquet",
        )
        geoids = con.execute(
            f"SELECT DISTINCT geoid FROM read_parquet('{tmp_path / 'conformed.parquet'}') "
            "ORDER BY 1"
        ).fetchall()
    assert (result.raw_rows, result.clean_rows, result.quarantined_rows) == (3, 3, 0)
    assert geoids == [("53033000100",), ("53033000200",), ("53033026500",)]


def test_write_census_json_refuses_a_non_table(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="array of arrays"):
        write_census_json([], tmp_path / "x.json")

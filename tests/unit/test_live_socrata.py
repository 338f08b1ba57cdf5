"""fetch_socrata against a local SODA 2.x look-alike: paging, windows, tokens, retries, drift."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crimemap.ingestion.live.http import LiveSourceError, RetryPolicy, SchemaDriftError, get_json
from crimemap.ingestion.live.schema import as_text
from crimemap.ingestion.live.socrata import SocrataDataset, fetch_socrata, socrata_where
from tests.support.fake_portals import Failure, FakePortals

DATASET_ID = "tazs-3rd5"
PATH = f"/resource/{DATASET_ID}.json"
DATE_FIELD = "offense_start_datetime"
FIELDS = (
    "report_number",
    "offense_id",
    DATE_FIELD,
    "offense_parent_group",
    "precinct",
    "longitude",
    "latitude",
)
FAST = RetryPolicy(max_attempts=5, backoff_s=0.01, max_backoff_s=5.0, timeout_s=2.0)
FIRST_HOUR = datetime(2024, 6, 1)
TOKEN = "tok-secret-4f2a9c"


def incidents(n: int) -> list[dict[str, Any]]:
    """One incident an hour from 2024-06-01T00:00, as Socrata serves them (all text)."""
    return [
        {
            "report_number": f"2024-{i:06d}",
            "offense_id": str(10_000 + i),
            DATE_FIELD: (FIRST_HOUR + timedelta(hours=i)).isoformat(timespec="milliseconds"),
            "offense_parent_group": "LARCENY-THEFT",
            "precinct": "NORTH",
            "longitude": "-122.33",
            "latitude": "47.61",
        }
        for i in range(n)
    ]


def dataset(portals: FakePortals, **overrides: Any) -> SocrataDataset:
    fields: dict[str, Any] = {"expected_fields": FIELDS, "page_size": 1000, **overrides}
    return SocrataDataset(portals.base_url, DATASET_ID, DATE_FIELD, **fields)


def fetch_all(ds: SocrataDataset, **kwargs: Any) -> list[list[dict[str, str | None]]]:
    kwargs.setdefault("policy", FAST)
    kwargs.setdefault("sleep", pytest.fail)  # a clean run never waits
    return list(fetch_socrata(ds, **kwargs))


@pytest.fixture
def portals(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePortals]:
    monkeypatch.delenv("SOCRATA_APP_TOKEN", raising=False)
    with FakePortals() as server:
        yield server


# --- the $where window ----------------------------------------------------------------------


def test_socrata_where_is_a_half_open_floating_window() -> None:
    july, august = datetime(2024, 7, 1), datetime(2024, 8, 1)
    assert socrata_where(DATE_FIELD, july, august) == (
        "offense_start_datetime >= '2024-07-01T00:00:00' "
        "AND offense_start_datetime < '2024-08-01T00:00:00'"
    )
    assert (
        socrata_where(DATE_FIELD, july, None) == "offense_start_datetime >= '2024-07-01T00:00:00'"
    )
    assert (
        socrata_where(DATE_FIELD, None, august) == "offense_start_datetime < '2024-08-01T00:00:00'"
    )
    assert socrata_where(DATE_FIELD, None, None) is None
    assert socrata_where(":updated_at", july, None) == ":updated_at >= '2024-07-01T00:00:00'"
    assert socrata_where("d", datetime(2024, 7, 1, 8, 30, 0, 250_000), None) == (
        "d >= '2024-07-01T08:30:00.250'"
    )


def test_socrata_where_refuses_zones_and_odd_field_names() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        socrata_where(DATE_FIELD, datetime(2024, 7, 1, tzinfo=UTC), None)
    with pytest.raises(ValueError, match="not a Socrata field name"):
        socrata_where("x' OR '1'='1", datetime(2024, 7, 1), None)


def test_a_month_window_is_sent_and_honoured(portals: FakePortals) -> None:
    portals.add_socrata(DATASET_ID, incidents(2345), date_field=DATE_FIELD)
    pages = fetch_all(dataset(portals), start=datetime(2024, 7, 1), end=datetime(2024, 8, 1))

    rows = [row for page in pages for row in page]
    assert len(rows) == 31 * 24  # one an hour, July only
    assert rows[0][DATE_FIELD] == "2024-07-01T00:00:00.000"  # start is inclusive
    assert rows[-1][DATE_FIELD] == "2024-07-31T23:00:00.000"  # end is exclusive
    (request,) = portals.requests_to(PATH)
    assert request.params["$where"] == socrata_where(
        DATE_FIELD, datetime(2024, 7, 1), datetime(2024, 8, 1)
    )


# --- paging -------------------------------------------------------------------------------


def test_pages_past_the_1000_row_default_with_stable_order(portals: FakePortals) -> None:
    portals.add_socrata(DATASET_ID, incidents(2345), date_field=DATE_FIELD)
    lines: list[str] = []
    pages = fetch_all(dataset(portals), log=lines.append)

    assert [len(page) for page in pages] == [1000, 1000, 345]
    numbers = [row["report_number"] for page in pages for row in page]
    assert len(numbers) == len(set(numbers)) == 2345  # every row once, none twice
    requests = portals.requests_to(PATH)
    assert len(requests) == 3
    assert [r.params["$offset"] for r in requests] == ["0", "1000", "2000"]
    assert all(r.params["$limit"] == "1000" and r.params["$order"] == ":id" for r in requests)
    assert all("$where" not in r.params for r in requests)
    assert [line.rsplit(": ", 1)[1] for line in lines] == [
        "1000 rows so far",
        "2000 rows so far",
        "2345 rows so far",
    ]


def test_an_exact_multiple_of_the_page_size_ends_on_an_empty_page(portals: FakePortals) -> None:
    portals.add_socrata(DATASET_ID, incidents(2000), date_field=DATE_FIELD)
    pages = fetch_all(dataset(portals))
    assert [len(page) for page in pages] == [1000, 1000]
    assert len(portals.requests_to(PATH)) == 3


def test_the_fake_serves_1000_rows_when_no_limit_is_sent(portals: FakePortals) -> None:
    """Why $limit is always sent: the real API quietly stops at 1,000 without it."""
    portals.add_socrata(DATASET_ID, incidents(2345), date_field=DATE_FIELD)
    body, _ = get_json(portals.base_url + PATH, {"$order": ":id"})
    assert len(body) == 1000


# --- values -------------------------------------------------------------------------------


def test_every_value_lands_as_text_and_nulls_are_omitted_by_socrata(portals: FakePortals) -> None:
    point = {"type": "Point", "coordinates": [-122.33, 47.61]}
    row = {
        "report_number": "2024-000001",
        "offense_id": 10001,
        DATE_FIELD: "2024-07-04T21:15:00.000",
        "is_domestic": True,
        "reviewed": False,
        "location": point,
        "beat": None,
        "ratio": 0.25,
    }
    portals.add_socrata(DATASET_ID, [row], date_field=DATE_FIELD)
    (page,) = fetch_all(dataset(portals, expected_fields=()))
    assert page == [
        {
            "report_number": "2024-000001",
            "offense_id": "10001",
            DATE_FIELD: "2024-07-04T21:15:00.000",
            "is_domestic": "true",
            "reviewed": "false",
            "location": '{"type":"Point","coordinates":[-122.33,47.61]}',
            "ratio": "0.25",
        }
    ]
    assert json.loads(page[0]["location"] or "") == point
    assert as_text(None) is None


# --- app token ----------------------------------------------------------------------------


def test_app_token_header_is_sent_when_the_variable_is_set(
    portals: FakePortals, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCRATA_APP_TOKEN", TOKEN)
    portals.add_socrata(DATASET_ID, incidents(1500), date_field=DATE_FIELD)
    fetch_all(dataset(portals))
    requests = portals.requests_to(PATH)
    assert len(requests) == 2
    assert all(r.headers.get("x-app-token") == TOKEN for r in requests)
    assert all(TOKEN not in json.dumps(r.params) for r in requests)  # never in the URL


@pytest.mark.parametrize("value", [None, "", "   "])
def test_no_app_token_header_without_a_token(
    portals: FakePortals, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is not None:
        monkeypatch.setenv("SOCRATA_APP_TOKEN", value)
    portals.add_socrata(DATASET_ID, incidents(10), date_field=DATE_FIELD)
    fetch_all(dataset(portals))
    assert all("x-app-token" not in r.headers for r in portals.requests_to(PATH))


def test_the_token_variable_is_configurable(
    portals: FakePortals, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEATTLE_APP_TOKEN", TOKEN)
    portals.add_socrata(DATASET_ID, incidents(10), date_field=DATE_FIELD)
    fetch_all(dataset(portals, app_token_env="SEATTLE_APP_TOKEN"))
    assert portals.requests_to(PATH)[0].headers["x-app-token"] == TOKEN


# --- failures -----------------------------------------------------------------------------


def test_failures_mid_paging_are_retried_and_no_row_is_lost_or_repeated(
    portals: FakePortals,
) -> None:
    portals.add_socrata(DATASET_ID, incidents(2345), date_field=DATE_FIELD)
    policy = RetryPolicy(max_attempts=6, backoff_s=0.01, max_backoff_s=5.0, timeout_s=0.3)
    sleeps: list[float] = []
    pages = fetch_socrata(dataset(portals), policy=policy, sleep=sleeps.append, log=lambda _: None)

    first = next(pages)
    portals.fail(  # all hit the request for the second page
        Failure.http(429, retry_after=1),
        Failure.http(500),
        Failure.http(503),
        Failure.delay(1.0),
        Failure.truncated(),
    )
    rest = list(pages)

    assert sleeps == [1.0, 0.02, 0.04, 0.08, 0.16]  # Retry-After, then the doubling schedule
    numbers = [row["report_number"] for page in [first, *rest] for row in page]
    assert numbers == [f"2024-{i:06d}" for i in range(2345)]
    offsets = [r.params["$offset"] for r in portals.requests_to(PATH)]
    assert offsets == ["0", *["1000"] * 6, "2000"]


def test_giving_up_names_the_url_and_status_but_never_the_token(
    portals: FakePortals, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCRATA_APP_TOKEN", TOKEN)
    portals.add_socrata(DATASET_ID, incidents(10), date_field=DATE_FIELD)
    portals.fail(*[Failure.http(503)] * 5)
    lines: list[str] = []
    sleeps: list[float] = []
    with pytest.raises(LiveSourceError) as caught:
        fetch_all(dataset(portals), sleep=sleeps.append, log=lines.append)

    message = str(caught.value)
    assert f"{portals.base_url}{PATH}" in message
    assert "HTTP 503" in message and "5 attempts" in message
    assert all(TOKEN not in text for text in [message, *lines])
    assert len(portals.requests_to(PATH)) == 5 and len(sleeps) == 4


def test_a_rejected_query_is_not_retried(portals: FakePortals) -> None:
    """The window names a column the publisher dropped: Socrata answers 400, asking again
    would not help."""
    portals.add_socrata(DATASET_ID, incidents(10), date_field=DATE_FIELD)
    portals.rename_socrata_field(DATASET_ID, DATE_FIELD, "offense_date")
    with pytest.raises(LiveSourceError, match=r"HTTP 400.*No such column: offense_start_datetime"):
        fetch_all(dataset(portals), start=datetime(2024, 6, 1))
    assert len(portals.requests_to(PATH)) == 1


# --- schema drift -------------------------------------------------------------------------


def test_a_renamed_field_is_schema_drift(portals: FakePortals) -> None:
    portals.add_socrata(DATASET_ID, incidents(1500), date_field=DATE_FIELD)
    portals.rename_socrata_field(DATASET_ID, "offense_parent_group", "offense_category")
    with pytest.raises(SchemaDriftError) as caught:
        fetch_all(dataset(portals))

    error = caught.value
    assert error.missing == ("offense_parent_group",)
    assert error.unexpected == ("offense_category",)
    assert DATASET_ID in str(error)
    assert "offense_parent_group" in str(error) and "offense_category" in str(error)
    assert len(portals.requests_to(PATH)) == 1  # found on the first page, nothing yielded


def test_new_and_system_fields_alone_are_not_drift(portals: FakePortals) -> None:
    rows = [
        {**row, ":@computed_region_ru88_fbhk": "14", "nibrs_code": "23H"} for row in incidents(3)
    ]
    portals.add_socrata(DATASET_ID, rows, date_field=DATE_FIELD)
    (page,) = fetch_all(dataset(portals))
    assert page[0]["nibrs_code"] == "23H"


def test_without_the_fields_header_omitted_nulls_are_fine(portals: FakePortals) -> None:
    rows = incidents(3)
    del rows[1]["precinct"], rows[2]["latitude"]  # Socrata drops null fields from rows
    portals.add_socrata(
        DATASET_ID, rows, date_field=DATE_FIELD, fields=list(FIELDS), send_fields_header=False
    )
    (page,) = fetch_all(dataset(portals))
    assert "precinct" not in page[1]


def test_without_the_fields_header_an_unknown_key_is_drift(portals: FakePortals) -> None:
    rows = [{**row, "offense_category": "THEFT"} for row in incidents(3)]
    portals.add_socrata(DATASET_ID, rows, date_field=DATE_FIELD, send_fields_header=False)
    with pytest.raises(SchemaDriftError, match="offense_category") as caught:
        fetch_all(dataset(portals))
    assert caught.value.missing == ()
    assert caught.value.unexpected == ("offense_category",)


def test_no_expected_fields_means_no_drift_check(portals: FakePortals) -> None:
    portals.add_socrata(DATASET_ID, incidents(3), date_field=DATE_FIELD)
    portals.rename_socrata_field(DATASET_ID, "precinct", "district")
    (page,) = fetch_all(dataset(portals, expected_fields=()))
    assert page[0]["district"] == "NORTH"

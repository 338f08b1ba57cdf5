"""fetch_arcgis against a local FeatureServer look-alike: metadata, paging, dates, errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from crimemap.ingestion.live.arcgis import ArcGISLayer, arcgis_where, epoch_ms_to_iso, fetch_arcgis
from crimemap.ingestion.live.http import LiveSourceError, RetryPolicy, SchemaDriftError
from tests.support.fake_portals import Failure, FakePortals

LAYER_PATH = "/arcgis/rest/services/SPD/Crime/FeatureServer/0"
QUERY_PATH = f"{LAYER_PATH}/query"
FIELDS = [
    ("report_number", "esriFieldTypeString"),
    ("offense", "esriFieldTypeString"),
    ("occurred", "esriFieldTypeDate"),
    ("victims", "esriFieldTypeInteger"),
]
EXPECTED = ("OBJECTID", "report_number", "offense", "occurred", "victims")
FAST = RetryPolicy(max_attempts=5, backoff_s=0.01, max_backoff_s=5.0, timeout_s=2.0)
FIRST_HOUR = datetime(2024, 6, 1)  # naive = UTC, as ArcGIS stores dates


def features(n: int) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """One incident an hour from 2024-06-01T00:00Z, each a point."""
    return [
        (
            {
                "report_number": f"2024-{i:06d}",
                "offense": "BURGLARY",
                "occurred": FIRST_HOUR + timedelta(hours=i),
                "victims": i % 3,
            },
            {"x": -122.3 + i / 100_000, "y": 47.6},
        )
        for i in range(n)
    ]


def layer(portals: FakePortals, **overrides: Any) -> ArcGISLayer:
    fields: dict[str, Any] = {"expected_fields": EXPECTED, **overrides}
    return ArcGISLayer(portals.base_url + LAYER_PATH, "occurred", **fields)


def fetch_all(lyr: ArcGISLayer, **kwargs: Any) -> list[list[dict[str, str | None]]]:
    kwargs.setdefault("policy", FAST)
    kwargs.setdefault("sleep", pytest.fail)
    kwargs.setdefault("log", lambda _: None)
    return list(fetch_arcgis(lyr, **kwargs))


@pytest.fixture
def portals() -> Iterator[FakePortals]:
    with FakePortals() as server:
        yield server


def test_arcgis_where_combines_the_layer_filter_with_a_utc_window() -> None:
    lyr = ArcGISLayer("https://x/FeatureServer/0", "occurred")
    july, august = datetime(2024, 7, 1), datetime(2024, 8, 1)
    assert arcgis_where(lyr, None, None) == "1=1"
    assert arcgis_where(lyr, july, august) == (
        "occurred >= TIMESTAMP '2024-07-01 00:00:00' AND occurred < TIMESTAMP '2024-08-01 00:00:00'"
    )
    pacific = timezone(timedelta(hours=-7))
    filtered = ArcGISLayer("https://x/FeatureServer/0", "occurred", where="precinct = 'N'")
    assert arcgis_where(filtered, datetime(2024, 7, 1, tzinfo=pacific), None) == (
        "(precinct = 'N') AND occurred >= TIMESTAMP '2024-07-01 07:00:00'"
    )
    assert arcgis_where(filtered, None, None) == "(precinct = 'N')"


def test_pages_while_the_transfer_limit_is_exceeded(portals: FakePortals) -> None:
    portals.add_arcgis(
        LAYER_PATH, FIELDS, features(4500), date_field="occurred", max_record_count=2000
    )
    pages = fetch_all(layer(portals))

    assert [len(page) for page in pages] == [2000, 2000, 500]
    ids = [row["OBJECTID"] for page in pages for row in page]
    assert ids == [str(i) for i in range(1, 4501)]
    assert portals.requests[0].path == LAYER_PATH  # metadata first
    assert portals.requests[0].params == {"f": "json"}
    queries = portals.requests_to(QUERY_PATH)
    assert [q.params["resultOffset"] for q in queries] == ["0", "2000", "4000"]
    first = queries[0].params
    assert first["resultRecordCount"] == "2000"
    assert first["orderByFields"] == "OBJECTID"
    assert (first["outFields"], first["outSR"], first["f"], first["where"]) == (
        "*",
        "4326",
        "json",
        "1=1",
    )


def test_a_smaller_max_record_count_sets_the_page_size(portals: FakePortals) -> None:
    portals.add_arcgis(
        LAYER_PATH, FIELDS, features(4500), date_field="occurred", max_record_count=1000
    )
    pages = fetch_all(layer(portals, page_size=2000))
    assert [len(page) for page in pages] == [1000] * 4 + [500]
    queries = portals.requests_to(QUERY_PATH)
    assert {q.params["resultRecordCount"] for q in queries} == {"1000"}


def test_without_the_transfer_flag_a_full_page_means_more(portals: FakePortals) -> None:
    portals.add_arcgis(
        LAYER_PATH,
        FIELDS,
        features(2000),
        date_field="occurred",
        max_record_count=1000,
        report_transfer_limit=False,
    )
    pages = fetch_all(layer(portals))
    assert [len(page) for page in pages] == [1000, 1000]
    assert len(portals.requests_to(QUERY_PATH)) == 3  # the third comes back empty


def test_dates_become_iso_utc_and_points_become_coordinates(portals: FakePortals) -> None:
    rows = features(2345)
    rows.append(({"report_number": "2024-NOGEOM", "occurred": datetime(2024, 7, 9)}, None))
    rows.append(
        (
            {"report_number": "2024-EMPTYPT", "occurred": datetime(2024, 7, 10)},
            {"x": "NaN", "y": "NaN"},
        )
    )
    portals.add_arcgis(LAYER_PATH, FIELDS, rows, date_field="occurred")
    pages = fetch_all(layer(portals), start=datetime(2024, 7, 1), end=datetime(2024, 8, 1))

    july = [row for page in pages for row in page]
    assert len(july) == 31 * 24 + 2
    first = july[0]
    assert first == {
        "OBJECTID": "721",
        "report_number": "2024-000720",
        "offense": "BURGLARY",
        "occurred": "2024-07-01T00:00:00+00:00",
        "victims": "0",
        "geometry_x": str(-122.3 + 720 / 100_000),
        "geometry_y": "47.6",
    }
    assert july[-3]["occurred"] == "2024-07-31T23:00:00+00:00"
    no_geometry = next(r for r in july if r["report_number"] == "2024-NOGEOM")
    assert "geometry_x" not in no_geometry
    empty_point = next(r for r in july if r["report_number"] == "2024-EMPTYPT")
    assert (empty_point["geometry_x"], empty_point["geometry_y"]) == (None, None)
    where = portals.requests_to(QUERY_PATH)[0].params["where"]
    assert where == arcgis_where(layer(portals), datetime(2024, 7, 1), datetime(2024, 8, 1))


def test_epoch_ms_to_iso() -> None:
    assert epoch_ms_to_iso(0) == "1970-01-01T00:00:00+00:00"
    assert epoch_ms_to_iso(1_719_792_000_999) == "2024-07-01T00:00:00+00:00"
    assert epoch_ms_to_iso(-86_400_000) == "1969-12-31T00:00:00+00:00"
    assert epoch_ms_to_iso(None) is None
    assert epoch_ms_to_iso("2024-07-01") == "2024-07-01"


def test_orders_by_the_layers_object_id_field(portals: FakePortals) -> None:
    portals.add_arcgis(
        LAYER_PATH, FIELDS, features(5), date_field="occurred", object_id_field="FID"
    )
    (page,) = fetch_all(layer(portals, expected_fields=()))
    assert portals.requests_to(QUERY_PATH)[0].params["orderByFields"] == "FID"
    assert [row["FID"] for row in page] == ["1", "2", "3", "4", "5"]


def test_errors_sent_as_200_are_retried_when_transient(portals: FakePortals) -> None:
    portals.add_arcgis(
        LAYER_PATH, FIELDS, features(2500), date_field="occurred", max_record_count=1000
    )
    portals.fail(Failure.arcgis_error(503, "Service busy"), Failure.arcgis_error(500))  # metadata
    sleeps: list[float] = []
    lines: list[str] = []
    pages = fetch_arcgis(layer(portals), policy=FAST, sleep=sleeps.append, log=lines.append)
    first = next(pages)
    portals.fail(Failure.arcgis_error(429, "Too many requests"), Failure.http(502))  # 2nd page
    rest = list(pages)

    assert sleeps == [0.01, 0.02, 0.01, 0.02]
    assert "error 503 in response body: Service busy" in lines[0]
    ids = [row["OBJECTID"] for page in [first, *rest] for row in page]
    assert ids == [str(i) for i in range(1, 2501)]


def test_a_non_transient_error_body_is_raised_at_once(portals: FakePortals) -> None:
    portals.add_arcgis(LAYER_PATH, FIELDS, features(5), date_field="occurred")
    portals.fail(Failure.ok(), Failure.arcgis_error(498, "Invalid token."))  # metadata is fine
    with pytest.raises(
        LiveSourceError, match="error 498 in response body: Invalid token"
    ) as caught:
        fetch_all(layer(portals))
    assert (caught.value.status, caught.value.attempts) == (498, 1)
    assert len(portals.requests_to(QUERY_PATH)) == 1


def test_an_invalid_where_reports_the_servers_details(portals: FakePortals) -> None:
    portals.add_arcgis(LAYER_PATH, FIELDS, features(5), date_field="occurred")
    with pytest.raises(
        LiveSourceError, match=r"Invalid query parameters.*'where' parameter is invalid"
    ):
        fetch_all(layer(portals, where="offense LIKE 'BURG%'"))
    assert len(portals.requests_to(QUERY_PATH)) == 1


def test_a_wrong_layer_url_is_not_retried(portals: FakePortals) -> None:
    portals.add_arcgis(LAYER_PATH, FIELDS, features(5), date_field="occurred")
    wrong = ArcGISLayer(
        portals.base_url + "/arcgis/rest/services/SPD/Crime/FeatureServer/7", "occurred"
    )
    with pytest.raises(LiveSourceError, match="Invalid URL"):
        fetch_all(wrong)
    assert len(portals.requests) == 1


def test_a_renamed_field_is_schema_drift_before_any_query(portals: FakePortals) -> None:
    portals.add_arcgis(LAYER_PATH, FIELDS, features(5), date_field="occurred")
    portals.rename_arcgis_field(LAYER_PATH, "offense", "offense_type")
    with pytest.raises(SchemaDriftError) as caught:
        fetch_all(layer(portals))
    assert caught.value.missing == ("offense",)
    assert caught.value.unexpected == ("offense_type",)
    assert LAYER_PATH in str(caught.value) and "offense_type" in str(caught.value)
    assert portals.requests_to(QUERY_PATH) == []

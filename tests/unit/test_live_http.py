"""get_json against a real local HTTP server: what is retried, how long it waits, what it says."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator

import pytest

from crimemap.ingestion.live.http import (
    LiveSourceError,
    RetryPolicy,
    backoff_delay,
    display_url,
    error_message,
    get_json,
    parse_retry_after,
)
from tests.support.fake_portals import Failure, FakePortals

FAST = RetryPolicy(max_attempts=5, backoff_s=0.01, max_backoff_s=5.0, timeout_s=2.0)
ROWS = [{"report_number": f"2024-{i:06d}", "offense": "THEFT"} for i in range(5)]
DATASET = "abcd-1234"
PATH = f"/resource/{DATASET}.json"


@pytest.fixture
def portals() -> Iterator[FakePortals]:
    with FakePortals() as server:
        server.add_socrata(DATASET, ROWS, date_field="report_number")
        yield server


def test_returns_parsed_json_and_headers(portals: FakePortals) -> None:
    body, headers = get_json(portals.base_url + PATH, {"$limit": 2}, sleep=pytest.fail)
    assert body == ROWS[:2]
    assert headers["x-soda2-fields"] == headers["X-SODA2-Fields"] == '["report_number", "offense"]'
    assert portals.requests_to(PATH)[0].params == {"$limit": "2"}


def test_429_waits_as_long_as_retry_after_says(portals: FakePortals) -> None:
    portals.fail(Failure.http(429, retry_after=2))
    sleeps: list[float] = []
    body, _ = get_json(portals.base_url + PATH, None, policy=FAST, sleep=sleeps.append)
    assert body == ROWS
    assert sleeps == [2.0]
    assert len(portals.requests) == 2


def test_503_retry_after_is_honoured_but_capped(portals: FakePortals) -> None:
    portals.fail(Failure.http(503, retry_after=120))
    sleeps: list[float] = []
    get_json(portals.base_url + PATH, None, policy=FAST, sleep=sleeps.append)
    assert sleeps == [FAST.max_backoff_s]


def test_retry_after_on_a_500_is_not_a_rate_limit(portals: FakePortals) -> None:
    portals.fail(Failure.http(500, retry_after=7))
    sleeps: list[float] = []
    get_json(portals.base_url + PATH, None, policy=FAST, sleep=sleeps.append)
    assert sleeps == [FAST.backoff_s]


@pytest.mark.parametrize(
    "failure",
    [
        Failure.http(429),
        Failure.http(500),
        Failure.http(502),
        Failure.http(503),
        Failure.http(504),
        Failure.delay(1.0),
        Failure.truncated(),
        Failure.truncated(declare_full_length=False),
        Failure.disconnect(),
    ],
    ids=lambda f: f"{f.kind}-{f.status}-{f.declare_full_length}",
)
def test_transient_failures_are_retried_until_complete_data(
    portals: FakePortals, failure: Failure
) -> None:
    policy = RetryPolicy(max_attempts=3, backoff_s=0.01, timeout_s=0.3)
    portals.fail(failure)
    sleeps: list[float] = []
    lines: list[str] = []
    body, _ = get_json(
        portals.base_url + PATH, None, policy=policy, sleep=sleeps.append, log=lines.append
    )
    assert body == ROWS
    assert sleeps == [0.01]
    assert len(portals.requests) == 2
    assert len(lines) == 1 and "retrying in 0.01s (attempt 1/3)" in lines[0]


def test_backoff_doubles_then_gives_up_naming_url_status_and_attempts(
    portals: FakePortals,
) -> None:
    portals.fail(*[Failure.http(500)] * 5)
    sleeps: list[float] = []
    with pytest.raises(LiveSourceError) as caught:
        get_json(portals.base_url + PATH, {"$limit": 10}, policy=FAST, sleep=sleeps.append)
    assert sleeps == [0.01, 0.02, 0.04, 0.08]  # no pointless wait after the last attempt
    assert len(portals.requests) == 5
    error = caught.value
    assert (error.status, error.attempts) == (500, 5)
    message = str(error)
    assert f"{portals.base_url}{PATH}?$limit=10" in message
    assert "HTTP 500" in message
    assert "5 attempts" in message


def test_a_rejected_query_is_not_retried_and_says_why(portals: FakePortals) -> None:
    sleeps: list[float] = []
    with pytest.raises(LiveSourceError) as caught:
        get_json(
            portals.base_url + PATH, {"$where": "drop table"}, policy=FAST, sleep=sleeps.append
        )
    assert sleeps == []
    assert len(portals.requests) == 1
    assert caught.value.status == 400
    assert caught.value.attempts == 1
    assert "HTTP 400" in str(caught.value)
    assert "Could not parse SoQL query" in str(caught.value)  # the body's message


def test_not_found_is_not_retried(portals: FakePortals) -> None:
    with pytest.raises(LiveSourceError, match=r"HTTP 404.*Dataset zzzz-9999 not found"):
        get_json(
            portals.base_url + "/resource/zzzz-9999.json", None, policy=FAST, sleep=pytest.fail
        )
    assert len(portals.requests) == 1


def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=3, backoff_s=0.01, timeout_s=0.5)
    with pytest.raises(LiveSourceError, match="after 3 attempts: network error") as caught:
        get_json(
            f"http://127.0.0.1:{port}/resource/x.json", None, policy=policy, sleep=sleeps.append
        )
    assert caught.value.status is None
    assert sleeps == [0.01, 0.02]


def test_body_error_hook_turns_a_200_into_a_status(portals: FakePortals) -> None:
    verdicts: list[tuple[int, str] | None] = [(503, "busy"), None]

    def flaky_once(body: object) -> tuple[int, str] | None:
        return verdicts.pop(0)

    sleeps: list[float] = []
    body, _ = get_json(
        portals.base_url + PATH, None, policy=FAST, sleep=sleeps.append, body_error=flaky_once
    )
    assert body == ROWS and sleeps == [0.01]

    with pytest.raises(LiveSourceError, match="error 403 in response body: no") as caught:
        get_json(portals.base_url + PATH, None, policy=FAST, body_error=lambda _: (403, "no"))
    assert caught.value.attempts == 1


def test_backoff_delay_is_exponential_capped_and_seedable() -> None:
    policy = RetryPolicy(backoff_s=0.5, max_backoff_s=30.0)
    assert [backoff_delay(policy, n) for n in range(1, 9)] == [
        0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0,
    ]  # fmt: skip
    assert backoff_delay(policy, 3, retry_after=0.0) == 0.0
    assert backoff_delay(policy, 1, retry_after=90.0) == 30.0

    jittery = RetryPolicy(backoff_s=1.0, jitter=0.25, seed=7)
    first = [backoff_delay(jittery, n, rng=random.Random(7)) for n in (1, 2, 3)]
    again = [backoff_delay(jittery, n, rng=random.Random(7)) for n in (1, 2, 3)]
    assert first == again
    assert all(base <= d <= base * 1.25 for base, d in zip((1, 2, 4), first, strict=True))


def test_helpers() -> None:
    assert parse_retry_after(" 3 ") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after(None) is None
    assert display_url("https://x/resource/a.json", {"$$app_token": "s3cret", "$limit": 5}) == (
        "https://x/resource/a.json?$$app_token=***&$limit=5"
    )
    assert error_message(b'{"code":"query.compiler.malformed","error":true,"message":"bad"}') == (
        "bad"
    )
    assert error_message(b'{"error":{"code":400,"message":"Invalid URL","details":[]}}') == (
        "Invalid URL"
    )
    assert error_message(b"<html>Bad Gateway</html>") == "<html>Bad Gateway</html>"

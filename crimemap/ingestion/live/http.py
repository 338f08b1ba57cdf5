"""JSON over HTTP for the live portals: retries, backoff, and errors that say what failed.

Standard library only. The portals fail in a few well-known ways (rate limits with
``Retry-After``, gateway errors, stalled or cut-off responses); those are retried with capped
exponential backoff. Anything else the server rejects (a malformed query, a missing dataset) is
raised at once: asking again would not change the answer.

Secrets travel in headers (``X-App-Token``), never in the URL, and no header value is ever put
in a log line or an error message; a credential a portal echoes in its error body is masked too.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_STATUSES: frozenset[int] = frozenset({429, 503})
# Query parameters that may carry a credential; their values are masked in messages.
SECRET_PARAMS: frozenset[str] = frozenset({"$$app_token", "app_token", "token", "key"})
USER_AGENT = "crimemap-ingestion/0.1 (+urllib)"

Log = Callable[[str], None]
Sleep = Callable[[float], None]
Params = Mapping[str, str | int | float]
# Given a parsed 200 body, returns (code, message) when the body is really an error.
BodyError = Callable[[Any], tuple[int, str] | None]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. ``jitter`` is a fraction of each backoff added at random (0 = none);
    ``seed`` makes that randomness reproducible."""

    max_attempts: int = 5
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    timeout_s: float = 60.0
    jitter: float = 0.0
    seed: int | None = None


DEFAULT_POLICY = RetryPolicy()


class LiveSourceError(Exception):
    """A portal request that failed for good: names the URL, the failure and the attempts."""

    def __init__(
        self, url: str, reason: str, *, attempts: int = 1, status: int | None = None
    ) -> None:
        plural = "" if attempts == 1 else "s"
        super().__init__(f"GET {url} failed after {attempts} attempt{plural}: {reason}")
        self.url = url
        self.reason = reason
        self.attempts = attempts
        self.status = status

    @property
    def permanent(self) -> bool:
        """The server refused the request itself (401, 403, 404, ...): retrying the step later
        cannot change the answer."""
        return self.status is not None and self.status not in RETRYABLE_STATUSES


class SchemaDriftError(LiveSourceError):
    """The publisher's field set no longer matches what the pipeline expects."""

    def __init__(self, dataset: str, missing: tuple[str, ...], unexpected: tuple[str, ...]) -> None:
        # Not a failed request, so the message does not take the GET/attempts form.
        Exception.__init__(
            self,
            f"schema drift in {dataset}: missing expected fields {list(missing)}; "
            f"unexpected fields {list(unexpected)}",
        )
        self.url = dataset
        self.reason = "schema drift"
        self.attempts = 1
        self.status = None
        self.dataset = dataset
        self.missing = missing
        self.unexpected = unexpected


class ResponseHeaders(Mapping[str, str]):
    """Response headers with case-insensitive lookup (HTTP header names are)."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items = {name.lower(): value for name, value in items}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def display_url(url: str, params: Params | None) -> str:
    """The request URL as a person reads it: decoded query, credentials masked."""
    if not params:
        return url
    shown = "&".join(
        f"{name}={'***' if name.lower() in SECRET_PARAMS else value}"
        for name, value in params.items()
    )
    return f"{url}?{shown}"


# Header names that carry a credential: their values are masked wherever they are echoed.
SECRET_HEADER_WORDS = ("token", "key", "authorization", "secret", "password")
MIN_SECRET_CHARS = 4  # shorter values would mask ordinary words


def secret_values(params: Params | None, headers: Mapping[str, str] | None) -> list[str]:
    """The credentials a request carries, in its query or its headers."""
    values = [str(v) for name, v in (params or {}).items() if name.lower() in SECRET_PARAMS]
    values += [
        v
        for name, v in (headers or {}).items()
        if any(word in name.lower() for word in SECRET_HEADER_WORDS)
    ]
    return [v for v in values if len(v) >= MIN_SECRET_CHARS]


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret masked, as written and as URL-encoded (a portal that echoes
    the request back puts it in its error body)."""
    for secret in secrets:
        for form in {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}:
            text = text.replace(form, "***")
    return text


def request_url(url: str, params: Params | None) -> str:
    return f"{url}?{urllib.parse.urlencode(params)}" if params else url


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header; ``None`` if absent or not a number of seconds."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0)


def backoff_delay(
    policy: RetryPolicy,
    failed_attempts: int,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after the ``failed_attempts``-th failure (1-based).

    A server's ``Retry-After`` wins over the exponential schedule (it knows its own rate
    window); both are capped by ``max_backoff_s`` so one bad header cannot stall a run.
    """
    if retry_after is not None:
        return min(retry_after, policy.max_backoff_s)
    delay = policy.backoff_s * 2 ** (failed_attempts - 1)
    if policy.jitter > 0 and rng is not None:
        delay *= 1 + policy.jitter * rng.random()
    return min(delay, policy.max_backoff_s)


def error_message(body: bytes) -> str:
    """The human part of an error body: Socrata's ``message``, ArcGIS's ``error.message``,
    else the start of the raw text."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        return text[:300]
    if isinstance(parsed, dict):
        nested = parsed.get("error")
        if isinstance(nested, dict) and nested.get("message"):
            return str(nested["message"])
        if parsed.get("message"):
            return str(parsed["message"])
    return text[:300]


def _read_error_body(exc: urllib.error.HTTPError) -> bytes:
    """The body of an error response, or nothing if it cannot be read (it is only detail)."""
    try:
        return exc.read()
    except (OSError, http.client.HTTPException):
        return b""


class _Failed(Exception):
    """One failed attempt; ``retryable`` says whether asking again could help."""

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


def _attempt(
    req: urllib.request.Request, timeout_s: float, body_error: BodyError | None
) -> tuple[Any, ResponseHeaders]:
    """One request: the parsed body and headers, or ``_Failed``."""
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            raw = resp.read()
            headers = ResponseHeaders(resp.headers.items())
            no_content = resp.status == 204
    except urllib.error.HTTPError as exc:
        with exc:
            status = exc.code
            if status in RETRYABLE_STATUSES:
                retry_after = (
                    parse_retry_after(exc.headers.get("Retry-After"))
                    if status in RETRY_AFTER_STATUSES
                    else None
                )
                reason = f"HTTP {status} {exc.reason}"
                raise _Failed(
                    reason, retryable=True, status=status, retry_after=retry_after
                ) from exc
            detail = error_message(_read_error_body(exc))
            reason = f"HTTP {status} {exc.reason}" + (f": {detail}" if detail else "")
            raise _Failed(reason, retryable=False, status=status) from exc
    except urllib.error.URLError as exc:  # connection refused, DNS, connect timeout
        raise _Failed(f"network error: {exc.reason}", retryable=True) from exc
    except TimeoutError as exc:  # read timeout (socket.timeout is TimeoutError)
        raise _Failed(f"timed out after {timeout_s}s", retryable=True) from exc
    except http.client.IncompleteRead as exc:  # fewer bytes than Content-Length promised
        raise _Failed(f"truncated response body: {exc!r}", retryable=True) from exc
    except (ConnectionError, http.client.HTTPException) as exc:  # resets, bad status lines
        reason = f"network error: {type(exc).__name__}: {exc}"
        raise _Failed(reason, retryable=True) from exc

    if no_content:
        return None, headers  # an answer, not a failure: nothing matched (Census API)
    try:
        parsed = json.loads(raw)
    except ValueError as exc:  # includes UnicodeDecodeError
        reason = f"malformed JSON body ({len(raw)} bytes): {exc}"
        raise _Failed(reason, retryable=True) from exc
    if body_error is not None and (found := body_error(parsed)) is not None:
        code, message = found
        raise _Failed(
            f"error {code} in response body: {message}",
            retryable=code in RETRYABLE_STATUSES,
            status=code,
        )
    return parsed, headers


def get_json(
    url: str,
    params: Params | None,
    headers: Mapping[str, str] | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Sleep = time.sleep,
    log: Log | None = None,
    *,
    body_error: BodyError | None = None,
) -> tuple[Any, Mapping[str, str]]:
    """GET ``url`` with ``params`` and return (parsed JSON, response headers).

    Retries 429/500/502/503/504, timeouts, connection errors and truncated or malformed bodies
    up to ``policy.max_attempts``; any other HTTP error is raised at once as
    ``LiveSourceError``. ``body_error`` lets a caller treat a 200 whose body is an error (the
    ArcGIS convention) like the HTTP status it names.
    """
    shown = display_url(url, params)
    req = urllib.request.Request(
        request_url(url, params),
        headers={"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})},
        method="GET",
    )
    rng = random.Random(policy.seed)
    emit = log or logger.info
    secrets = secret_values(params, headers)
    attempts = max(policy.max_attempts, 1)
    for attempt in range(1, attempts + 1):
        try:
            return _attempt(req, policy.timeout_s, body_error)
        except _Failed as failure:
            # The reason may quote the error body, and a portal may echo the credential there:
            # masked before it reaches a log, an exception or its chain.
            failure.reason = redact(failure.reason, secrets)
            failure.args = (failure.reason,)
            if not failure.retryable or attempt == attempts:
                raise LiveSourceError(
                    shown, failure.reason, attempts=attempt, status=failure.status
                ) from failure
            delay = backoff_delay(policy, attempt, failure.retry_after, rng)
            emit(
                f"GET {shown}: {failure.reason}; retrying in {delay:.2f}s "
                f"(attempt {attempt}/{attempts})"
            )
            sleep(delay)
    raise AssertionError("unreachable")  # the loop always returns or raises

"""A local HTTP server that answers like Socrata and ArcGIS REST, with failures on demand.

Usage::

    with FakePortals() as portals:
        portals.add_socrata("abcd-1234", rows, date_field="offense_start_datetime")
        portals.fail(Failure.http(429, retry_after=2), Failure.truncated())
        ...  # point the client at portals.base_url
        portals.requests  # every request: path, params, headers

Only the slice of each API the live clients use is implemented, but that slice behaves like
the real thing: Socrata's 1,000-row default ``$limit``, nulls omitted from row objects, the
``X-SODA2-Fields`` header, Socrata-style 400 errors for queries it cannot compile; ArcGIS's
``maxRecordCount`` cap, ``exceededTransferLimit``, epoch-millisecond dates, and errors sent as
HTTP 200 with an ``error`` object. Scripted failures are consumed one per request, in order,
whatever the path.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

SOCRATA_DEFAULT_LIMIT = 1000
ARCGIS_DEFAULT_MAX_RECORDS = 1000


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    params: dict[str, str]
    headers: dict[str, str]  # names lower-cased


@dataclass(frozen=True)
class Failure:
    """One scripted failure; build with the class methods."""

    kind: str  # "ok" | "http" | "delay" | "truncated" | "disconnect" | "arcgis_error"
    status: int = 500
    retry_after: str | None = None
    body: Any = None
    delay_s: float = 0.0
    declare_full_length: bool = True
    message: str = ""

    @classmethod
    def ok(cls) -> Failure:
        """No failure: answer normally (aims the failures queued after it at later requests)."""
        return cls("ok")

    @classmethod
    def http(cls, status: int, *, retry_after: float | None = None, body: Any = None) -> Failure:
        """An HTTP error status, with an optional ``Retry-After`` (seconds) and JSON body."""
        header = None if retry_after is None else f"{retry_after:g}"
        return cls("http", status=status, retry_after=header, body=body)

    @classmethod
    def delay(cls, seconds: float) -> Failure:
        """Answer normally, but only after ``seconds`` (longer than the client's timeout)."""
        return cls("delay", delay_s=seconds)

    @classmethod
    def truncated(cls, *, declare_full_length: bool = True) -> Failure:
        """The normal answer cut in half. With ``declare_full_length`` the Content-Length
        promises the whole body and the connection closes early; without it the headers are
        consistent and only the JSON is broken."""
        return cls("truncated", declare_full_length=declare_full_length)

    @classmethod
    def disconnect(cls) -> Failure:
        """Close the connection without answering."""
        return cls("disconnect")

    @classmethod
    def arcgis_error(cls, code: int, message: str = "Unable to complete operation.") -> Failure:
        """HTTP 200 whose body is ``{"error": {...}}``, the ArcGIS way."""
        return cls("arcgis_error", status=code, message=message)


@dataclass
class SocrataTable:
    rows: list[dict[str, Any]]  # in :id order
    date_field: str
    fields: list[str]
    send_fields_header: bool = True


@dataclass
class ArcGISTable:
    fields: list[dict[str, str]]  # [{"name", "type", "alias"}]
    features: list[dict[str, Any]]  # {"attributes": {...}, "geometry": {...} | None}
    date_field: str
    max_record_count: int = ARCGIS_DEFAULT_MAX_RECORDS
    object_id_field: str = "OBJECTID"
    report_transfer_limit: bool = True


@dataclass
class _Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class _BadQuery(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _json_answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> _Answer:
    return _Answer(status, json.dumps(body).encode(), dict(headers or {}))


def socrata_error(code: str, message: str) -> dict[str, Any]:
    """An error body shaped like SODA 2.x's."""
    return {"code": code, "error": True, "message": message, "data": {}}


def arcgis_error_body(code: int, message: str, details: list[str] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


# --- Socrata ------------------------------------------------------------------------------

_SOQL_CLAUSE = re.compile(
    r"^(?P<field>:?@?[A-Za-z_][A-Za-z0-9_]*) (?P<op>>=|<) "
    r"'(?P<value>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?)'$"
)
_SOCRATA_PARAMS = frozenset({"$where", "$order", "$limit", "$offset", "$$app_token"})


def _socrata_filter(where: str | None, table: SocrataTable) -> list[dict[str, Any]]:
    """Rows matching ``field >= 'ts' [AND field < 'ts']``: the only grammar understood."""
    if where is None:
        return table.rows
    bounds: list[tuple[str, datetime]] = []
    for clause in where.split(" AND "):
        match = _SOQL_CLAUSE.match(clause.strip())
        if match is None:
            raise _BadQuery(
                "query.compiler.malformed", f"Could not parse SoQL query: {clause.strip()!r}"
            )
        if match["field"] not in table.fields:
            raise _BadQuery(
                "query.soql.no-such-column", f"No such column: {match['field']}; position: 1"
            )
        if match["field"] != table.date_field:
            raise _BadQuery(
                "query.compiler.malformed", f"Only {table.date_field} can be filtered here"
            )
        bounds.append((match["op"], datetime.fromisoformat(match["value"])))

    def keep(row: dict[str, Any]) -> bool:
        value = row.get(table.date_field)
        if value is None:
            return False  # SQL: a comparison with null is not true
        stamp = datetime.fromisoformat(value)
        return all(stamp >= bound if op == ">=" else stamp < bound for op, bound in bounds)

    return [row for row in table.rows if keep(row)]


def _non_negative_int(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise _BadQuery("query.compiler.malformed", f"Invalid {name}: {raw!r}")
    return int(raw)


def _socrata_answer(table: SocrataTable, params: dict[str, str]) -> _Answer:
    unknown = sorted(set(params) - _SOCRATA_PARAMS)
    if unknown:
        raise _BadQuery("query.compiler.malformed", f"Unrecognized arguments: {unknown}")
    if params.get("$order", ":id") != ":id":
        raise _BadQuery("query.compiler.malformed", f"Unsupported $order: {params['$order']}")
    limit = _non_negative_int(params, "$limit", SOCRATA_DEFAULT_LIMIT)
    offset = _non_negative_int(params, "$offset", 0)
    matching = _socrata_filter(params.get("$where"), table)
    page = [
        {key: value for key, value in row.items() if value is not None and key in table.fields}
        for row in matching[offset : offset + limit]
    ]
    headers = {"X-SODA2-Fields": json.dumps(table.fields)} if table.send_fields_header else {}
    return _json_answer(page, headers=headers)


# --- ArcGIS -------------------------------------------------------------------------------

_ARCGIS_CLAUSE = re.compile(
    r"^(?P<field>[A-Za-z_][A-Za-z0-9_]*) (?P<op>>=|<) "
    r"TIMESTAMP '(?P<value>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})'$"
)


def epoch_ms(value: datetime) -> int:
    """How ArcGIS stores a date: UTC epoch milliseconds (naive means UTC)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def _arcgis_filter(where: str, table: ArcGISTable) -> list[dict[str, Any]]:
    bounds: list[tuple[str, int]] = []
    for raw in where.split(" AND "):
        clause = raw.strip()
        while clause.startswith("(") and clause.endswith(")"):
            clause = clause[1:-1].strip()
        if clause == "1=1":
            continue
        match = _ARCGIS_CLAUSE.match(clause)
        if match is None or match["field"] != table.date_field:
            raise _BadQuery("400", "'where' parameter is invalid")
        bounds.append((match["op"], epoch_ms(datetime.fromisoformat(match["value"]))))

    def keep(feature: dict[str, Any]) -> bool:
        value = feature["attributes"].get(table.date_field)
        if value is None:
            return False
        return all(value >= bound if op == ">=" else value < bound for op, bound in bounds)

    return [feature for feature in table.features if keep(feature)]


def _arcgis_metadata(table: ArcGISTable, name: str) -> dict[str, Any]:
    return {
        "currentVersion": 11.1,
        "id": 0,
        "name": name,
        "type": "Feature Layer",
        "geometryType": "esriGeometryPoint",
        "objectIdField": table.object_id_field,
        "fields": table.fields,
        "maxRecordCount": table.max_record_count,
        "advancedQueryCapabilities": {"supportsPagination": True},
    }


def _arcgis_query(table: ArcGISTable, params: dict[str, str]) -> dict[str, Any]:
    if params.get("f") != "json":
        raise _BadQuery("400", "Invalid or missing input parameters: f")
    matching = _arcgis_filter(params.get("where", "1=1"), table)
    order_by = params.get("orderByFields")
    if order_by:
        if order_by not in {f["name"] for f in table.fields}:
            raise _BadQuery("400", "'orderByFields' parameter is invalid")
        matching = sorted(matching, key=lambda feature: feature["attributes"][order_by])
    offset = int(params.get("resultOffset", "0"))
    requested = int(params.get("resultRecordCount", str(table.max_record_count)))
    count = min(requested, table.max_record_count)
    page = matching[offset : offset + count]
    out_fields = params.get("outFields", "*")
    names = None if out_fields == "*" else set(out_fields.split(","))
    features = []
    for feature in page:
        attributes = {
            key: value
            for key, value in feature["attributes"].items()
            if names is None or key in names
        }
        entry: dict[str, Any] = {"attributes": attributes}
        if feature.get("geometry") is not None and params.get("returnGeometry") != "false":
            entry["geometry"] = feature["geometry"]
        features.append(entry)
    body: dict[str, Any] = {
        "objectIdFieldName": table.object_id_field,
        "geometryType": "esriGeometryPoint",
        "spatialReference": {"wkid": int(params.get("outSR", "4326"))},
        "fields": table.fields,
        "features": features,
    }
    if table.report_transfer_limit and offset + len(page) < len(matching):
        body["exceededTransferLimit"] = True
    return body


# --- the server ---------------------------------------------------------------------------


class FakePortals:
    """Socrata datasets and ArcGIS layers on one local server (``127.0.0.1``, free port)."""

    def __init__(self) -> None:
        self.socrata: dict[str, SocrataTable] = {}
        self.arcgis: dict[str, ArcGISTable] = {}
        self.requests: list[RecordedRequest] = []
        self._failures: deque[Failure] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def __enter__(self) -> FakePortals:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        # A short poll keeps shutdown (once per test) from costing the default half second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()  # wakes any handler still sitting in a scripted delay
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # content

    def add_socrata(
        self,
        dataset_id: str,
        rows: list[dict[str, Any]],
        *,
        date_field: str,
        fields: list[str] | None = None,
        send_fields_header: bool = True,
    ) -> str:
        """Serve ``rows`` (in ``:id`` order) at ``/resource/<dataset_id>.json``; returns that
        URL. ``fields`` defaults to every key seen, in first-seen order."""
        if fields is None:
            fields = list(dict.fromkeys(key for row in rows for key in row))
        self.socrata[dataset_id] = SocrataTable(
            [dict(row) for row in rows], date_field, list(fields), send_fields_header
        )
        return f"{self.base_url}/resource/{dataset_id}.json"

    def rename_socrata_field(self, dataset_id: str, old: str, new: str) -> None:
        """Schema drift: the publisher renames a column."""
        table = self.socrata[dataset_id]
        table.fields = [new if name == old else name for name in table.fields]
        table.rows = [{new if k == old else k: v for k, v in row.items()} for row in table.rows]
        if table.date_field == old:
            table.date_field = new

    def add_arcgis(
        self,
        layer_path: str,
        fields: list[tuple[str, str]],
        features: list[tuple[dict[str, Any], dict[str, Any] | None]],
        *,
        date_field: str,
        max_record_count: int = ARCGIS_DEFAULT_MAX_RECORDS,
        object_id_field: str = "OBJECTID",
        report_transfer_limit: bool = True,
    ) -> str:
        """Serve a layer at ``layer_path`` (e.g. ``/arcgis/rest/services/X/FeatureServer/0``);
        returns its URL. ``fields`` are (name, esri type); the object-id field is added if
        absent and numbered 1..n. Date attributes may be given as datetimes (stored as epoch
        ms, naive meaning UTC)."""
        field_list = [{"name": n, "type": t, "alias": n} for n, t in fields]
        if object_id_field not in {f["name"] for f in field_list}:
            field_list.insert(
                0, {"name": object_id_field, "type": "esriFieldTypeOID", "alias": object_id_field}
            )
        stored = []
        for number, (attributes, geometry) in enumerate(features, start=1):
            values = {
                key: epoch_ms(value) if isinstance(value, datetime) else value
                for key, value in attributes.items()
            }
            values.setdefault(object_id_field, number)
            stored.append({"attributes": values, "geometry": geometry})
        self.arcgis[layer_path.rstrip("/")] = ArcGISTable(
            field_list,
            stored,
            date_field,
            max_record_count,
            object_id_field,
            report_transfer_limit,
        )
        return f"{self.base_url}{layer_path.rstrip('/')}"

    def rename_arcgis_field(self, layer_path: str, old: str, new: str) -> None:
        table = self.arcgis[layer_path.rstrip("/")]
        for entry in table.fields:
            if entry["name"] == old:
                entry["name"] = entry["alias"] = new
        for feature in table.features:
            attributes = feature["attributes"]
            feature["attributes"] = {new if k == old else k: v for k, v in attributes.items()}

    # failures and records

    def fail(self, *failures: Failure) -> None:
        """Queue failures for the next requests, one each, in order."""
        with self._lock:
            self._failures.extend(failures)

    @property
    def pending_failures(self) -> int:
        with self._lock:
            return len(self._failures)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _record(self, request: RecordedRequest) -> Failure | None:
        with self._lock:
            self.requests.append(request)
            return self._failures.popleft() if self._failures else None

    # routing

    def answer(self, path: str, params: dict[str, str]) -> _Answer:
        """The normal (unfailed) answer to a GET."""
        resource = re.fullmatch(r"/resource/(?P<id>[a-z0-9]{4}-[a-z0-9]{4})\.json", path)
        if resource:
            table = self.socrata.get(resource["id"])
            if table is None:
                body = socrata_error("not_found", f"Dataset {resource['id']} not found")
                return _json_answer(body, status=404)
            try:
                return _socrata_answer(table, params)
            except _BadQuery as exc:
                return _json_answer(socrata_error(exc.code, str(exc)), status=400)
        is_query = path.endswith("/query")
        layer_path = path.removesuffix("/query")
        layer = self.arcgis.get(layer_path)
        if layer is None:
            return _json_answer(arcgis_error_body(400, "Invalid URL", ["Invalid URL"]))
        if not is_query:
            if params.get("f") != "json":
                return _json_answer(arcgis_error_body(400, "Unsupported output format"))
            return _json_answer(_arcgis_metadata(layer, _service_name(layer_path)))
        try:
            return _json_answer(_arcgis_query(layer, params))
        except _BadQuery as exc:
            message = "Cannot perform query. Invalid query parameters."
            return _json_answer(arcgis_error_body(400, message, [str(exc)]))


def _service_name(layer_path: str) -> str:
    """``Crime`` from ``/arcgis/rest/services/SPD/Crime/FeatureServer/0``."""
    parts = [part for part in layer_path.split("/") if part]
    return parts[-3] if len(parts) >= 3 else layer_path


def _handler_for(portals: FakePortals) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "FakePortal/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
            headers = {name.lower(): value for name, value in self.headers.items()}
            failure = portals._record(RecordedRequest(parts.path, params, headers))
            # A client that gave up (a timeout test) has nobody left to answer.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._respond(failure, parts.path, params)

        def _respond(self, failure: Failure | None, path: str, params: dict[str, str]) -> None:
            if failure is None or failure.kind == "ok":
                self._send(portals.answer(path, params))
            elif failure.kind == "http":
                headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
                body = failure.body
                if body is None:
                    body = socrata_error("internal", f"HTTP {failure.status}")
                self._send(_json_answer(body, failure.status, headers))
            elif failure.kind == "delay":
                if portals._stopping.wait(failure.delay_s):
                    return
                self._send(portals.answer(path, params))
            elif failure.kind == "truncated":
                whole = portals.answer(path, params)
                cut = whole.body[: max(len(whole.body) // 2, 1)]
                length = len(whole.body) if failure.declare_full_length else len(cut)
                self._send(_Answer(whole.status, cut, whole.headers), content_length=length)
                self.close_connection = True
            elif failure.kind == "disconnect":
                self.close_connection = True
            elif failure.kind == "arcgis_error":
                body = arcgis_error_body(failure.status, failure.message)
                self._send(_json_answer(body))
            else:
                raise ValueError(f"unknown failure kind {failure.kind!r}")

        def _send(self, answer: _Answer, content_length: int | None = None) -> None:
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            length = len(answer.body) if content_length is None else content_length
            self.send_header("Content-Length", str(length))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)
            self.wfile.flush()

    return Handler

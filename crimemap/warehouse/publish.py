"""Atomic releases of the published layers.

A release is built in ``releases/.tmp-<id>/``, validated, renamed to ``releases/<id>/`` and only
then made current by atomically replacing the one-line ``LATEST`` file. Readers that follow
``LATEST`` therefore see either the previous release or the complete new one; a failure (or a
kill) at any step leaves the previous release and ``LATEST`` as they were. Publishers take an
exclusive lock on the published directory, so the next one can clear what a killed one left
(temporary directories, a release renamed but never made current) and prune old releases.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from crimemap.core.duckdb_spatial import fetch_one
from crimemap.core.files import fsync_directory, fsync_tree
from crimemap.core.sql import quote_ident, sql_literal
from crimemap.warehouse.code_version import code_version as current_code_version
from crimemap.warehouse.geoparquet import (
    DEFAULT_CRS,
    GEOPARQUET_VERSION,
    GeoParquetStats,
    TableStats,
    file_digest,
    geometry_stats,
    scan_sql,
    validate_geoparquet,
    validate_parquet_table,
    write_geoparquet,
    write_parquet_table,
    writer_identity,
)
from crimemap.warehouse.privacy import LayerPrivacy, PrivacyRules
from crimemap.warehouse.schema_contract import check_version, schema_of_manifest, validate_manifest

RELEASES_DIR = "releases"
LATEST_FILE = "LATEST"
MANIFEST_FILE = "manifest.json"
MANIFEST_VERSION = 2
TMP_PREFIX = ".tmp-"
LOCK_FILE = ".publish.lock"
DEFAULT_KEEP_RELEASES = 5
# Layer names become file names and serving-view names; keep them plain identifiers.
_LAYER_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_RELEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# The serving database reserves this name for its release-info table.
RESERVED_LAYER_NAMES = frozenset({"releases"})
MANIFEST_KEYS = frozenset(
    {
        "manifest_version",
        "release_id",
        "created_at",
        "schema_version",
        "code_version",
        "privacy_rules",
        "layers",
    }
)
_PARTITION_VALUE = re.compile(r"^[A-Za-z0-9_-]+$")


class ReleaseError(RuntimeError):
    """A release could not be published; the previous release is still current."""


class ReleaseValidationError(ReleaseError):
    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("release failed validation:\n" + "\n".join(f"- {p}" for p in problems))


@dataclass(frozen=True)
class LayerSpec:
    name: str
    query: str
    spatial: bool
    description: str
    geometry_column: str = "geometry"
    time_column: str | None = None
    # Column name -> description, copied into the manifest and the serving database.
    column_descriptions: Mapping[str, str] = field(default_factory=dict, hash=False)
    # What the privacy audit checks on this layer (None: forbidden column names only).
    privacy: LayerPrivacy | None = None
    # Runs on the publishing connection before the query, e.g. to register a suppression table.
    prepare: Callable[[duckdb.DuckDBPyConnection], None] | None = field(default=None, hash=False)
    # Hive partition columns (e.g. year, month): the layer becomes a directory of files.
    partition_by: tuple[str, ...] = ()
    # SQL giving one row of partition values: where a partitioned layer with no rows keeps one
    # zero-row file, so that it stays a readable layer with its schema (None: no rows is an
    # error, as a release always has rows to partition).
    partition_when_empty: str | None = None

    @property
    def path(self) -> str:
        """Where the layer lives in a release: a file, or a directory when partitioned."""
        return self.name if self.partition_by else f"{self.name}.parquet"


@dataclass(frozen=True)
class Release:
    release_id: str
    path: Path
    manifest: Mapping[str, Any]
    # False: the layers came out as the current release's, which stays current (nothing new).
    published: bool = True


@dataclass(frozen=True)
class ReusableFiles:
    """The current release's partition files with the content digest each was written for. A
    partition whose rows have the same digest is hard-linked from it instead of written again:
    one new month rewrites one month's file, not the whole history. A linked file's bytes are
    checked against the manifest's sha256; they were validated when first published."""

    release_dir: Path | None = None
    files: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def of_release(
        cls, release_dir: Path | None, manifest: Mapping[str, Any] | None
    ) -> ReusableFiles:
        """The partition files of the release in ``release_dir``, described by ``manifest``."""
        if release_dir is None or manifest is None:
            return cls()
        files = {
            f["path"]: f
            for layer in manifest.get("layers", [])
            for f in layer.get("files", [])
            if f.get("content")
        }
        return cls(Path(release_dir), files)

    def holds(self, path: str, sha256: str) -> bool:
        """Whether the current release published these very bytes at ``path``."""
        entry = self.files.get(path)
        return entry is not None and entry["sha256"] == sha256

    def link(self, path: str, content: str, target: Path) -> Mapping[str, Any] | None:
        """Link the current release's file at ``path`` to ``target`` if it holds ``content``;
        its manifest entry, or None (the caller writes the file)."""
        entry = self.files.get(path)
        if self.release_dir is None or entry is None or entry["content"] != content:
            return None
        source = self.release_dir / path
        try:
            if file_digest(source) != (entry["sha256"], entry["bytes"]):
                return None
            try:
                os.link(source, target)
            except OSError:  # a file system without hard links
                shutil.copyfile(source, target)
        except OSError:
            return None
        return entry


# --------------------------------------------------------------------------- small pieces


def new_release_id(now: dt.datetime | None = None, after: str | None = None) -> str:
    """``YYYYMMDDTHHMMSSZ-xxxxxx``: sorts by time; the random suffix keeps same-second ids apart.

    ``after`` (the newest existing id) keeps ids increasing even if the clock steps back, because
    pruning keeps the newest releases by id.
    """
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    try:
        previous = dt.datetime.strptime((after or "")[:16], "%Y%m%dT%H%M%SZ")
    except ValueError:
        previous = None  # no earlier release, or one with a custom id
    if previous is not None:
        now = max(now, previous.replace(tzinfo=dt.UTC) + dt.timedelta(seconds=1))
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def check_layers(layers: Sequence[LayerSpec]) -> None:
    """Reject layer sets that cannot become files and views (before any work is done)."""
    if not layers:
        raise ValueError("a release needs at least one layer")
    names = [layer.name for layer in layers]
    for name in names:
        if not _LAYER_NAME.match(name):
            raise ValueError(f"layer name {name!r} must match {_LAYER_NAME.pattern}")
        if name in RESERVED_LAYER_NAMES:
            raise ValueError(f"layer name {name!r} is reserved")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate layer names: {duplicates}")


def _check_release_id(release_id: str) -> None:
    if not _RELEASE_ID.match(release_id):
        raise ValueError(f"release id {release_id!r} must match {_RELEASE_ID.pattern}")


def _check_extra(extra: Mapping[str, Any]) -> None:
    clash = sorted(MANIFEST_KEYS & set(extra))
    if clash:
        raise ValueError(f"extra manifest keys clash with reserved keys: {clash}")


def _json_value(value: Any) -> Any:
    """JSON-friendly form of a value DuckDB returns (dates and times as ISO 8601)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return str(value)


def write_text_durably(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def layer_scan_sql(release_dir: Path, layer: Mapping[str, Any]) -> str:
    """``read_parquet`` over a manifest layer of the release in ``release_dir``."""
    partitioning = layer.get("partitioning") or {}
    types = {c["name"]: c["type"] for c in layer.get("columns", [])}
    partition_types = {c: types.get(c, "VARCHAR") for c in partitioning.get("columns", [])}
    return scan_sql(Path(release_dir) / layer["path"], partition_types)


def _columns(
    con: duckdb.DuckDBPyConnection, source: str, descriptions: Mapping[str, str]
) -> list[dict[str, str]]:
    # Types as DuckDB reads the published layer (GeoParquet geometry shows as GEOMETRY).
    rows = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    columns = []
    for name, type_, *_ in rows:
        entry = {"name": name, "type": type_}
        if name in descriptions:
            entry["description"] = descriptions[name]
        columns.append(entry)
    return columns


def _time_extent(
    con: duckdb.DuckDBPyConnection, source: str, column: str | None
) -> dict[str, Any] | None:
    if column is None:
        return None
    c = quote_ident(column)
    low, high = fetch_one(con, f"SELECT min({c}), max({c}) FROM {source}")
    return {"column": column, "min": _json_value(low), "max": _json_value(high)}


def _file_entry(
    stats: GeoParquetStats | TableStats, release_dir: Path, content: str | None = None
) -> dict[str, Any]:
    return {
        "path": stats.path.relative_to(release_dir).as_posix(),
        "rows": stats.rows,
        "bytes": stats.bytes,
        "sha256": stats.sha256,
        **({"content": content} if content else {}),
    }


def _partition_dir(columns: Sequence[str], values: Sequence[Any], where: str) -> str:
    parts = []
    for column, value in zip(columns, values, strict=True):
        text = "" if value is None else str(value)
        if not _PARTITION_VALUE.match(text):
            raise ValueError(
                f"layer {where}: partition column {column!r} has value {value!r}; "
                "partition values must be non-empty and plain (letters, digits, '_', '-')"
            )
        parts.append(f"{column}={text}")
    return "/".join(parts)


def _partition_contents(
    con: duckdb.DuckDBPyConnection,
    layer: LayerSpec,
    staging: str,
    described: Mapping[str, str],
) -> dict[tuple[Any, ...], str]:
    """Each partition's content digest: its rows (exact values, any order), their columns and
    what writes them. Equal digests mean the file written would hold the same rows."""
    keys = ", ".join(quote_ident(c) for c in layer.partition_by)
    columns = [c for c in described if c not in layer.partition_by]
    row_hash = f"hash({', '.join(quote_ident(c) for c in columns)})::HUGEINT"
    shape = "|".join(
        [
            writer_identity(),
            f"spatial={layer.spatial} geometry={layer.geometry_column}",
            ",".join(f"{c}:{described[c]}" for c in columns),
        ]
    )
    sums = con.execute(
        f"SELECT {keys}, count(*), coalesce(sum({row_hash}), 0) FROM {staging} GROUP BY ALL"
    ).fetchall()
    width = len(layer.partition_by)
    return {
        tuple(row[:width]): hashlib.sha256(
            f"{shape}|{row[width]}|{row[width + 1]}".encode()
        ).hexdigest()
        for row in sums
    }


def _linked_stats(
    layer: LayerSpec, path: Path, entry: Mapping[str, Any]
) -> GeoParquetStats | TableStats:
    if not layer.spatial:
        return TableStats(path, entry["rows"], entry["sha256"], entry["bytes"])
    bbox, geometry_types = geometry_stats(path, layer.geometry_column)
    return GeoParquetStats(
        path, entry["rows"], bbox, geometry_types, entry["sha256"], entry["bytes"]
    )


def _write_partitioned(
    con: duckdb.DuckDBPyConnection,
    layer: LayerSpec,
    directory: Path,
    reusable: ReusableFiles,
) -> tuple[list[dict[str, Any]], dict[str, str], list[GeoParquetStats | TableStats]]:
    """One file per partition under ``directory/<name>/<col>=<value>/...``; each spatial file is
    a complete GeoParquet file with its own bbox. A partition whose rows the current release
    already holds is linked from it (``ReusableFiles``). Returns the files' manifest entries,
    the partition types and the files' stats."""
    staging = f"temp.main.{quote_ident('__crimemap_partitions_' + secrets.token_hex(6))}"
    con.execute(f"CREATE TEMP TABLE {staging} AS {layer.query.strip().rstrip(';')}")
    try:
        described = dict(
            (str(r[0]), str(r[1]))
            for r in con.execute(f"DESCRIBE SELECT * FROM {staging}").fetchall()
        )
        missing = [c for c in layer.partition_by if c not in described]
        if missing:
            raise ValueError(f"layer {layer.name}: no partition columns {missing}")
        keys = ", ".join(quote_ident(c) for c in layer.partition_by)
        values = con.execute(f"SELECT DISTINCT {keys} FROM {staging} ORDER BY ALL").fetchall()
        empty = not values
        if empty and layer.partition_when_empty is not None:
            values = con.execute(layer.partition_when_empty).fetchall()[:1]
        if not values:
            # A hive layer is its files: with no rows there is nothing readers could open.
            raise ValueError(
                f"layer {layer.name}: no rows to partition by {list(layer.partition_by)}; "
                "a partitioned layer needs at least one row"
            )
        contents = {} if empty else _partition_contents(con, layer, staging, described)
        entries: list[dict[str, Any]] = []
        stats: list[GeoParquetStats | TableStats] = []
        for value in values:
            sub = directory / layer.path / _partition_dir(layer.partition_by, value, layer.name)
            sub.mkdir(parents=True)
            path = sub / "part-0.parquet"
            content = contents.get(tuple(value))
            relative = path.relative_to(directory).as_posix()
            linked = reusable.link(relative, content, path) if content else None
            if linked is not None:
                file = _linked_stats(layer, path, linked)
            else:
                where = (
                    "false"
                    if empty
                    else " AND ".join(
                        f"{quote_ident(c)} = {sql_literal(str(v))}::{described[c]}"
                        for c, v in zip(layer.partition_by, value, strict=True)
                    )
                )
                query = f"SELECT * EXCLUDE ({keys}) FROM {staging} WHERE {where}"
                file = _write_file(con, layer, query, path)
            stats.append(file)
            entries.append(_file_entry(file, directory, content))
        # The writer fsyncs each month's directory; make the directories above it durable too.
        fsync_tree(directory / layer.path)
        return entries, {c: described[c] for c in layer.partition_by}, stats
    finally:
        con.execute(f"DROP TABLE IF EXISTS {staging}")


def _write_file(
    con: duckdb.DuckDBPyConnection, layer: LayerSpec, query: str, path: Path
) -> GeoParquetStats | TableStats:
    if layer.spatial:
        return write_geoparquet(con, query, path, geometry_column=layer.geometry_column)
    return write_parquet_table(con, query, path)


def _union_bbox(
    boxes: Sequence[tuple[float, float, float, float] | None],
) -> list[float] | None:
    present = [b for b in boxes if b is not None]
    if not present:
        return None
    return [
        min(b[0] for b in present),
        min(b[1] for b in present),
        max(b[2] for b in present),
        max(b[3] for b in present),
    ]


def build_layer(
    con: duckdb.DuckDBPyConnection,
    layer: LayerSpec,
    directory: Path,
    reusable: ReusableFiles | None = None,
) -> dict[str, Any]:
    """Write one layer into ``directory`` and return its manifest entry; a partitioned layer
    links the partitions ``reusable`` holds with the same rows."""
    if layer.prepare is not None:
        layer.prepare(con)
    if layer.partition_by:
        file_entries, partition_types, files = _write_partitioned(
            con, layer, directory, reusable or ReusableFiles()
        )
    else:
        files = [_write_file(con, layer, layer.query, directory / layer.path)]
        file_entries = [_file_entry(files[0], directory)]
        partition_types = {}
    entry: dict[str, Any] = {
        "name": layer.name,
        "description": layer.description,
        "spatial": layer.spatial,
        "path": layer.path,
        "partitioning": (
            {"flavor": "hive", "columns": list(layer.partition_by)} if layer.partition_by else None
        ),
    }
    if layer.spatial:
        spatial = [f for f in files if isinstance(f, GeoParquetStats)]
        entry |= {
            "format": f"GeoParquet {GEOPARQUET_VERSION}",
            "geometry_column": layer.geometry_column,
            "crs": DEFAULT_CRS,
            "geometry_types": sorted({t for f in spatial for t in f.geometry_types}),
            "bbox": _union_bbox([f.bbox for f in spatial]),
        }
    else:
        entry |= {"format": "Parquet", "geometry_types": [], "bbox": None}
    source = scan_sql(directory / layer.path, partition_types)
    entry |= {
        "rows": sum(f.rows for f in files),
        "bytes": sum(f.bytes for f in files),
        "columns": _columns(con, source, layer.column_descriptions),
        "time_extent": _time_extent(con, source, layer.time_column),
        "files": file_entries,
    }
    return entry


def validate_release_files(
    release_dir: Path,
    entries: Sequence[Mapping[str, Any]],
    validated: ReusableFiles | None = None,
) -> list[str]:
    """Every file of every layer against the publishing spec (GeoParquet 1.1 or plain table),
    each problem prefixed with its layer; but the files whose very bytes ``validated`` (the
    current release) published, which were validated then."""
    validated = validated or ReusableFiles()
    problems = []
    for entry in entries:
        validate = validate_geoparquet if entry["spatial"] else validate_parquet_table
        for file in entry["files"]:
            if validated.holds(file["path"], file["sha256"]):
                continue
            problems += [
                f"layer {entry['name']}: {problem}"
                for problem in validate(Path(release_dir) / file["path"])
            ]
    return problems


def build_manifest(
    release_id: str,
    layers: Sequence[Mapping[str, Any]],
    *,
    schema_version: str,
    privacy_rules: Sequence[str],
    code_version: str,
    extra: Mapping[str, Any],
    created_at: str | None = None,
) -> dict[str, Any]:
    _check_extra(extra)
    return {
        "manifest_version": MANIFEST_VERSION,
        "release_id": release_id,
        "created_at": created_at or _utc_now_iso(),
        "schema_version": schema_version,
        "code_version": code_version,
        "privacy_rules": list(privacy_rules),
        **extra,
        "layers": [dict(layer) for layer in layers],
    }


def _switch_latest(published_dir: Path, release_id: str) -> None:
    """Point ``LATEST`` at ``release_id`` with one atomic rename."""
    tmp = published_dir / f"{LATEST_FILE}.tmp"
    try:
        write_text_durably(tmp, release_id + "\n")
        os.replace(tmp, published_dir / LATEST_FILE)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_directory(published_dir)


@contextmanager
def _publisher_lock(published_dir: Path) -> Iterator[None]:
    """One publisher at a time per published directory; the OS drops the lock if it is killed."""
    with (published_dir / LOCK_FILE).open("a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ReleaseError(f"another publisher is running in {published_dir}") from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def release_ids(published_dir: Path) -> list[str]:
    """Ids of the complete releases (renamed into place), oldest first."""
    releases = Path(published_dir) / RELEASES_DIR
    if not releases.is_dir():
        return []
    return sorted(
        p.name
        for p in releases.iterdir()
        if p.is_dir() and not p.name.startswith(TMP_PREFIX) and _RELEASE_ID.match(p.name)
    )


def _clear_leftovers(published_dir: Path) -> list[str]:
    """Remove what a killed publisher left (call under the lock): temporary directories, and
    releases renamed into place but never made current (newer than ``LATEST``)."""
    releases = Path(published_dir) / RELEASES_DIR
    latest = read_latest_id(published_dir)
    removed = []
    for path in sorted(releases.glob(f"{TMP_PREFIX}*")):
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    for release_id in release_ids(published_dir):
        if latest is None or release_id > latest:
            # Out of sight first, so a kill mid-delete leaves a .tmp- name, not half a release.
            trash = releases / f"{TMP_PREFIX}never-current-{release_id}"
            os.rename(releases / release_id, trash)
            shutil.rmtree(trash, ignore_errors=True)
            removed.append(release_id)
    (Path(published_dir) / f"{LATEST_FILE}.tmp").unlink(missing_ok=True)
    return removed


def prune_releases(published_dir: Path, keep: int) -> list[str]:
    """Delete all but the ``keep`` newest releases up to ``LATEST`` (which is always kept);
    returns the ids removed. Call under the publisher lock."""
    if keep < 1:
        raise ValueError(f"keep_releases must be at least 1, got {keep}")
    latest = read_latest_id(published_dir)
    if latest is None:
        return []
    current_or_older = [r for r in release_ids(published_dir) if r <= latest]
    doomed = [r for r in current_or_older[:-keep] if r != latest]
    releases = Path(published_dir) / RELEASES_DIR
    for release_id in doomed:
        # Rename first: a reader never sees a half-deleted release under its real name.
        trash = releases / f"{TMP_PREFIX}pruned-{release_id}"
        os.rename(releases / release_id, trash)
        shutil.rmtree(trash)
    if doomed:
        fsync_directory(releases)
    return doomed


def default_release_metadata() -> dict[str, Any]:
    """Manifest keys a release always has; the pipeline passes the jurisdiction's own."""
    return {"jurisdiction": "unnamed", "privacy": PrivacyRules().settings(), "source_freshness": []}


def schema_problems(
    previous: Mapping[str, Any] | None, schema_version: str, entries: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Semantic-versioning problems of this release's layer schemas against the last release."""
    if previous is None:
        return []
    new = {"schema_version": schema_version, "layers": list(entries)}
    return check_version(
        previous.get("schema_version", "0.0.0"),
        schema_of_manifest(previous),
        schema_version,
        schema_of_manifest(new),
    )


# --------------------------------------------------------------------------- unchanged releases

CONTENT_KEY = "content"  # the manifest's layer name -> content digest
# Floats compared to six decimals: parallel sums differ in their last bits from run to run.
CONTENT_DECIMALS = 6


def layer_content_digest(
    con: duckdb.DuckDBPyConnection, release_dir: Path, entry: Mapping[str, Any]
) -> str:
    """A digest of a layer's rows, whatever their order and file layout, with floats rounded:
    two runs on the same inputs give the same digest."""
    files = [str(Path(release_dir) / f["path"]) for f in entry["files"]]
    relation = f"read_parquet([{', '.join(sql_literal(f) for f in files)}])"
    columns = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    values = ", ".join(
        f"round({quote_ident(name)}, {CONTENT_DECIMALS})"
        if kind in ("DOUBLE", "FLOAT")
        else quote_ident(name)
        for name, kind, *_ in columns
    )
    rows, total = con.execute(
        f"SELECT count(*), coalesce(sum(hash({values})::HUGEINT), 0) FROM {relation}"
    ).fetchone() or (0, 0)
    names = ",".join(f"{name}:{kind}" for name, kind, *_ in columns)
    return hashlib.sha256(f"{entry['name']}|{names}|{rows}|{total}".encode()).hexdigest()


def release_content(
    con: duckdb.DuckDBPyConnection, release_dir: Path, entries: Sequence[Mapping[str, Any]]
) -> dict[str, str]:
    return {entry["name"]: layer_content_digest(con, release_dir, entry) for entry in entries}


# --------------------------------------------------------------------------- public API


def publish_release(
    con: duckdb.DuckDBPyConnection,
    layers: Sequence[LayerSpec],
    published_dir: Path,
    *,
    release_id: str | None = None,
    schema_version: str = "1.0.0",
    privacy_rules: Sequence[str] | None = None,
    code_version: str | None = None,
    extra: Mapping[str, Any] | None = None,
    audit: Callable[[Path], Sequence[str]] | None = None,
    build_map: Callable[[Path], object] | None = None,
    skip_unchanged: bool = False,
    keep_releases: int = DEFAULT_KEEP_RELEASES,
    log: Callable[[str], None] = lambda message: None,
) -> Release:
    """Write, validate and atomically publish ``layers`` as a new release, then prune releases
    beyond the newest ``keep_releases``.

    Raises (and publishes nothing) if any layer fails to build, any file fails validation
    (GeoParquet 1.1 or plain Parquet), the layer schemas change without the matching
    ``schema_version`` bump against the current release, or ``audit`` (the privacy audit, given
    the directory of the release being built) reports a problem (:class:`ReleaseValidationError`).
    ``build_map``, given the validated release directory (its manifest written), adds the
    community map before the release becomes visible. With ``skip_unchanged``, layers whose
    content (floats to ``CONTENT_DECIMALS``; recorded as the manifest's ``content``) equals the
    current release's publish nothing: the
    current release is returned with ``published=False``.
    """
    check_layers(layers)
    if keep_releases < 1:
        raise ValueError(f"keep_releases must be at least 1, got {keep_releases}")
    _check_extra(extra or {})  # fail before any file is written
    extra = default_release_metadata() | dict(extra or {})
    if privacy_rules is None:
        privacy_rules = PrivacyRules().describe()
    if release_id is not None:
        _check_release_id(release_id)
    published_dir = Path(published_dir)
    releases = published_dir / RELEASES_DIR
    releases.mkdir(parents=True, exist_ok=True)
    with _publisher_lock(published_dir):
        for leftover in _clear_leftovers(published_dir):
            log(f"removed {leftover}, left by an interrupted publisher")
        existing = release_ids(published_dir)
        release_id = release_id or new_release_id(after=existing[-1] if existing else None)
        final = releases / release_id
        if final.exists():
            raise FileExistsError(f"release {release_id} already exists at {final}")
        staging = releases / f"{TMP_PREFIX}{release_id}"
        staging.mkdir()
        renamed = False
        try:
            current_dir = latest_release(published_dir)
            current = None if current_dir is None else read_manifest(current_dir)
            reusable = ReusableFiles.of_release(current_dir, current)
            entries = []
            for layer in layers:
                log(f"writing layer {layer.name}")
                entries.append(build_layer(con, layer, staging, reusable))
            linked = sum(
                reusable.holds(f["path"], f["sha256"]) for e in entries for f in e["files"]
            )
            if linked:
                log(f"{linked} partition file(s) unchanged: linked from the current release")
            problems = validate_release_files(staging, entries, reusable)
            problems += schema_problems(current, schema_version, entries)
            if audit is not None:
                problems += audit(staging)
            if problems:
                raise ReleaseValidationError(problems)
            content = release_content(con, staging, entries)
            if skip_unchanged and current_dir and current and current.get(CONTENT_KEY) == content:
                shutil.rmtree(staging, ignore_errors=True)
                log(f"nothing changed since release {current_dir.name}: it stays current")
                return Release(current_dir.name, current_dir, current, published=False)
            manifest = build_manifest(
                release_id,
                entries,
                schema_version=schema_version,
                privacy_rules=privacy_rules,
                code_version=code_version or current_code_version(),
                extra={**extra, CONTENT_KEY: content},
            )
            text = json.dumps(manifest, indent=2, default=_json_value) + "\n"
            manifest_problems = validate_manifest(json.loads(text))
            if manifest_problems:
                raise ReleaseValidationError([f"manifest.json {p}" for p in manifest_problems])
            write_text_durably(staging / MANIFEST_FILE, text)
            if build_map is not None:
                log("drawing the community map")
                build_map(staging)
            fsync_directory(staging)
            os.rename(staging, final)
            renamed = True
            fsync_directory(releases)
            _switch_latest(published_dir, release_id)
        except BaseException:
            # Unless LATEST already names it (an interrupt can land after the replace inside
            # _switch_latest), the new release was never visible: drop it.
            if read_latest_id(published_dir) != release_id:
                shutil.rmtree(final if renamed else staging, ignore_errors=True)
            raise
        for pruned in prune_releases(published_dir, keep_releases):
            log(f"pruned release {pruned} (keeping the newest {keep_releases})")
    return Release(release_id, final, manifest)


def read_latest_id(published_dir: Path) -> str | None:
    """The release id named by ``LATEST``, or None if nothing has been published."""
    try:
        release_id = (Path(published_dir) / LATEST_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not release_id:
        return None
    _check_release_id(release_id)  # never follow a LATEST that could escape releases/
    return release_id


def latest_release(published_dir: Path) -> Path | None:
    """Directory of the current release, or None if nothing has been published."""
    release_id = read_latest_id(published_dir)
    if release_id is None:
        return None
    path = Path(published_dir) / RELEASES_DIR / release_id
    if not path.is_dir():
        raise FileNotFoundError(f"{LATEST_FILE} names release {release_id}, but {path} is missing")
    return path


def read_manifest(release_dir: Path) -> dict[str, Any]:
    return json.loads((Path(release_dir) / MANIFEST_FILE).read_text(encoding="utf-8"))

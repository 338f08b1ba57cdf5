"""Atomic releases of the published layers.

A release is built in ``releases/.tmp-<id>/``, validated, renamed to ``releases/<id>/`` and only
then made current by atomically replacing the one-line ``LATEST`` file. Readers that follow
``LATEST`` therefore see either the previous release or the complete new one; a failure at any
step leaves the previous release and ``LATEST`` as they were.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from warehouse.geoparquet import (
    DEFAULT_CRS,
    GEOPARQUET_VERSION,
    fsync_directory,
    sql_identifier,
    sql_string,
    validate_geoparquet,
    write_geoparquet,
    write_parquet_table,
)

RELEASES_DIR = "releases"
LATEST_FILE = "LATEST"
MANIFEST_FILE = "manifest.json"
MANIFEST_VERSION = 1
TMP_PREFIX = ".tmp-"
# Layer names become file names and serving-view names; keep them plain identifiers.
_LAYER_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_RELEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# The serving database reserves this name for its release-info table.
RESERVED_LAYER_NAMES = frozenset({"releases"})
_MANIFEST_KEYS = frozenset(
    {"manifest_version", "release_id", "created_at", "code_version", "privacy_rules", "layers"}
)


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
    # Aggregate counts the privacy audit checks for small cells (0 < count < k).
    count_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Release:
    release_id: str
    path: Path
    manifest: Mapping[str, Any]


# --------------------------------------------------------------------------- small pieces


def new_release_id(now: dt.datetime | None = None) -> str:
    """``YYYYMMDDTHHMMSSZ-xxxxxx``: sorts by time; the random suffix keeps same-second ids apart."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
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
    clash = sorted(_MANIFEST_KEYS & set(extra))
    if clash:
        raise ValueError(f"extra manifest keys clash with reserved keys: {clash}")


def _json_value(value: Any) -> Any:
    """JSON-friendly form of a value DuckDB returns (dates and times as ISO 8601)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return str(value)


def _write_text_durably(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _file_columns(
    con: duckdb.DuckDBPyConnection, path: Path, descriptions: Mapping[str, str]
) -> list[dict[str, str]]:
    # Types as DuckDB reads the published file (GeoParquet geometry shows as GEOMETRY).
    rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet({sql_string(str(path))})").fetchall()
    columns = []
    for name, type_, *_ in rows:
        entry = {"name": name, "type": type_}
        if name in descriptions:
            entry["description"] = descriptions[name]
        columns.append(entry)
    return columns


def _time_extent(
    con: duckdb.DuckDBPyConnection, path: Path, column: str | None
) -> dict[str, Any] | None:
    if column is None:
        return None
    c = sql_identifier(column)
    low, high = con.execute(
        f"SELECT min({c}), max({c}) FROM read_parquet({sql_string(str(path))})"
    ).fetchone()
    return {"column": column, "min": _json_value(low), "max": _json_value(high)}


def _build_layer(
    con: duckdb.DuckDBPyConnection, layer: LayerSpec, directory: Path
) -> dict[str, Any]:
    """Write one layer file into ``directory`` and return its manifest entry."""
    path = directory / f"{layer.name}.parquet"
    entry: dict[str, Any] = {
        "name": layer.name,
        "file": path.name,
        "spatial": layer.spatial,
        "description": layer.description,
    }
    if layer.spatial:
        stats = write_geoparquet(con, layer.query, path, geometry_column=layer.geometry_column)
        entry |= {
            "format": f"GeoParquet {GEOPARQUET_VERSION}",
            "geometry_column": layer.geometry_column,
            "crs": DEFAULT_CRS,
            "geometry_types": list(stats.geometry_types),
            "bbox": list(stats.bbox) if stats.bbox else None,
        }
    else:
        stats = write_parquet_table(con, layer.query, path)
        entry |= {"format": "Parquet", "geometry_types": [], "bbox": None}
    entry |= {
        "rows": stats.rows,
        "columns": _file_columns(con, path, layer.column_descriptions),
        "time_extent": _time_extent(con, path, layer.time_column),
        "sha256": stats.sha256,
        "bytes": stats.bytes,
    }
    return entry


def build_manifest(
    release_id: str,
    layers: Sequence[Mapping[str, Any]],
    *,
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
        "code_version": code_version,
        "privacy_rules": list(privacy_rules),
        **extra,
        "layers": [dict(layer) for layer in layers],
    }


def _switch_latest(published_dir: Path, release_id: str) -> None:
    """Point ``LATEST`` at ``release_id`` with one atomic rename."""
    tmp = published_dir / f"{LATEST_FILE}.tmp"
    try:
        _write_text_durably(tmp, release_id + "\n")
        os.replace(tmp, published_dir / LATEST_FILE)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_directory(published_dir)


# --------------------------------------------------------------------------- public API


def publish_release(
    con: duckdb.DuckDBPyConnection,
    layers: Sequence[LayerSpec],
    published_dir: Path,
    *,
    release_id: str | None = None,
    privacy_rules: Sequence[str] = (),
    code_version: str = "",
    extra: Mapping[str, Any] | None = None,
    audit: Callable[[Path], Sequence[str]] | None = None,
) -> Release:
    """Write, validate and atomically publish ``layers`` as a new release.

    Raises (and publishes nothing) if any layer fails to build, any spatial file fails
    GeoParquet validation, or ``audit`` (e.g. the privacy audit, given the directory of the
    release being built) reports a problem (:class:`ReleaseValidationError`).
    """
    check_layers(layers)
    release_id = release_id or new_release_id()
    _check_release_id(release_id)
    extra = dict(extra or {})
    _check_extra(extra)  # fail before any file is written

    published_dir = Path(published_dir)
    releases = published_dir / RELEASES_DIR
    releases.mkdir(parents=True, exist_ok=True)
    final = releases / release_id
    if final.exists():
        raise FileExistsError(f"release {release_id} already exists at {final}")
    staging = releases / f"{TMP_PREFIX}{release_id}"
    staging.mkdir()  # fails if another publisher is building the same id
    renamed = False
    try:
        entries = [_build_layer(con, layer, staging) for layer in layers]
        problems = [
            problem
            for layer in layers
            if layer.spatial
            for problem in validate_geoparquet(staging / f"{layer.name}.parquet")
        ]
        if audit is not None:
            problems += audit(staging)
        if problems:
            raise ReleaseValidationError(problems)
        manifest = build_manifest(
            release_id,
            entries,
            privacy_rules=privacy_rules,
            code_version=code_version,
            extra=extra,
        )
        _write_text_durably(
            staging / MANIFEST_FILE, json.dumps(manifest, indent=2, default=_json_value) + "\n"
        )
        fsync_directory(staging)
        os.rename(staging, final)
        renamed = True
        fsync_directory(releases)
        _switch_latest(published_dir, release_id)
    except BaseException:
        # LATEST was not switched, so the renamed release was never visible: drop it too.
        shutil.rmtree(final if renamed else staging, ignore_errors=True)
        raise
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

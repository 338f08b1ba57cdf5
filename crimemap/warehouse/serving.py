"""Read-only DuckDB serving database of a published release.

BI tools open ``serving.duckdb`` (read-only) instead of the warehouse, so they never hold the
pipeline's write lock. The file holds each layer of the release as a table (with the dbt docs
as comments) plus a small ``releases`` table. It refers to no other file, so it can be copied to
a BI server or moved with the data directory, and a reader keeps what it opened even after
its release is pruned. It is rebuilt beside the old one and swapped in with ``os.replace``, so
readers of the old file are not blocked and nobody ever opens a half-built database.

A long-lived reader sees a new release by reconnecting once every connection it holds to the
file is closed: DuckDB shares one open database among a process's connections to the same
path, so a new connection made while an old one is open still reads the old file.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from crimemap.core.duckdb_spatial import connect
from crimemap.core.files import fsync_directory
from crimemap.core.sql import quote_ident, sql_literal
from crimemap.warehouse.publish import RESERVED_LAYER_NAMES, layer_scan_sql, read_manifest

RELEASES_TABLE = "releases"


def _create_layer_table(
    con: duckdb.DuckDBPyConnection, layer: Mapping[str, Any], release_dir: Path
) -> None:
    name = layer["name"]
    if name in RESERVED_LAYER_NAMES:
        raise ValueError(f"layer name {name!r} is reserved in the serving database")
    table = quote_ident(name)
    con.execute(f"CREATE TABLE {table} AS SELECT * FROM {layer_scan_sql(release_dir, layer)}")
    con.execute(f"COMMENT ON TABLE {table} IS {sql_literal(layer.get('description', ''))}")
    for column in layer.get("columns", []):
        if column.get("description"):
            con.execute(
                f"COMMENT ON COLUMN {table}.{quote_ident(column['name'])}"
                f" IS {sql_literal(column['description'])}"
            )


def _create_releases_table(con: duckdb.DuckDBPyConnection, manifest: Mapping[str, Any]) -> None:
    table = quote_ident(RELEASES_TABLE)
    con.execute(
        f"CREATE TABLE {table} (release_id VARCHAR, created_at VARCHAR, schema_version VARCHAR,"
        " code_version VARCHAR, layer VARCHAR, description VARCHAR, rows BIGINT, path VARCHAR,"
        " files INTEGER)"
    )
    con.executemany(
        f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                manifest["release_id"],
                manifest.get("created_at"),
                manifest.get("schema_version"),
                manifest.get("code_version"),
                layer["name"],
                layer.get("description"),
                layer.get("rows"),
                layer.get("path"),
                len(layer.get("files", [])),
            )
            for layer in manifest["layers"]
        ],
    )
    con.execute(
        f"COMMENT ON TABLE {table} IS "
        f"{sql_literal('Published release behind the views, one row per layer')}"
    )


def _remove_database_files(path: Path) -> None:
    for candidate in (path, path.with_name(path.name + ".wal")):
        candidate.unlink(missing_ok=True)


def build_serving_database(release_dir: Path, serving_path: Path) -> Path:
    """Build a fresh serving DuckDB file with one table per layer of ``release_dir``."""
    release_dir = Path(release_dir).resolve()
    serving_path = Path(serving_path)
    manifest = read_manifest(release_dir)
    serving_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = serving_path.with_name(f".{serving_path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        con = connect(tmp)
        try:
            for layer in manifest["layers"]:
                _create_layer_table(con, layer, release_dir)
            _create_releases_table(con, manifest)
            con.execute("CHECKPOINT")  # fold the WAL in, so the single file is complete
        finally:
            con.close()
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, serving_path)
    finally:
        _remove_database_files(tmp)
    fsync_directory(serving_path.parent)
    return serving_path

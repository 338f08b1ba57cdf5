"""DuckDB connections with the spatial extension loaded offline.

DuckDB fetches extensions from the internet by default, which fails on air-gapped agency servers.
The spatial binary ships inside the ``duckdb-extension-spatial`` wheel; we expose it to DuckDB
through an ``extension_directory`` laid out the way DuckDB expects
(``<dir>/<duckdb version>/<platform>/spatial.duckdb_extension``) and disable auto-install, so a
connection never reaches for the network.
"""

from __future__ import annotations

import os
import threading
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

SPATIAL_PACKAGE = "duckdb-extension-spatial"
EXTENSION_FILE = "spatial.duckdb_extension"

# The value types duckdb.connect accepts for ``config`` (its stub takes this exact dict type).
DuckDBConfig = dict[str, str | bool | int | float | list[str]]


class SpatialExtensionMissing(RuntimeError):
    """The spatial extension binary for this DuckDB version is not installed."""


def fetch_one(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> tuple[Any, ...]:
    """The row of a query that always returns one (an aggregate, EXISTS, a PRAGMA).

    No row at all is a bug, so it fails naming the query rather than as ``None[0]``.
    """
    row = con.execute(sql, params).fetchone()
    if row is None:
        raise LookupError(f"query returned no row: {sql}")
    return row


def duckdb_version_tag() -> str:
    return f"v{duckdb.__version__}"


@cache
def duckdb_platform() -> str:
    with duckdb.connect() as con:
        return str(fetch_one(con, "PRAGMA platform")[0])


def packaged_spatial_extension() -> Path:
    """Path of the spatial binary shipped by the ``duckdb-extension-spatial`` wheel."""
    try:
        import duckdb_extension_spatial
    except ImportError as exc:
        raise SpatialExtensionMissing(
            f"DuckDB spatial extension not installed: run `uv sync` (or "
            f"`pip install {SPATIAL_PACKAGE}=={duckdb.__version__}`)."
        ) from exc
    candidate = (
        Path(duckdb_extension_spatial.__file__).parent
        / "extensions"
        / duckdb_version_tag()
        / EXTENSION_FILE
    )
    if not candidate.is_file():
        raise SpatialExtensionMissing(
            f"{SPATIAL_PACKAGE} does not ship a build for duckdb {duckdb.__version__} "
            f"(looked for {candidate}); install {SPATIAL_PACKAGE}=={duckdb.__version__}."
        )
    return candidate


def default_extension_directory() -> Path:
    override = os.environ.get("CRIMEMAP_DUCKDB_EXTENSION_DIR")
    if override:
        return Path(override)
    data_dir = Path(os.environ.get("CRIMEMAP_DATA_DIR", "data"))
    return data_dir / ".duckdb_extensions"


def prepare_extension_directory(directory: Path | None = None) -> Path:
    """Lay out an extension directory that holds (a link to) the packaged spatial binary."""
    directory = (directory or default_extension_directory()).resolve()
    target = directory / duckdb_version_tag() / duckdb_platform() / EXTENSION_FILE
    source = packaged_spatial_extension()
    if target.is_symlink() or target.exists():
        if target.resolve() == source.resolve():
            return directory
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        target.symlink_to(source)
    except FileExistsError:  # another process laid it out meanwhile
        return directory
    except OSError:  # filesystems without symlinks: copy the binary instead
        target.write_bytes(source.read_bytes())
    return directory


def offline_config(extension_directory: Path) -> DuckDBConfig:
    return {
        "extension_directory": str(extension_directory),
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }


def connect(
    database: str | Path = ":memory:",
    *,
    read_only: bool = False,
    extension_directory: Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """A new DuckDB database (or a file's) with spatial loaded from the local wheel, never from
    the network. Library code that only needs scratch space uses ``scratch`` instead."""
    ext_dir = prepare_extension_directory(extension_directory)
    return _open_with_spatial(str(database), read_only=read_only, ext_dir=ext_dir)


def scratch(extension_directory: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A connection to the process's shared in-memory database, spatial loaded.

    Loading spatial costs about 0.2 s per database, more than most of the queries a step runs,
    so the pipeline's scratch work shares one database that loaded it once: each caller gets its
    own cursor. Cursors share the catalog but not their temporary tables, registered frames or
    session settings, so what a caller creates there must be ``TEMP``.
    """
    return _shared_memory_database(prepare_extension_directory(extension_directory)).cursor()


def _open_with_spatial(
    database: str, *, read_only: bool, ext_dir: Path
) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(database, read_only=read_only, config=offline_config(ext_dir))
    try:
        con.execute("LOAD spatial")
    except duckdb.Error as exc:
        con.close()
        raise SpatialExtensionMissing(
            f"could not load DuckDB spatial from {ext_dir}: {exc}. "
            f"Install {SPATIAL_PACKAGE}=={duckdb.__version__}."
        ) from exc
    return con


# One per process and extension directory; a forked child opens its own.
_shared: dict[tuple[int, Path], duckdb.DuckDBPyConnection] = {}
_shared_lock = threading.Lock()


def _shared_memory_database(ext_dir: Path) -> duckdb.DuckDBPyConnection:
    key = (os.getpid(), ext_dir)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = _open_with_spatial(":memory:", read_only=False, ext_dir=ext_dir)
        return _shared[key]

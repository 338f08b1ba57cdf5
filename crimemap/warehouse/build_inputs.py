"""Whether the warehouse is already what a dbt build would make of the current inputs.

A dbt build is a function of what it reads: the conformed files and load profiles, the dbt
project and vars, the dbt version and the profile's environment; no model reads the clock. A
run whose inputs are those of the last successful build (and whose warehouse nobody has
written since) would rebuild the same tables and judge them the same way, so the pipeline
replays that build's results instead of running it again (``defs/transform/assets.py``).

What the digest covers, and why it is enough:

- every police partition by its ``_load_id``: the id names the partition's landed content,
  and the incremental build (``incremental.py``) already keeps a table's rows for an unchanged
  id, so a partition landed again with the same id changes nothing dbt builds;
- every other conformed file and every load profile by its rows, blind to the lineage
  columns (a file landed again with the same rows has a new ``_ingested_at``, not new data);
- the incident tables' own inputs (``incremental.incident_inputs_digest``: vars, the SQL,
  boundaries, crosswalks, the code and settings that conform police rows);
- the whole dbt project but its build output, the profile's inputs
  (``dbt_parse.parse_inputs_digest``), crimemap's own code, which turns a build into what the
  UI shows, and the versions of DuckDB, its dbt adapter and dagster-dbt.

Anything else that changes leaves the warehouse as the last build made it; anything here that
changes makes the next run build.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

import duckdb

from crimemap.config.paths import DataPaths
from crimemap.core.sql import sql_literal
from crimemap.warehouse import incremental
from crimemap.warehouse.dbt_parse import parse_inputs_digest

# What a build writes into the dbt project folder itself: not an input.
BUILD_OUTPUT_DIRS = frozenset({"target", "logs", "dbt_packages"})
# What runs a build and reads its results, besides dbt-core (in the parse inputs).
ENGINE_PACKAGES = ("duckdb", "dbt-duckdb", "dagster-dbt")
POLICE_PARTITIONS = "police/*/*/*.parquet"  # under conformed/, as the police source reads them


def _files(root: Path, pattern: str = "*") -> Iterator[Path]:
    yield from sorted(p for p in root.rglob(pattern) if p.is_file()) if root.is_dir() else []


def project_inputs(project_dir: Path) -> Iterator[Path]:
    """Every file of the dbt project a build reads (models, macros, seeds, tests, settings)."""
    for path in _files(project_dir):
        if path.relative_to(project_dir).parts[0] not in BUILD_OUTPUT_DIRS:
            yield path


def police_load_ids(con: duckdb.DuckDBPyConnection, conformed: Path) -> list[str]:
    if not any(conformed.glob(POLICE_PARTITIONS)):
        return []
    glob = sql_literal(str(conformed / POLICE_PARTITIONS))
    rows = con.execute(
        f"SELECT DISTINCT _load_id FROM read_parquet({glob}, union_by_name = true) ORDER BY 1"
    ).fetchall()
    return [str(load_id) for (load_id,) in rows]


def data_digest(paths: DataPaths) -> str:
    """The conformed files and load profiles, as a build reads them."""
    digest = hashlib.sha256()
    police = paths.conformed / "police"
    with duckdb.connect() as con:
        digest.update(json.dumps(police_load_ids(con, paths.conformed)).encode())
        for root in (paths.conformed, paths.profiles):
            for path in _files(root, "*.parquet"):
                if not path.is_relative_to(police):
                    digest.update(f"\0{path.relative_to(paths.root)}\0".encode())
                    digest.update(incremental.file_content_digest(path, con).encode())
    return digest.hexdigest()


def code_digest(project_dir: Path) -> str:
    """The dbt project's files and crimemap's own code."""
    digest = hashlib.sha256()
    for root, files in (
        (project_dir, project_inputs(project_dir)),
        (incremental.PACKAGE_DIR, _files(incremental.PACKAGE_DIR, "*.py")),
    ):
        for path in files:
            digest.update(f"\0{path.relative_to(root)}\0".encode() + path.read_bytes())
    return digest.hexdigest()


def dbt_inputs_digest(
    incident_inputs: str, variables: Mapping[str, Any], project_dir: Path, paths: DataPaths
) -> str:
    """One digest of everything a dbt build's tables and test results depend on, given the
    incident tables' own (``incremental.incident_inputs_digest``)."""
    parts = (
        incident_inputs,
        parse_inputs_digest(variables, project_dir),
        code_digest(project_dir),
        data_digest(paths),
        *(f"{package} {version(package)}" for package in ENGINE_PACKAGES),
    )
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def warehouse_state(warehouse: Path) -> list[int]:
    """What changes when anything writes the warehouse: its size and modification time, and
    those of a write-ahead log left beside it."""
    state = []
    for path in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
        stat = path.stat() if path.exists() else None
        state += [stat.st_size, stat.st_mtime_ns] if stat else [-1, -1]
    return state

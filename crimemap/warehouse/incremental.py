"""When the incident tables may be built incrementally, and when they must be rebuilt whole.

``stg_police__offenses``, ``int_incidents__area_assigned``, ``fct_incidents`` and
``int_incidents__grid_assigned`` are incremental by police partition
(``dbt_project/macros/incremental_incidents.sql``): a build rebuilds only the incidents of
partitions whose content changed. That is right only while everything else
they are computed from is what it was at the last build: the boundaries (area assignment), the
crosswalks (classification), the dbt vars and the dbt project itself. This module fingerprints
those inputs; when the fingerprint differs from the one recorded by the last successful build,
the build is a ``--full-refresh``.

A partition's ``_load_id`` names its landed content, and the conformed rows keep it, so what turns
landed rows into conformed ones is fingerprinted too: the jurisdiction's police and quality
settings and the code of the police ingestion and the quality rules.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.config.paths import DataPaths
from crimemap.core.duckdb_spatial import fetch_one, scratch
from crimemap.core.sql import quote_ident, sql_literal
from crimemap.ingestion.landing import LINEAGE_COLUMNS

# The conformed files the incident tables read besides the police partitions.
INCIDENT_INPUT_FILES: tuple[str, ...] = ("areas/areas.parquet", "crosswalks/custom.parquet")
# The parts of the dbt project a model's output can depend on.
PROJECT_PARTS: tuple[str, ...] = ("dbt_project.yml", "models", "macros", "seeds")
# The code that turns a landed police partition into conformed rows (same load id): the split
# step sets the rules' settings (its clock, the areas' table) in the police assets.
CONFORM_CODE: tuple[str, ...] = (
    "ingestion/police",
    "ingestion/landing.py",
    "quality",
    "orchestration/defs/police",
)
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def record_path(paths: DataPaths) -> Path:
    """The fingerprint of the inputs the warehouse's incident tables were last built from."""
    return paths.root / "dbt" / "incident_inputs.sha256"


def file_content_digest(path: Path, con: duckdb.DuckDBPyConnection | None = None) -> str:
    """A digest of a Parquet file's rows and columns, blind to row order and to the lineage
    columns (a re-landed file with the same rows has a new ``_ingested_at``, not new content):
    its column names and types, its row count and the sum of its rows' hashes."""
    if not path.exists():
        return "absent"
    con = con if con is not None else scratch()
    relation = f"read_parquet({sql_literal(str(path))})"
    described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    columns = [(name, kind) for name, kind, *_ in described if name not in LINEAGE_COLUMNS]
    row_hash = (
        f"hash({', '.join(quote_ident(name) for name, _ in columns)})::HUGEINT" if columns else "0"
    )
    rows, total = fetch_one(con, f"SELECT count(*), coalesce(sum({row_hash}), 0) FROM {relation}")
    return hashlib.sha256(f"{columns}|{rows}|{total}".encode()).hexdigest()


def project_files(project_dir: Path) -> Iterator[Path]:
    for part in PROJECT_PARTS:
        root = project_dir / part
        yield from sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]


def conform_files(package_dir: Path = PACKAGE_DIR) -> Iterator[Path]:
    for part in CONFORM_CODE:
        root = package_dir / part
        yield from sorted(root.rglob("*.py")) if root.is_dir() else [root]


def conform_settings(config: JurisdictionConfig) -> str:
    """The jurisdiction's settings that shape conformed police rows, without the months the
    data spans (a new month is not a new setting)."""
    police = [dataclasses.replace(s, start_month=None, end_month=None) for s in config.police]
    return repr((police, config.boundary_tolerance_m, config.quality))


def incident_inputs_digest(
    paths: DataPaths,
    dbt_vars: Mapping[str, Any],
    project_dir: Path,
    config: JurisdictionConfig | None = None,
) -> str:
    """One digest of everything the incident tables depend on except the police partitions."""
    digest = hashlib.sha256(json.dumps(dict(dbt_vars), sort_keys=True).encode())
    for path in project_files(project_dir):
        digest.update(str(path.relative_to(project_dir)).encode() + b"\0" + path.read_bytes())
    for path in conform_files():
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0" + path.read_bytes())
    if config is not None:
        digest.update(conform_settings(config).encode())
    for name in INCIDENT_INPUT_FILES:
        digest.update(f"{name}\0{file_content_digest(paths.conformed / name)}".encode())
    return digest.hexdigest()


def needs_full_refresh(record: Path, digest: str) -> bool:
    """True unless the last successful build recorded this very digest."""
    return not record.exists() or record.read_text(encoding="utf-8").strip() != digest

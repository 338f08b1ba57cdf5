"""Column lineage of the dbt models: which upstream columns each model column is made from.

Deriving it (sqlglot optimizing each model's compiled SQL against its parents' schemas, as
dagster-dbt does) takes about 25 s for this project, longer than building the marts, so it is
not paid on every run: ``crimemap lineage --write`` records it in ``dbt_project/
column_lineage.json`` with the digest of each model's SQL file, a test keeps it current, and
each run attaches the recorded lineage of every model whose SQL is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import duckdb

from crimemap.core.project import DBT_PROJECT_DIR

LINEAGE_PATH = DBT_PROJECT_DIR / "column_lineage.json"

# (model name) -> {"sql_sha256": str, "columns": {column: [[*asset key path, column], ...]}}
Lineage = dict[str, dict[str, Any]]


def sql_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def model_files(project_dir: Path = DBT_PROJECT_DIR) -> dict[str, Path]:
    """Every model's SQL file by model name."""
    return {path.stem: path for path in sorted((project_dir / "models").rglob("*.sql"))}


def load_lineage(path: Path = LINEAGE_PATH) -> Lineage:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def stale_models(lineage: Lineage, project_dir: Path = DBT_PROJECT_DIR) -> list[str]:
    """Models whose SQL file differs from (or is missing in) the recorded lineage, and recorded
    models that no longer exist."""
    files = model_files(project_dir)
    changed = [
        name
        for name, path in files.items()
        if lineage.get(name, {}).get("sql_sha256") != sql_digest(path)
    ]
    return sorted(changed + [name for name in lineage if name not in files])


def current_lineage(
    name: str, lineage: Lineage, project_dir: Path = DBT_PROJECT_DIR
) -> dict[str, list[list[str]]] | None:
    """The recorded column lineage of a model, or None when its SQL changed since."""
    entry = lineage.get(name)
    path = model_files(project_dir).get(name)
    if entry is None or path is None or entry.get("sql_sha256") != sql_digest(path):
        return None
    return entry.get("columns")


def derive_lineage(
    manifest: Mapping[str, Any],
    con: duckdb.DuckDBPyConnection,
    target_path: Path,
    build: Callable[..., Mapping[str, Any]],
    event_history: Callable[..., Any],
    translator: Any,
    project_dir: Path = DBT_PROJECT_DIR,
) -> Lineage:
    """Every model's column lineage from its compiled SQL (under ``target_path``) and the
    column types of it and its parent models and seeds in the warehouse. ``build`` and
    ``event_history`` are dagster-dbt's lineage builder and its input type. A model whose SQL
    sqlglot cannot resolve (read from files, or a construct it cannot trace) is recorded with
    no columns and the reason."""
    files = model_files(project_dir)
    lineage: Lineage = {}
    for unique_id, node in sorted(manifest["nodes"].items()):
        if node["resource_type"] != "model" or node["name"] not in files:
            continue
        entry: dict[str, Any] = {"sql_sha256": sql_digest(files[node["name"]])}
        parents = {
            parent["relation_name"]: column_types(con, parent["relation_name"])
            for parent in (manifest["nodes"].get(p) for p in manifest["parent_map"][unique_id])
            if parent is not None and parent["resource_type"] in ("model", "seed")
        }
        try:
            metadata = build(
                event_history_metadata=event_history(
                    columns=column_types(con, node["relation_name"]), parents=parents
                ),
                dbt_resource_props=node,
                manifest=manifest,
                dagster_dbt_translator=translator,
                target_path=target_path,
                project=None,
            )
        except Exception as exc:  # sqlglot's many errors: record why, keep the others
            entry["columns"] = None
            entry["reason"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        else:
            found = metadata.get("dagster/column_lineage")
            entry["columns"] = {
                column: sorted([*dep.asset_key.path, dep.column_name] for dep in deps)
                for column, deps in sorted((found.deps_by_column if found else {}).items())
            }
        lineage[node["name"]] = entry
    return lineage


def column_types(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, dict[str, str]]:
    described = con.execute(f"DESCRIBE {relation}").fetchall()
    return {name: {"data_type": kind} for name, kind, *_ in described}


def lineage_json(lineage: Lineage) -> str:
    return json.dumps(lineage, indent=1, sort_keys=True) + "\n"


def quiet_sqlglot() -> None:
    """dagster-dbt warns once per implicitly aliased column; the file records them as empty."""
    logging.getLogger("dagster_dbt").setLevel(logging.ERROR)
    logging.getLogger("sqlglot").setLevel(logging.ERROR)

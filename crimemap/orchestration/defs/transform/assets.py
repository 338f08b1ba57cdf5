"""dbt models as Dagster assets: staging, intermediate and marts built in DuckDB."""

import fcntl
import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    MetadataValue,
    Output,
    TableColumn,
    TableColumnDep,
    TableColumnLineage,
    TableSchema,
)
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtProject,
    dbt_assets,
)

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.config.runtime import dbt_vars
from crimemap.core.duckdb_spatial import connect, fetch_one
from crimemap.core.project import DBT_PROJECT_DIR
from crimemap.core.sql import quote_ident
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.police.assets import conformed_key
from crimemap.orchestration.defs.police.assets import quarantine_key as police_quarantine_key
from crimemap.orchestration.defs.sources.assets import quarantine_key, split_source_names
from crimemap.orchestration.defs.sources.surveys import QUARANTINE_SURVEYS
from crimemap.orchestration.defs.transform import last_build
from crimemap.orchestration.defs.transform.resources import DbtCli
from crimemap.warehouse import build_inputs, incremental
from crimemap.warehouse.column_lineage import Lineage, current_lineage, load_lineage
from crimemap.warehouse.dbt_parse import parse_inputs_digest, record_parse, wait_for_parse
from crimemap.warehouse.memory import dbt_memory_limit
from crimemap.warehouse.previews import (
    MART_BASE_SQL,
    MART_PREVIEWS,
    image_markdown,
    mart_preview_sql,
    preview_png,
    top_ten_markdown,
)

POLICE_SOURCE_KEY = AssetKey(["conformed", "police"])
PROFILES_SOURCE_KEY = AssetKey(["quality", "load_profiles"])
# The incremental models (dbt_project/macros/incremental_incidents.sql).
INCIDENT_TABLE_KEYS = {
    AssetKey(["staging", "stg_police__offenses"]),
    AssetKey(["intermediate", "int_incidents__area_assigned"]),
    AssetKey(["marts", "fct_incidents"]),
    AssetKey(["intermediate", "int_incidents__grid_assigned"]),
}


def manifest_is_stale(project: DbtProject) -> bool:
    """True when the manifest is missing or older than any file of the dbt project."""
    if not project.manifest_path.exists():
        return True
    built = project.manifest_path.stat().st_mtime
    sources = [project.project_dir / "dbt_project.yml", project.project_dir / "profiles.yml"]
    for folder in ("models", "seeds", "macros", "tests"):
        sources.extend(p for p in (project.project_dir / folder).rglob("*") if p.is_file())
    return any(p.stat().st_mtime > built for p in sources if p.exists())


@cache
def prepared_dbt_project() -> DbtProject:
    """The dbt project with a current manifest, parsed once per process when it is stale (a
    fresh checkout has no target/manifest.json; `dbt parse` makes one in a few seconds). dbt's
    profile reads the data directory from the environment: export it first."""
    project = DbtProject(project_dir=DBT_PROJECT_DIR)
    # Processes that start together (the UI and a run, tests side by side) parse one at a
    # time: the second finds the first's manifest current.
    project.manifest_path.parent.mkdir(parents=True, exist_ok=True)
    with (project.manifest_path.parent / "prepare.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if manifest_is_stale(project):
            project.preparer.prepare(project)
    return project


def police_keys(config: JurisdictionConfig) -> list[AssetKey]:
    return [conformed_key(s.name) for s in config.police]


def quarantine_keys(config: JurisdictionConfig) -> list[AssetKey]:
    """Every split's quarantine asset: the splits write the load profiles beside them."""
    return [
        *(police_quarantine_key(s.name) for s in config.police),
        *(quarantine_key(name) for name in split_source_names(config)),
        QUARANTINE_SURVEYS,
    ]


TEST_SENTENCES = {
    "not_null": "{column} is never null",
    "not_null_columns": "none of {columns} is ever null",
    "unique": "{column} is unique",
    "accepted_values": "{column} takes only {values}",
    "relationships": "every {column} exists in {to}.{field}",
}


def dbt_test_description(test: Mapping[str, Any]) -> str:
    """One sentence for a dbt data test: a generic test's assertion, or a singular test's own
    description, else its name."""
    if test.get("description"):
        return str(test["description"])
    metadata = test.get("test_metadata") or {}
    kwargs = metadata.get("kwargs") or {}
    template = TEST_SENTENCES.get(metadata.get("name", ""))
    if template is not None:
        to = str(kwargs.get("to", ""))
        return "dbt test: " + template.format(
            column=kwargs.get("column_name") or test.get("column_name") or "the row",
            values=", ".join(map(str, kwargs.get("values") or [])),
            columns=", ".join(map(str, kwargs.get("column_names") or [])),
            to=to.split("'")[1] if "'" in to else to,
            field=kwargs.get("field", ""),
        )
    if metadata.get("name"):
        arguments = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k != "model")
        return f"dbt test {metadata['name']}({arguments})"
    return f"dbt test {test.get('name', '')}: its query returns no rows"


class CrimemapDbtTranslator(DagsterDbtTranslator):
    """Models keyed by layer (``staging/``, ``intermediate/``, ``marts/``); sources by meta."""

    def __init__(self, config: JurisdictionConfig, settings: DagsterDbtTranslatorSettings):
        super().__init__(settings=settings)
        self.config = config

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        resource_type = dbt_resource_props["resource_type"]
        if resource_type == "model":
            layer = dbt_resource_props["fqn"][1]
            return AssetKey([layer, dbt_resource_props["name"]])
        if resource_type == "seed":
            return AssetKey(["seeds", dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: Any
    ) -> AssetSpec:
        # The police source and the load profiles are each one glob over files that several
        # assets write; in the asset graph the staging model depends on those assets instead.
        spec = super().get_asset_spec(manifest, unique_id, project)
        globbed = {POLICE_SOURCE_KEY: police_keys, PROFILES_SOURCE_KEY: quarantine_keys}
        if not any(dep.asset_key in globbed for dep in spec.deps):
            return spec
        deps = [d for d in spec.deps if d.asset_key not in globbed]
        for dep in spec.deps:
            if dep.asset_key in globbed:
                deps += [AssetDep(key) for key in globbed[dep.asset_key](self.config)]
        return spec.replace_attributes(deps=deps)

    def get_asset_check_spec(
        self, asset_spec: AssetSpec, manifest: Mapping[str, Any], unique_id: str, project: Any
    ) -> AssetCheckSpec | None:
        # dbt tests rarely carry a description: say what each one asserts.
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        test = manifest["nodes"].get(unique_id, {})
        return spec._replace(description=dbt_test_description(test))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props["fqn"]
        return {"staging": "staging", "intermediate": "transform"}.get(fqn[1], "marts")


def dbt_models(project: DbtProject, config: JurisdictionConfig) -> AssetsDefinition:
    """Every dbt model, seed and data test as assets and checks, built by one ``dbt build``."""

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=CrimemapDbtTranslator(
            config, settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
        ),
    )
    def crimemap_dbt_models(
        context: AssetExecutionContext, data_dir: DataDirectory, dbt: DbtCli
    ) -> Iterator[Any]:
        # Run artifacts belong with the data they describe, not in the source tree; one folder,
        # reused, because the warehouse has one writer at a time.
        paths = data_dir.paths
        target = paths.dbt_target
        variables = dbt_vars(config)
        # A build of everything, from the inputs of the last one, into the warehouse it left:
        # its results stand (crimemap/warehouse/build_inputs.py).
        whole = context.selected_asset_keys == context.assets_def.keys and (
            context.selected_asset_check_keys == context.assets_def.check_keys
        )
        # The incident tables build incrementally by police partition unless an input they
        # share across partitions changed (crimemap/warehouse/incremental.py). The record goes
        # first, so a build that fails is followed by a full one.
        record = incremental.record_path(paths)
        digest = incremental.incident_inputs_digest(paths, variables, DBT_PROJECT_DIR, config)
        inputs = build_inputs.dbt_inputs_digest(digest, variables, DBT_PROJECT_DIR, paths)
        kept = last_build.record_path(paths)
        warehouse = build_inputs.warehouse_state(paths.warehouse)
        standing = last_build.standing(kept, inputs, warehouse) if whole else None
        if standing is not None:
            context.log.info(
                f"dbt: not run; every input is as the build in run {standing.run_id} found it, "
                "so its tables and test results stand"
            )
            yield from standing.events
            return
        kept.unlink(missing_ok=True)
        # dbt unit tests check the SQL against fixtures written for the project's own vars:
        # they run in the test suite (tests/dbt/test_dbt_project.py), not on a jurisdiction's
        # data.
        args = ["build", "--exclude", "resource_type:unit_test", "--vars", json.dumps(variables)]
        # dbt's file log defaults to debug: every statement's full SQL, tens of MB a run at a
        # million incidents, formatted in dbt's process. The run log keeps dbt's info lines;
        # `crimemap dbt -- --log-level-file debug ...` writes the SQL for a closer look.
        args += ["--log-level-file", "info"]
        if incremental.needs_full_refresh(record, digest):
            context.log.info(
                "incident tables: full rebuild (boundaries, crosswalks, vars or SQL changed)"
            )
            args.append("--full-refresh")
        else:
            context.log.info("incident tables: incremental (only changed police partitions)")
        record.unlink(missing_ok=True)
        parse = wait_for_parse(target)
        if parse is not None:
            outcome = "done" if parse.succeeded else "failed (the build parses for itself)"
            context.log.info(
                f"dbt parse, started with the run: {outcome}; "
                f"waited {parse.waited_seconds:.1f} s for it"
            )
        with dbt_memory_limit(data_dir.paths.conformed / "police") as memory_limit:
            context.log.info(f"dbt's DuckDB memory limit: {memory_limit}")
            events = list(dbt.cli(args, context=context, target_path=target).stream())
        # The build succeeded (a failed one raises): its saved parse is current for these vars.
        record_parse(target, parse_inputs_digest(variables))
        # A subset that left an incident table out leaves it as it was: no record, a full
        # build next time.
        if context.selected_asset_keys >= INCIDENT_TABLE_KEYS:
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(digest + "\n", encoding="utf-8")
        described = list(with_table_metadata(events, paths.warehouse))
        if whole:
            state = build_inputs.warehouse_state(paths.warehouse)
            build = last_build.LastBuild(inputs, state, context.run_id, described)
            if not last_build.save(kept, build):
                context.log.info("dbt: this build's events cannot stand for a later one")
        yield from described

    return crimemap_dbt_models


def with_table_metadata(events: Iterable[Any], warehouse: Path) -> Iterator[Any]:
    """dbt's events, each model's and seed's output with what the UI shows of it (see
    ``table_metadata``), read once dbt has let go of the warehouse (DuckDB has one writer;
    reading during the build would wait on it)."""
    lineage = load_lineage()
    with connect(warehouse, read_only=True) as con:
        for event in events:
            if isinstance(event, Output):
                unique_id = event.metadata.get("unique_id")
                resource, _, name = str(getattr(unique_id, "value", "")).partition(".")
                if resource in ("model", "seed"):
                    name = name.split(".")[-1]
                    metadata = {**event.metadata, **table_metadata(con, name, lineage)}
                    metadata.setdefault("dagster/column_schema", table_schema(con, name))
                    event = event.with_metadata(metadata)
            yield event


def table_metadata(con: Any, name: str, lineage: Lineage) -> dict[str, Any]:
    """A model's row count, its recorded column lineage (when its SQL is unchanged), a PNG map
    preview for a spatial mart and a top-10 table for a key mart."""
    (rows,) = fetch_one(con, f"SELECT count(*) FROM main.{quote_ident(name)}")
    metadata: dict[str, Any] = {"dagster/row_count": rows}
    columns = current_lineage(name, lineage)
    if columns is not None:
        metadata["dagster/column_lineage"] = TableColumnLineage(
            deps_by_column={
                column: [TableColumnDep(AssetKey(dep[:-1]), dep[-1]) for dep in deps]
                for column, deps in columns.items()
            }
        )
    if name in MART_PREVIEWS:
        key, preview = MART_PREVIEWS[name]
        png = preview_png(con, mart_preview_sql(name, key, preview), preview.label, MART_BASE_SQL)
        metadata["preview"] = MetadataValue.md(image_markdown(png, preview.label))
    top_ten = top_ten_markdown(con, name)
    if top_ten is not None:
        metadata["top_10"] = MetadataValue.md(top_ten)
    return metadata


def table_schema(con: Any, name: str) -> TableSchema:
    columns = con.execute(f"DESCRIBE main.{quote_ident(name)}").fetchall()
    return TableSchema(columns=[TableColumn(name, kind) for name, kind, *_ in columns])

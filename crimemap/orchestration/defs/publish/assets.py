"""Publishing: a privacy-audited GeoParquet release and the read-only serving database."""

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    multi_asset,
)

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.config.paths import DataPaths
from crimemap.core.duckdb_spatial import connect, scratch
from crimemap.core.marts import published_marts
from crimemap.core.project import DBT_PROJECT_DIR
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.warehouse.code_version import code_version
from crimemap.warehouse.column_docs import mart_column_descriptions
from crimemap.warehouse.community_map import MAP_DIR, MAP_FILE, build_community_map
from crimemap.warehouse.freshness import source_freshness
from crimemap.warehouse.layers import PUBLISHED_SCHEMA_PATH, published_layers
from crimemap.warehouse.previews import (
    LAYER_PREVIEWS,
    image_markdown,
    layer_base_sql,
    layer_preview_sql,
    preview_png,
)
from crimemap.warehouse.privacy import PrivacyRules, audit_release
from crimemap.warehouse.publish import (
    LayerSpec,
    Release,
    layer_scan_sql,
    publish_release,
    read_manifest,
    release_ids,
)
from crimemap.warehouse.qgis_styles import write_qgis_styles
from crimemap.warehouse.salt import SALT_ENV, SaltError, publication_salt
from crimemap.warehouse.schema_contract import load_contract
from crimemap.warehouse.serving import build_serving_database

# The publish step waits for every mart a release publishes (meta.publish in its YAML).
PUBLISHED_MARTS = [AssetKey(["marts", mart.name]) for mart in published_marts()]


def privacy_rules(jurisdiction: JurisdictionConfig) -> PrivacyRules:
    settings = jurisdiction.publishing
    return PrivacyRules(
        min_cell_count=settings.min_cell_count,
        point_generalization=settings.point_generalization,
        point_cell_m=settings.point_cell_m,
        min_population=jurisdiction.analysis.min_population,
    )


def release_layers(
    config: JurisdictionConfig, paths: DataPaths, rules: PrivacyRules
) -> list[LayerSpec]:
    """The layers a release of this jurisdiction publishes, described by the dbt docs."""
    return published_layers(
        rules,
        config.projected_crs,
        config.timezone,
        publication_salt(
            paths.root,
            has_releases=bool(release_ids(paths.published)),
            configured=os.environ.get(SALT_ENV),
        ),
        column_docs=mart_column_descriptions(DBT_PROJECT_DIR),
    )


def privacy_audit(
    release_dir: Path, rules: PrivacyRules, projected_crs: str, layers: Sequence[LayerSpec]
) -> list[str]:
    """Every violation found in the files of a release; empty when it may be published."""
    with scratch() as con:
        return audit_release(
            release_dir,
            [(layer.name, layer.path, bool(layer.partition_by), layer.privacy) for layer in layers],
            rules,
            projected_crs,
            con,
        )


def build_views(release_dir: Path) -> None:
    """What a release shows besides its data: the community map and the QGIS styles."""
    build_community_map(release_dir)
    # A style for an empty layer (a city without a facility list) would show what it lacks.
    layers = [layer["name"] for layer in read_manifest(release_dir)["layers"] if layer["rows"]]
    write_qgis_styles(release_dir, layers)


RELEASE_KEY = AssetKey(["published", "release"])


def layer_key(name: str) -> AssetKey:
    return AssetKey(["published", name])


def layer_names() -> list[str]:
    """The published layers, as the committed schema contract names them."""
    _, contract = load_contract(PUBLISHED_SCHEMA_PATH)
    return sorted(contract)


def layer_result(
    entry: Mapping[str, Any], release: Release, preview: str | None
) -> MaterializeResult:
    """One published layer in the UI: its rows, columns, files, the release it is in and its
    map preview (markdown)."""
    columns = [
        TableColumn(column["name"], column["type"], description=column.get("description"))
        for column in entry["columns"]
    ]
    return MaterializeResult(
        asset_key=layer_key(entry["name"]),
        metadata={
            "dagster/row_count": entry["rows"],
            "dagster/column_schema": TableSchema(columns=columns),
            "release_id": release.release_id,
            "published": release.published,
            "bytes": entry["bytes"],
            "path": MetadataValue.path(str(release.path / entry["path"])),
            **({"preview": MetadataValue.md(preview)} if preview else {}),
        },
    )


def layer_previews(release: Release) -> dict[str, str]:
    """Each spatial layer's PNG map preview as markdown, drawn from the release's own files
    over the areas layer."""
    layers = {entry["name"]: entry for entry in release.manifest["layers"]}
    areas = layers.get("areas")
    base = layer_base_sql(layer_scan_sql(release.path, areas)) if areas else None
    previews = {}
    with scratch() as con:
        for name, preview in LAYER_PREVIEWS.items():
            if name in layers:
                sql = layer_preview_sql(layer_scan_sql(release.path, layers[name]), preview)
                png = preview_png(con, sql, preview.label, base)
                previews[name] = image_markdown(png, preview.label)
    return previews


def published_release(config: JurisdictionConfig) -> AssetsDefinition:
    """The release of this jurisdiction: every published mart as a layer, audited; each layer
    is its own asset, so the UI shows its rows, schema and freshness."""

    @multi_asset(
        name="published__release",
        specs=[
            AssetSpec(
                RELEASE_KEY,
                deps=PUBLISHED_MARTS,
                group_name="publish",
                kinds={"geoparquet", "duckdb"},
                description=(
                    "GeoParquet 1.1 layers + manifest + community map, switched atomically; "
                    "serving.duckdb rebuilt. A run whose layers match the current release's "
                    "publishes nothing."
                ),
            ),
            *(
                AssetSpec(
                    layer_key(name),
                    deps=[RELEASE_KEY],
                    group_name="publish",
                    kinds={"geoparquet"},
                    description=f"The {name} layer of the current release.",
                )
                for name in layer_names()
            ),
        ],
    )
    def _release(
        context: AssetExecutionContext, data_dir: DataDirectory
    ) -> Iterator[MaterializeResult]:
        paths = data_dir.paths
        rules = privacy_rules(config)
        try:
            layers = release_layers(config, paths, rules)
        except SaltError as exc:
            raise Failure(description=str(exc), allow_retries=False) from exc
        schema_version, _ = load_contract(PUBLISHED_SCHEMA_PATH)
        with connect(paths.warehouse, read_only=True) as con:
            freshness = source_freshness(con, config.timezone, config.source_modes)
            release = publish_release(
                con,
                layers,
                paths.published,
                schema_version=schema_version,
                privacy_rules=rules.describe(),
                code_version=code_version(),
                extra={
                    "jurisdiction": config.name,
                    **({"terms": config.publishing.terms} if config.publishing.terms else {}),
                    "privacy": rules.settings(),
                    "source_freshness": freshness,
                },
                audit=lambda release_dir: privacy_audit(
                    release_dir, rules, config.projected_crs, layers
                ),
                build_map=build_views,
                skip_unchanged=True,
                keep_releases=config.publishing.keep_releases,
                log=context.log.info,
            )
        if release.published:
            build_serving_database(release.path, paths.serving)
            context.log.info(f"published release {release.release_id} to {release.path}")
        else:
            context.log.info(f"no new release: {release.release_id} has the same content")
        yield MaterializeResult(
            asset_key=RELEASE_KEY,
            metadata={
                "release_id": release.release_id,
                "published": release.published,
                "schema_version": schema_version,
                "path": MetadataValue.path(str(release.path)),
                "serving_database": MetadataValue.path(str(paths.serving)),
                "map": MetadataValue.path(str(release.path / MAP_DIR / MAP_FILE)),
                "layers": MetadataValue.json(
                    {layer["name"]: layer["rows"] for layer in release.manifest["layers"]}
                ),
                "source_freshness": MetadataValue.json(
                    {f["source"]: f["latest"] or f["loaded_at"] for f in freshness}
                ),
            },
        )
        previews = layer_previews(release)
        for entry in release.manifest["layers"]:
            yield layer_result(entry, release, previews.get(entry["name"]))

    return _release

"""Publishing: a privacy-audited GeoParquet release and the read-only serving database."""

import os
import secrets
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from orchestration.defs.jurisdiction import Jurisdiction
from orchestration.settings import DBT_PROJECT_DIR, DataPaths, data_paths
from warehouse.column_docs import mart_column_descriptions
from warehouse.duckdb_spatial import connect
from warehouse.layers import published_layers
from warehouse.privacy import PrivacyRules, audit_columns, audit_counts, audit_incident_points
from warehouse.publish import LayerSpec, publish_release
from warehouse.serving import build_serving_database

PUBLISHED_MARTS = [
    AssetKey(["marts", "fct_incidents"]),
    AssetKey(["marts", "dim_area"]),
    AssetKey(["marts", "area_month_rates"]),
    AssetKey(["marts", "quality_scorecard"]),
    AssetKey(["marts", "offense_spikes"]),
    AssetKey(["marts", "dim_grid_cell"]),
    AssetKey(["marts", "hotspots"]),
    AssetKey(["marts", "emerging_hotspots"]),
    AssetKey(["marts", "service_access"]),
    AssetKey(["marts", "priority_areas"]),
    AssetKey(["marts", "crime_social_correlation"]),
    AssetKey(["marts", "initiative_impact"]),
    AssetKey(["marts", "hotspot_forecast"]),
    AssetKey(["marts", "hotspot_forecast_scores"]),
]


def publication_salt(paths: DataPaths) -> str:
    """A per-installation secret for published ids (``CRIMEMAP_PUBLISH_SALT`` overrides it).

    Kept beside the data so ids stay stable from release to release.
    """
    configured = os.environ.get("CRIMEMAP_PUBLISH_SALT")
    if configured:
        return configured
    salt_file = paths.root / ".publish_salt"
    if not salt_file.exists():
        salt_file.write_text(secrets.token_hex(32))
    return salt_file.read_text().strip()


def privacy_audit(
    release_dir: Path, rules: PrivacyRules, projected_crs: str, layers: list[LayerSpec]
) -> list[str]:
    """Every violation found in the files of a release; empty when it may be published."""
    with connect() as con:
        problems: list[str] = []
        for path in sorted(release_dir.glob("*.parquet")):
            problems += audit_columns(con, path, rules)
        problems += audit_incident_points(
            con, release_dir / "incidents.parquet", rules, projected_crs
        )
        for layer in layers:
            if layer.count_columns:
                problems += audit_counts(
                    con,
                    release_dir / f"{layer.name}.parquet",
                    list(layer.count_columns),
                    rules.min_cell_count,
                )
    return problems


@asset(
    key=["published", "release"],
    deps=PUBLISHED_MARTS,
    group_name="publish",
    kinds={"geoparquet", "duckdb"},
    description="GeoParquet 1.1 layers + manifest, switched atomically; serving.duckdb rebuilt.",
)
def published_release(
    context: AssetExecutionContext, jurisdiction: Jurisdiction
) -> MaterializeResult:
    paths = data_paths()
    rules = PrivacyRules()
    layers = published_layers(
        rules,
        jurisdiction.projected_crs,
        jurisdiction.timezone,
        publication_salt(paths),
        column_docs=mart_column_descriptions(DBT_PROJECT_DIR),
    )
    with connect(paths.warehouse, read_only=True) as con:
        release = publish_release(
            con,
            layers,
            paths.published,
            privacy_rules=rules.describe(),
            audit=lambda release_dir: privacy_audit(
                release_dir, rules, jurisdiction.projected_crs, layers
            ),
        )
    build_serving_database(release.path, paths.serving)
    context.log.info(f"published release {release.release_id} to {release.path}")
    return MaterializeResult(
        metadata={
            "release_id": release.release_id,
            "path": MetadataValue.path(str(release.path)),
            "serving_database": MetadataValue.path(str(paths.serving)),
            "layers": MetadataValue.json(
                {layer["name"]: layer["rows"] for layer in release.manifest["layers"]}
            ),
        }
    )

"""The one Dagster ``Definitions`` of crimemap: sources → quality → dbt → publish.

``build_definitions`` makes them for a jurisdiction and a data directory, with nothing done at
import: each police source the jurisdiction lists becomes its own monthly-partitioned assets
and checks. ``defs`` is the code location ``dagster dev`` (``crimemap ui``) and every step
process load: the jurisdiction of ``CRIMEMAP_CONFIG`` (default the sample city) in the data
directory of ``CRIMEMAP_DATA_DIR``.
"""

import dagster as dg
from dagster import Definitions

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.config.paths import DataPaths, data_paths, export_environment
from crimemap.config.runtime import current_config
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.jurisdiction import jurisdiction_resource
from crimemap.orchestration.defs.police.assets import police_assets
from crimemap.orchestration.defs.police.assets import raw_key as police_raw_key
from crimemap.orchestration.defs.police.checks import police_checks
from crimemap.orchestration.defs.police.resources import feed_resource_key, police_feed
from crimemap.orchestration.defs.police.schedules import PIPELINE_JOB, incremental_schedule
from crimemap.orchestration.defs.policies import with_policies
from crimemap.orchestration.defs.publish.assets import published_release
from crimemap.orchestration.defs.quality.checks import source_checks
from crimemap.orchestration.defs.quality.mart_checks import mart_checks
from crimemap.orchestration.defs.quality.raw_checks import raw_source_checks
from crimemap.orchestration.defs.quality.reconcile import reconcile_checks
from crimemap.orchestration.defs.quality.repairs import repair_checks
from crimemap.orchestration.defs.quality.volume import volume_check
from crimemap.orchestration.defs.sources.assets import (
    raw_assets,
    raw_key,
    same_geography_units_asset,
    split_assets,
    split_source_names,
)
from crimemap.orchestration.defs.sources.resources import source_resources
from crimemap.orchestration.defs.sources.surveys import (
    RAW_SURVEYS,
    SURVEY_JOB,
    survey_assets,
    survey_inbox_sensor,
)
from crimemap.orchestration.defs.transform.assets import dbt_models, prepared_dbt_project
from crimemap.orchestration.defs.transform.resources import DbtCli
from crimemap.warehouse.dbt_server import client_executable


def build_definitions(config: JurisdictionConfig, paths: DataPaths) -> Definitions:
    """Every asset, check, job, schedule, sensor and resource of one jurisdiction's run."""
    export_environment(paths)  # dbt's profile reads the data directory from the environment
    dbt_project = prepared_dbt_project()
    landed_sources = [
        *((s.name, police_raw_key(s.name)) for s in config.police),
        *((name, raw_key(name)) for name in split_source_names(config)),
        ("surveys", RAW_SURVEYS),
    ]
    defs = Definitions(
        assets=[
            *police_assets(config),
            *raw_assets(config),
            *split_assets(config),
            *([] if config.indicators.units else [same_geography_units_asset()]),
            *survey_assets(config),
            dbt_models(dbt_project, config),
            published_release(config),
        ],
        asset_checks=[
            *police_checks(config),
            *source_checks(config),
            *raw_source_checks(config),
            *reconcile_checks(config),
            *repair_checks(config),
            *mart_checks(config),
            *(volume_check(name, key, config) for name, key in landed_sources),
        ],
        jobs=[PIPELINE_JOB, SURVEY_JOB],
        schedules=[incremental_schedule(config)],
        sensors=[survey_inbox_sensor(config)],
        resources={
            **source_resources(config, paths.sources),
            "jurisdiction": jurisdiction_resource(config),
            "data_dir": DataDirectory(root=str(paths.root)),
            "dbt": DbtCli(
                project_dir=str(dbt_project.project_dir),
                # dbt itself, or a `crimemap run`'s warm dbt process (warehouse/dbt_server.py)
                dbt_executable=str(client_executable()),
            ),
            **{
                feed_resource_key(s.name): police_feed(s, config, paths.sources)
                for s in config.police
            },
        },
    )
    return with_policies(defs, config)


@dg.definitions
def defs() -> Definitions:
    return build_definitions(current_config(), data_paths())

"""The one Dagster ``Definitions`` of crimemap: sources → quality → dbt → publish."""

from __future__ import annotations

from dagster import Definitions
from dagster_dbt import DbtCliResource

from orchestration.defs.jurisdiction import Jurisdiction
from orchestration.defs.publish.assets import published_release
from orchestration.defs.quality.assets import QUARANTINE_ASSETS
from orchestration.defs.quality.checks import QUALITY_CHECKS
from orchestration.defs.sources.assets import RAW_ASSETS
from orchestration.defs.sources.resources import source_files_from_env
from orchestration.defs.transform.assets import crimemap_dbt_models, dbt_project
from orchestration.settings import export_environment

export_environment()

defs = Definitions(
    assets=[*RAW_ASSETS, *QUARANTINE_ASSETS, crimemap_dbt_models, published_release],
    asset_checks=QUALITY_CHECKS,
    resources={
        "source_files": source_files_from_env(),
        "jurisdiction": Jurisdiction(),
        "dbt": DbtCliResource(project_dir=dbt_project),
    },
)

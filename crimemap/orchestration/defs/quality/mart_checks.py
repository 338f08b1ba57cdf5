"""Quality checks on the published marts: one blocking GX suite per dbt mart.

Each check reads its mart from the warehouse read-only, only the columns its suite names (geometry
as its type name, never as WKB; see ``crimemap.quality.mart_suites.mart_frame``), and runs the
suite. An ERROR failure blocks everything downstream of the mart, the published release included.
The diagnostic marts (``marts/quality``) have no suite: they report coverage, not a contract.
"""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetKey,
    asset_check,
)

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.core.duckdb_spatial import connect
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.quality.checks import validate_frame
from crimemap.quality.mart_registry import MartSuite, mart_suites
from crimemap.quality.mart_suites import mart_frame, read_columns


def mart_suite_check(mart: str, description: str, suite: MartSuite) -> AssetChecksDefinition:
    @asset_check(
        asset=AssetKey(["marts", mart]),
        name=f"{mart}_mart_suite",
        description=description,
        blocking=True,
    )
    def _check(context: AssetCheckExecutionContext, data_dir: DataDirectory) -> AssetCheckResult:
        paths = data_dir.paths
        spec = suite(paths.conformed_file("areas"))
        with connect(paths.warehouse, read_only=True) as con:
            frame = mart_frame(con, mart, read_columns(spec))
        return validate_frame(spec, frame, paths)

    return _check


def mart_checks(config: JurisdictionConfig) -> list[AssetChecksDefinition]:
    """One blocking GX suite per mart with a contract (``crimemap.quality.mart_registry``)."""
    return [
        mart_suite_check(mart, description, suite)
        for mart, (description, suite) in mart_suites(config).items()
    ]

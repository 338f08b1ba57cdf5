"""Quality checks on the published marts: one blocking GX suite per dbt mart, all in one step.

Each suite reads its mart from the warehouse read-only, only the columns it names (geometry as its
type name, never as WKB; see ``crimemap.quality.mart_suites.mart_frame``). The suites share one
step and one warehouse connection: as steps of their own they cost more in start-up and events
than in validation. Each is still its own check, and an ERROR failure of any of them blocks the
published release. The diagnostic marts (``marts/quality``) have no suite: they report coverage,
not a contract.
"""

from collections.abc import Iterator

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSpec,
    AssetKey,
    multi_asset_check,
)

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.config.paths import DataPaths
from crimemap.core.duckdb_spatial import connect
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.quality.checks import validate_frame
from crimemap.quality.mart_registry import MartSuite, mart_suites
from crimemap.quality.mart_suites import mart_frames


def mart_check_key(mart: str) -> AssetCheckKey:
    return AssetCheckKey(AssetKey(["marts", mart]), f"{mart}_mart_suite")


def mart_suite_result(
    con: duckdb.DuckDBPyConnection, paths: DataPaths, mart: str, suite: MartSuite
) -> AssetCheckResult:
    """The check result of ``mart``'s suite on its warehouse table (``con``: the warehouse)."""
    spec = suite(paths.conformed_file("areas"))
    result = validate_frame(spec, mart_frames(con, mart, spec), paths)
    key = mart_check_key(mart)
    return result._replace(asset_key=key.asset_key, check_name=key.name)


def mart_checks(config: JurisdictionConfig) -> list[AssetChecksDefinition]:
    """One blocking GX suite per mart with a contract (``crimemap.quality.mart_registry``)."""
    suites = mart_suites(config)
    specs = [
        AssetCheckSpec(
            mart_check_key(mart).name,
            asset=mart_check_key(mart).asset_key,
            description=description,
            blocking=True,
        )
        for mart, (description, _) in suites.items()
    ]

    @multi_asset_check(specs=specs, name="marts__mart_suites", can_subset=True)
    def mart_suite_checks(
        context: AssetCheckExecutionContext, data_dir: DataDirectory
    ) -> Iterator[AssetCheckResult]:
        paths = data_dir.paths
        selected = context.selected_asset_check_keys
        with connect(paths.warehouse, read_only=True) as con:
            for mart, (_, suite) in suites.items():
                if mart_check_key(mart) in selected:
                    yield mart_suite_result(con, paths, mart, suite)

    return [mart_suite_checks]

"""Quality checks on the published marts: one blocking GX suite per dbt mart, all in one step.

Each suite reads its mart from the warehouse read-only, only the columns it names (geometry as its
type name, never as WKB; see ``crimemap.quality.mart_suites.mart_frame``). The suites share one
step, and run in worker processes, as many at a time as there are cores
(``crimemap.quality.mart_validation``): as steps of their own they cost more in start-up and
events than in validation. Each is still its own check, and an ERROR failure of any of them
blocks the published release. The diagnostic marts (``marts/quality``) have no suite: they
report coverage, not a contract.
"""

from collections.abc import Iterator

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
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.quality.checks import suite_check_result
from crimemap.quality.mart_registry import mart_suites
from crimemap.quality.mart_validation import validate_marts
from crimemap.quality.report import write_index
from crimemap.quality.suites import SuiteOutcome


def mart_check_key(mart: str) -> AssetCheckKey:
    return AssetCheckKey(AssetKey(["marts", mart]), f"{mart}_mart_suite")


def mart_suite_result(mart: str, outcome: SuiteOutcome) -> AssetCheckResult:
    """The check result of ``mart``'s suite."""
    key = mart_check_key(mart)
    result = suite_check_result({outcome.suite: outcome})
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
        chosen = [
            (mart, suite(paths.conformed_file("areas")))
            for mart, (_, suite) in suites.items()
            if mart_check_key(mart) in selected
        ]
        outcomes = validate_marts(paths.warehouse, paths.quality, chosen)
        write_index(paths.quality / "data_docs", paths.quality / "validations")
        for (mart, _), outcome in zip(chosen, outcomes, strict=True):
            yield mart_suite_result(mart, outcome)

    return [mart_suite_checks]

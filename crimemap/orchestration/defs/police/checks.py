"""Police quality checks per source: the GX raw suite and the reconciliation of every load."""

import dagster as dg

from crimemap.config.jurisdiction import JurisdictionConfig, PoliceSource
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.orchestration.defs.police.assets import conformed_key, quarantine_key, raw_key
from crimemap.orchestration.defs.quality.checks import (
    jurisdiction_bbox,
    suite_check_result,
    validate,
    validate_frame,
)
from crimemap.orchestration.defs.quality.reconcile import reconciliation_result
from crimemap.quality.batches import rows_per_file_batch
from crimemap.quality.reconcile import reconcile_police_source
from crimemap.quality.suites import police_raw_suite, read_columns, read_partition_groups


def reconcile_check(source: PoliceSource) -> dg.AssetChecksDefinition:
    name = source.name

    @dg.asset_check(
        asset=dg.AssetKey(["marts", "fct_incidents"]),
        name=f"reconcile_police_{name}",
        additional_deps=[raw_key(name), quarantine_key(name), conformed_key(name)],
        description=f"{name}: raw rows = rows behind canonical offenses + quarantined rows.",
        blocking=True,
    )
    def _reconcile(
        context: dg.AssetCheckExecutionContext, data_dir: DataDirectory
    ) -> dg.AssetCheckResult:
        result, offenses = reconcile_police_source(name, data_dir.paths)
        return reconciliation_result(result, canonical_offenses=offenses)

    return _reconcile


def raw_suite_check(source: PoliceSource) -> dg.AssetChecksDefinition:
    name = source.name

    @dg.asset_check(
        asset=raw_key(name),
        name=f"police_{name}_raw_suite",
        additional_deps=[dg.AssetKey(["conformed", "areas"])],
        description=f"Great Expectations suite police_{name}_raw: the {source.layout.name} "
        "columns exactly, ids present, points inside the jurisdiction's extent.",
        blocking=True,
    )
    def _suite(
        context: dg.AssetCheckExecutionContext, data_dir: DataDirectory
    ) -> dg.AssetCheckResult:
        paths = data_dir.paths
        bbox = jurisdiction_bbox(paths)
        spec = police_raw_suite(source.layout, source=name, bbox=bbox)
        groups = read_partition_groups(
            paths.raw_police(name), read_columns(spec), batch_rows=rows_per_file_batch(spec)
        )
        if len(groups) == 1:  # one layout throughout: the suite's own label
            return validate_frame(spec, next(iter(groups.values())), paths)
        return suite_check_result(
            {f"months {months}": validate(spec, frame, paths) for months, frame in groups.items()}
        )

    return _suite


def police_checks(config: JurisdictionConfig) -> list[dg.AssetChecksDefinition]:
    checks: list[dg.AssetChecksDefinition] = []
    for source in config.police:
        checks += [reconcile_check(source), raw_suite_check(source)]
    return checks
